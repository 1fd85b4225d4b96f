# test/t/070_wal_replay.pl: the invalidation log (pylibmc_pg.invalidation_log)
# replays from the WAL what the commit-time send could not deliver.
#
# One node with wal_level = logical, the library preloaded and a replay
# worker for the database 'postgres'; one memcached, SIGSTOPped to make the
# commit-time send fail.  Each proof leaves a stale entry without the log:
#   - memcached stopped across a COMMIT: the WARNING, then the key is gone
#     within 2 s of SIGCONT;
#   - the committing backend SIGKILLed in its send (after its commit
#     record): after the restart the key is gone;
#   - the server stopped with -m immediate after a batch of commits: every
#     committed key is gone after the restart; the keys of a rolled-back
#     transaction and of a rolled-back savepoint are untouched;
#   - memcached up: what the backends delivered is not sent again (the
#     view counts the keys delivered, none resent);
#   - the setting is refused, naming wal_level, unless wal_level = logical.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use PmcFleet;
use PmcTest;

my $fleet = PmcFleet->new;
my $mc    = $fleet->memcached('wal');
my $MC    = $mc->addr;
my $DB    = 'postgres';
my $node  = pmc_wal_node('wal', $MC, db => $DB, conf => ['restart_after_crash = on']);

sub qdb { return sql($node, $DB, [@_]); }

sub value
{
	my ($key) = @_;
	return qdb("SELECT coalesce(mc_get('$key'), '<miss>')");
}

# wait_gone SECONDS, KEYS...: ms until every key is a miss, or undef
sub wait_gone
{
	my ($secs, @keys) = @_;
	my $t0 = now_ms();
	my $list = join(',', map { "'$_'" } @keys);
	while (now_ms() - $t0 < $secs * 1000)
	{
		my $left = qdb("SELECT count(*) FROM mc_get_multi(ARRAY[$list])");
		return now_ms() - $t0 if defined $left && $left eq '0';
		usleep(50_000);
	}
	return undef;
}

sub wait_worker
{
	ok( $node->poll_query_until(
			$DB,
			"SELECT pid IS NOT NULL AND slot_name = 'pylibmc_pg_' || (SELECT oid FROM pg_database WHERE datname = '$DB')
			   FROM mc_invalidation_log"),
		"the replay worker runs with its slot ($_[0])") or return 0;
	return 1;
}

wait_worker('at start') or BAIL_OUT('no replay worker: the rest would only time out');

# ---- memcached stopped across a COMMIT ----
qdb("SELECT mc_set('wal:stop', 'old')");
$mc->pause;
my $out = sql($node, $DB,
	[ 'BEGIN', "SELECT mc_delete_on_commit('wal:stop')", 'COMMIT' ]);
like($out, qr/WARNING:  could not delete 1 of 1 keys queued by mc_delete_on_commit/,
	'stopped memcached: the commit-time send warns, as without the log');
usleep(500_000);
$mc->resume;
my $ms = wait_gone(10, 'wal:stop');
ok(defined $ms && $ms <= 2000, 'the key is gone within 2 s of SIGCONT')
  or diag('took: ' . ($ms // 'more than 10 s') . ' ms');

# ---- memcached up: no double work ----
my ($d0, $r0) = split /\|/,
  qdb('SELECT keys_delivered, keys_resent FROM mc_invalidation_log');
my $tx0 = qdb('SELECT transactions FROM mc_invalidation_log');
qdb(map { "SELECT mc_delete_on_commit('wal:steady:$_'), mc_delete_on_commit('wal:steady2:$_')" } 1 .. 30);
ok($node->poll_query_until($DB, "SELECT transactions >= $tx0 + 30 FROM mc_invalidation_log"),
	'the worker read the 30 transactions');
my ($d1, $r1) = split /\|/,
  qdb('SELECT keys_delivered, keys_resent FROM mc_invalidation_log');
is($d1 - $d0, 60, 'the 60 keys the backends delivered are counted delivered');
is($r1 - $r0, 0, 'and none of them is sent again');

# ---- the committing backend killed in its send ----
my $logpos = pmc_log_has_no_crash($node, 'before the SIGKILL');
qdb('CREATE TABLE sender (pid int)', "SELECT mc_set('wal:kill', 'old')");
$mc->pause;
my $h = sql_start(
	$node, $DB,
	[
		"SET pylibmc_pg.behaviors = '_poll_timeout=30000, connect_timeout=300'",
		'BEGIN',
		'INSERT INTO sender SELECT pg_backend_pid()',
		"SELECT mc_delete_on_commit('wal:kill')",
		'COMMIT'
	]);
my $pid;
for (1 .. 200)
{
	$pid = qdb('SELECT pid FROM sender');
	last if $pid;
	usleep(50_000);
}
ok($pid, 'the transaction committed (its row is visible) while its send waits')
  or BAIL_OUT('the session did not commit');
usleep(300_000);
kill 'KILL', $pid if $pid;
$h->finish;
$mc->resume;
ok($node->poll_query_until($DB, 'SELECT true'), 'the server restarted after the SIGKILL');
$ms = wait_gone(20, 'wal:kill');
ok(defined $ms, 'after the restart, the key of the killed backend is gone')
  or diag(value('wal:kill'));

# ---- the server crashes after a batch of commits ----
wait_worker('after the SIGKILL');
# what follows the restart: no process may crash any more
$logpos = -s $node->logfile;
my @committed = map { "wal:crash:$_" } 1 .. 20;
my @kept = ('wal:rollback:1', 'wal:rollback:2', 'wal:savepoint:drop');
qdb(map { "SELECT mc_set('$_', 'old')" } @committed, @kept, 'wal:savepoint:keep');
$mc->pause;
$out = sql(
	$node, $DB,
	[
		(map { "SELECT mc_delete_on_commit('$_')" } @committed),
		'BEGIN', "SELECT mc_delete_on_commit('wal:rollback:1')",
		"SELECT mc_delete_on_commit('wal:rollback:2')", 'ROLLBACK',
		'BEGIN', "SELECT mc_delete_on_commit('wal:savepoint:keep')",
		'SAVEPOINT a', "SELECT mc_delete_on_commit('wal:savepoint:drop')",
		'ROLLBACK TO a', 'COMMIT'
	]);
my $warnings = () = $out =~ /WARNING:  could not delete/g;
is($warnings, 21, 'with memcached stopped, each of the 21 commits warned');
$node->stop('immediate');
$mc->resume;
$node->start;
$ms = wait_gone(20, @committed, 'wal:savepoint:keep');
ok(defined $ms, 'after the crash and restart, every committed key is gone');
is(qdb("SELECT string_agg(coalesce(mc_get(k), '<miss>'), ',') FROM unnest(ARRAY['"
		  . join("','", @kept) . "']) k"),
	'old,old,old',
	'the keys of the rolled-back transaction and savepoint are untouched');

# ---- the view after the replay ----
like(qdb('SELECT database, replay_lag_bytes >= 0, keys_resent >= 21, last_error IS NULL FROM mc_invalidation_log'),
	qr/^postgres\|t\|t\|t$/, 'mc_invalidation_log: the slot, its lag, the keys resent');

# ---- the setting needs wal_level = logical ----
my $plain = pmc_node('walplain', "pylibmc_pg.servers = '$MC'");
$plain->safe_psql($DB, 'CREATE EXTENSION pylibmc_pg');
like(sql($plain, $DB, [ "LOAD 'pylibmc_pg'", 'SET pylibmc_pg.invalidation_log = on' ], verbose => 1),
	qr/ERROR:  55000: pylibmc_pg.invalidation_log requires wal_level = logical.*wal_level is "(minimal|replica)"/s,
	'invalidation_log is refused, naming wal_level, unless wal_level = logical');
$plain->stop;

pmc_log_has_no_crash($node, 'since the restart after the SIGKILL', $logpos);

$node->stop;
$fleet->stop_all;
done_testing();
