# test/t/073_wal_plugin_not_trusted.pl: the replay worker on a server whose
# output_plugin_libraries (the minors that list the trusted output plugins)
# does not name pylibmc_pg.
#
# One node with wal_level = logical, the library preloaded and a replay
# worker for 'postgres', output_plugin_libraries left at its default; one
# memcached:
#   - the worker cannot create its slot: the server log says why (the
#     library may not be used as an output plugin, and the setting to add it
#     to), and so does mc_invalidation_log's last_error;
#   - it does not spin: it is started again every 5 s (bgw_restart_time),
#     the server's processes use little CPU meanwhile, nothing crashes;
#   - an invalidation committed meanwhile with memcached stopped is not
#     replayed (there is no slot to keep it): the entry stays stale;
#   - pylibmc_pg added to the list and the configuration reloaded: the
#     worker creates its slot and delivers what commits from then on.
# On a server without the setting the suite is skipped.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use PmcFleet;
use PmcTest;

plan skip_all => 'this PostgreSQL has no output_plugin_libraries'
  unless pmc_output_plugin_conf();

my $fleet = PmcFleet->new;
my $mc    = $fleet->memcached('trust');
my $MC    = $mc->addr;
my $DB    = 'postgres';
# the output plugin not listed in output_plugin_libraries
my $node  = pmc_wal_node('trust', $MC, db => $DB, plugin_conf => 0);

sub qdb { return sql($node, $DB, [@_]); }

# poll SECONDS, SQL: true once SQL returns t
sub poll { return pmc_poll($node, $DB, @_); }

my $SLOT = 'pylibmc_pg_' . qdb("SELECT oid FROM pg_database WHERE datname = '$DB'");
is(qdb('SHOW output_plugin_libraries'), 'pgoutput, test_decoding',
	'output_plugin_libraries does not name pylibmc_pg');

# ---- the worker's error: the server log and the view ----
my $refused = qr/ERROR:  library "pylibmc_pg" may not be used as an output plugin/;
my $t0 = now_ms();
my $seen;
while (now_ms() - $t0 < 20_000)
{
	$seen = slurp_file($node->logfile) =~ $refused;
	last if $seen;
	usleep(100_000);
}
ok($seen, 'the server log: the library may not be used as an output plugin');
like(slurp_file($node->logfile),
	qr/$refused.*\n.*DETAIL:  The configuration parameter "output_plugin_libraries" \(currently 'pgoutput, test_decoding'\) does not name this library/,
	'with the setting to change in its detail');
# (the worker has tried at least once: 15 s is three tries)
ok( poll(15, "SELECT last_error LIKE '%library \"pylibmc_pg\" may not be used as an output plugin%'
		        AND last_error_time IS NOT NULL FROM mc_invalidation_log"),
	'mc_invalidation_log: last_error says the library may not be used as an output plugin')
  or diag('view: ' . qdb('SELECT pid, slot_name, last_error, last_error_time FROM mc_invalidation_log'));
is(qdb("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$SLOT'"), '0', 'no slot was created');

# ---- it retries every 5 s, without spinning ----
# the postmaster's CPU time, its reaped children's included (clock ticks)
sub cluster_cpu_ticks
{
	my $pid = $node->{_pid};
	open my $fh, '<', "/proc/$pid/stat" or return undef;
	my $stat = <$fh>;
	$stat =~ s/^.*\)\s+//;
	my @f = split / /, $stat;
	# utime stime cutime cstime: fields 14..17 of stat, 12..15 after the name
	my $t = $f[11] + $f[12] + $f[13] + $f[14];
	# and the processes still running
	for my $child (glob('/proc/[0-9]*/stat'))
	{
		open my $c, '<', $child or next;
		my $s = <$c> // next;
		$s =~ s/^(\d+) .*\)\s+//s or next;
		my @g = split / /, $s;
		$t += $g[11] + $g[12] if $g[1] == $pid;
	}
	return $t;
}
my $log0   = -s $node->logfile;
my $cpu0   = cluster_cpu_ticks();
my $wall0  = now_ms();
sleep 16;
my $cpu1   = cluster_cpu_ticks();
my $wall   = (now_ms() - $wall0) / 1000;
my $tries  = () = slurp_file($node->logfile, $log0) =~ /$refused/g;
between($tries, 2, 4, "the worker is started again every 5 s ($tries times in ${wall}s), not in a loop");
my $hz  = `getconf CLK_TCK` + 0 || 100;
my $cpu = ($cpu1 - $cpu0) / $hz;
ok($cpu < 0.15 * $wall, "the server's processes used little CPU meanwhile (${cpu}s in ${wall}s)");
is(qdb('SELECT pid IS NULL FROM mc_invalidation_log'), 't', 'the view shows no worker running');

# ---- an invalidation committed meanwhile is not replayed ----
qdb("SELECT mc_set('trust:before', 'old')");
$mc->pause_stopped;
like(sql($node, $DB, [ "SELECT mc_delete_on_commit('trust:before')" ]),
	qr/WARNING:  could not delete 1 of 1 keys/, 'memcached stopped: the commit-time send fails');
$mc->resume;

# ---- pylibmc_pg listed, the configuration reloaded ----
$node->append_conf('postgresql.conf', pmc_output_plugin_conf());
$node->reload;
ok( $node->poll_query_until(
		$DB, "SELECT pid IS NOT NULL AND slot_name = '$SLOT'
		        AND EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = '$SLOT')
		        FROM mc_invalidation_log"),
	'pylibmc_pg listed and reloaded: the worker runs with its slot, without a restart');
qdb("SELECT mc_set('trust:after', 'old')");
$mc->pause_stopped;
like(sql($node, $DB, [ "SELECT mc_delete_on_commit('trust:after')" ]),
	qr/WARNING:  could not delete 1 of 1 keys/, 'memcached stopped again: the commit-time send fails');
usleep(300_000);
$mc->resume;
ok($node->poll_query_until($DB, "SELECT mc_get('trust:after') IS NULL"),
	'memcached back: the worker deletes the key committed after its slot was made');
is(qdb("SELECT coalesce(mc_get('trust:before'), '<miss>')"), 'old',
	'the key committed before there was a slot stays stale (nothing kept it)');
is(qdb('SELECT keys_resent FROM mc_invalidation_log'), '1', 'keys_resent: the one key');

pmc_log_has_no_crash($node, 'plugin not trusted');

$node->stop;
$fleet->stop_all;
done_testing();
