# test/t/010_monitoring_cluster_stats.pl: the whole cluster's counters, on a
# node with shared_preload_libraries = 'pylibmc_pg' (doc/operations.md,
# "Monitoring").
#
#   - Sessions in two databases and as two roles make known numbers of
#     hits and misses (a memcached of this suite), errors (a port nothing
#     listens on, on_error = ignore) and failed commit-time deletes (a
#     private memcached, SIGSTOPped); two more sessions make 500 gets each
#     at the same time.  All of them have ended when a third role, a
#     pg_monitor member, reads mc_cluster_stats: it shows exactly those
#     numbers per (database, role, server, operation), the bytes each
#     backend's own mc_client_stats() counted, sane times, and the
#     stale-entry alarm sums the failed deletes.
#   - A role without pg_monitor is refused (42501), so is a reset by the
#     pg_monitor member until it is granted EXECUTE; a reset empties the
#     view and moves stats_reset.
#   - Restarted with pylibmc_pg.cluster_stats_max = 10: 24 distinct entries
#     leave 10, the most used survives, mc_cluster_stats_info counts the
#     14 evicted.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use PmcFleet;
use PmcTest;

plan tests => 29;

my $fleet = PmcFleet->new;
my $TCP   = $fleet->memcached('tcp')->addr;
my $DOWN  = '127.0.0.1:' . $fleet->free_port;
my $hung  = $fleet->memcached('hung', args => [ '-m', 16 ]);
my $HUNG  = $hung->addr;

my $node = pmc_node('cst',
	"shared_preload_libraries = 'pylibmc_pg'\npylibmc_pg.servers = '$TCP'");

# psql_as DB USER SQL...: the statements (psql -c each) in one session; stdout
# and stderr, SQLSTATEs shown
sub psql_as
{
	my ($db, $user, @stmts) = @_;
	return sql($node, $db, \@stmts, user => $user, verbose => 1);
}
sub su { return psql_as('cst_a', 'postgres', @_); }
sub lines { return split /\n/, $_[0], -1; }
sub flat { return ($_[0] =~ tr/\n/ /r) . ' '; }    # as | tr '\n' ' '

pmc_createdb($node, $_) for qw(cst_a cst_b);
psql_as('postgres', 'postgres', 'CREATE ROLE cst_r1 LOGIN', 'CREATE ROLE cst_r2 LOGIN',
	'CREATE ROLE cst_plain LOGIN', 'CREATE ROLE cst_mon LOGIN IN ROLE pg_monitor');
note "tcp $TCP, refused $DOWN, hung $HUNG (pid " . $hung->pid . ")";

# ---------- known traffic: two databases, two roles ----------

# cst_a as cst_r1: 3 stored sets, 4 hits and 2 misses
my $out = psql_as('cst_a', 'cst_r1',
	"SELECT mc_set('cst:a' || i, 'value-' || i) FROM generate_series(1, 3) i",
	"SELECT count(mc_get(k)) FROM unnest(ARRAY['cst:a1', 'cst:a2', 'cst:a3', 'cst:a1', 'cst:no1', 'cst:no2']) k",
	"SELECT operation || ' ' || bytes_sent || ' ' || bytes_received FROM mc_client_stats() ORDER BY 1");
is((lines($out))[3], 4, 'cst_a/cst_r1: 4 of 6 gets hit');
my $OWN_A1 = join "\n", (lines($out))[ -2, -1 ];
# cst_b as cst_r2: 2 hits, 3 misses
$out = psql_as('cst_b', 'cst_r2',
	"SELECT count(mc_get(k)) FROM unnest(ARRAY['cst:a2', 'cst:a3', 'cst:no1', 'cst:no2', 'cst:no3']) k",
	"SELECT operation || ' ' || bytes_sent || ' ' || bytes_received FROM mc_client_stats() ORDER BY 1");
is((lines($out))[0], 2, 'cst_b/cst_r2: 2 of 5 gets hit');
my $OWN_B2 = (lines($out))[-1];
# cst_b as cst_r1 (SET ROLE after the superuser's settings): 4 gets and
# 1 set to a refused server, on_error = ignore
$out = psql_as('cst_b', 'postgres', "SET pylibmc_pg.servers = '$DOWN'",
	'SET pylibmc_pg.on_error = ignore', 'SET ROLE cst_r1',
	"SELECT count(mc_get('cst:e' || i)) FROM generate_series(1, 4) i",
	"SELECT mc_set('cst:e', 'x')");
is($out, "0\nf", 'cst_b/cst_r1: gets and a set to a refused server fail quietly');

# failed commit-time deletes: 5 keys (cst_a, cst_r2), then 3 (cst_b, cst_r1)
$hung->pause;
sub dels
{
	my ($db, $role, $n) = @_;
	return psql_as($db, 'postgres', "SET pylibmc_pg.servers = '$HUNG'",
		"SET pylibmc_pg.behaviors = 'connect_timeout=300, _poll_timeout=300'",
		"SET ROLE $role", 'BEGIN',
		"SELECT count(mc_delete_on_commit('cst:d' || i)) FROM generate_series(1, $n) i",
		'COMMIT');
}
like(
	dels('cst_a', 'cst_r2', 5),
	qr/WARNING:  08[0-9A-Z]{3}: could not delete 5 of 5 keys queued by mc_delete_on_commit/,
	'cst_a/cst_r2: 5 commit-time deletes to a hung server fail (WARNING)');
like(dels('cst_b', 'cst_r1', 3), qr/could not delete 3 of 3 keys/, 'cst_b/cst_r1: 3 more fail');
$hung->resume;

# two sessions at once (cst_a, cst_r2): 500 hits each
my @par = map {
	sql_start($node, 'cst_a',
		["SELECT count(mc_get('cst:a1')) FROM generate_series(1, 500)"],
		user => 'cst_r2', verbose => 1)
} 1 .. 2;
is(join(' ', map { scalar $_->finish } @par), '500 500',
	'two concurrent sessions hit 500 times each');

# every writing backend has exited before the counters are read
my $gone = 0;
for (1 .. 100)
{
	my $n = su("SELECT count(*) FROM pg_stat_activity WHERE usename IN ('cst_r1', 'cst_r2') OR (usename = 'postgres' AND pid <> pg_backend_pid() AND backend_type = 'client backend')");
	if ($n eq '0') { $gone = 1; last; }
	usleep(100_000);
}
ok($gone, 'the sessions that made the traffic have ended');

# ---------- a third session reads them ----------

my $NAMES = "CASE server WHEN '$TCP' THEN 'tcp' WHEN '$DOWN' THEN 'refused' WHEN '$HUNG' THEN 'hung' ELSE server END";
my $ROWS = "SELECT concat_ws(' ', datname, rolname, $NAMES, operation, calls, hits, misses, errors)
FROM mc_cluster_stats ORDER BY datname, rolname, operation, server";
is(psql_as('cst_b', 'cst_mon', $ROWS), 'cst_a cst_r1 tcp get 6 4 2 0
cst_a cst_r1 tcp set 3 3 0 0
cst_a cst_r2 hung delete_on_commit 5 0 0 5
cst_a cst_r2 tcp get 1000 1000 0 0
cst_b cst_r1 hung delete_on_commit 3 0 0 3
cst_b cst_r1 refused get 4 0 0 4
cst_b cst_r1 refused set 1 0 0 1
cst_b cst_r2 tcp get 5 2 3 0',
	'a pg_monitor member reads exactly those calls, hits, misses and errors per database, role, server and operation');

# own DB ROLE OP: operation bytes_sent bytes_received, as mc_client_stats shows them
sub own
{
	my ($db, $role, $op) = @_;
	return psql_as('cst_a', 'cst_mon',
		"SELECT concat_ws(' ', operation, bytes_sent, bytes_received) FROM mc_cluster_stats
		WHERE datname = '$db' AND rolname = '$role' AND operation = '$op'");
}
is(own('cst_a', 'cst_r1', 'get') . "\n" . own('cst_a', 'cst_r1', 'set'), $OWN_A1,
	"... the bytes sent and received that the backend's own mc_client_stats() counted (cst_a/cst_r1)");
is(own('cst_b', 'cst_r2', 'get'), $OWN_B2, '... (cst_b/cst_r2)');
is( psql_as('cst_a', 'cst_mon',
		"SELECT bool_and(total_time_ms >= 0 AND min_time_ms >= 0 AND min_time_ms <= max_time_ms
		AND mean_time_ms BETWEEN min_time_ms - 1e-9 AND max_time_ms + 1e-9
		AND abs(mean_time_ms - total_time_ms / calls) < 1e-9 AND dbid IS NOT NULL AND userid IS NOT NULL)
	FROM mc_cluster_stats"),
	't', 'times: min <= mean <= max, mean = total / calls');
is( psql_as('cst_a', 'cst_mon',
		"SELECT round(sum(total_time_ms)) > 0 FROM mc_cluster_stats WHERE server = '$DOWN' OR operation = 'get'"),
	't', '... and time is counted');
is( psql_as('cst_a', 'cst_mon',
		"SELECT sum(errors) FROM mc_cluster_stats WHERE operation = 'delete_on_commit'"),
	8, 'the stale-entry alarm: sum(errors) for delete_on_commit is 8');
is(psql_as('cst_a', 'cst_mon', 'SELECT evicted FROM mc_cluster_stats_info'), 0, 'nothing was evicted');

# ---------- privileges and reset ----------

like(psql_as('cst_a', 'cst_plain', 'SELECT count(*) FROM mc_cluster_stats'),
	qr/^ERROR:  42501: permission denied for view mc_cluster_stats/,
	'a role without pg_monitor cannot read the view (42501)');
like(psql_as('cst_a', 'cst_plain', 'SELECT * FROM mc_cluster_stats()'),
	qr/^ERROR:  42501: permission denied for function mc_cluster_stats/, '... nor call the function');
like(psql_as('cst_a', 'cst_plain', 'SELECT * FROM mc_cluster_stats_info'),
	qr/^ERROR:  42501: permission denied for view mc_cluster_stats_info/, '... nor read the info view');
like(psql_as('cst_a', 'cst_mon', 'SELECT mc_cluster_stats_reset()'),
	qr/^ERROR:  42501: permission denied for function mc_cluster_stats_reset/,
	'a pg_monitor member cannot reset');
is(psql_as('cst_a', 'cst_mon', 'SELECT count(*) FROM mc_cluster_stats'), 8,
	'... so the counters are still there');

my $before = su('SELECT stats_reset FROM mc_cluster_stats_info');
su('GRANT EXECUTE ON FUNCTION mc_cluster_stats_reset() TO cst_mon');
is( psql_as('cst_a', 'cst_mon', 'SELECT mc_cluster_stats_reset()',
		'SELECT count(*) FROM mc_cluster_stats',
		"SELECT evicted || ' ' || (stats_reset > '$before') FROM mc_cluster_stats_info"),
	"\n0\n0 true", 'granted EXECUTE, it resets: the view is empty, stats_reset moves on');
# after the reset the counting starts again from 0 (the backends' cached entries are dropped)
psql_as('cst_b', 'cst_r2', "SELECT mc_get('cst:a1')", "SELECT mc_get('cst:a1')");
is(psql_as('cst_a', 'cst_mon', "SELECT concat_ws(' ', datname, rolname, calls, hits) FROM mc_cluster_stats"),
	'cst_b cst_r2 2 2', 'counting starts again after the reset');

# ---------- eviction: pylibmc_pg.cluster_stats_max = 10 ----------

$node->append_conf('postgresql.conf', 'pylibmc_pg.cluster_stats_max = 10');
$node->restart;
is(su('SHOW pylibmc_pg.cluster_stats_max'), 10, 'restarted with pylibmc_pg.cluster_stats_max = 10');
is(su('SELECT count(*) FROM mc_cluster_stats'), 0, 'the counters do not outlive the server');
# 12 operations as postgres (get first and 50 times: the most used), then
# the same 12 as cst_r1 (the last statement's mc_gets is its get): 24 entries
my @OPS = (
	"SELECT mc_set('cst:x', 1)", "SELECT mc_add('cst:y', 1)",
	"SELECT mc_replace('cst:x', 2)", "SELECT mc_append('cst:x', '0')",
	"SELECT mc_prepend('cst:x', '1')", "SELECT mc_incr('cst:x')",
	"SELECT mc_decr('cst:x')", "SELECT mc_touch('cst:x', 60)",
	"SELECT mc_delete('cst:y')", "SELECT count(*) FROM mc_get_multi(ARRAY['cst:x'])",
	"SELECT mc_cas('cst:x', 'v', (mc_gets('cst:x')).cas)");
is(flat(su("SELECT count(mc_get('cst:a1')) FROM generate_series(1, 50)", @OPS)),
	'50 t t t t t 121 120 t t 1 t ', '12 operations as postgres');
is(flat(su('SET ROLE cst_r1', @OPS)), 't t t t t 121 120 t t 1 t ',
	'the same 12 as cst_r1 (each once: an evicted entry is not made again)');
is(su('SELECT count(*) FROM mc_cluster_stats'), 10, '24 distinct entries leave 10');
is(su('SELECT evicted FROM mc_cluster_stats_info'), 14, 'mc_cluster_stats_info counts the 14 evicted');
between(su("SELECT calls FROM mc_cluster_stats WHERE rolname = 'postgres' AND operation = 'get'"),
	50, 51, "the most used entry (postgres' 50 gets, and mc_gets) was not evicted");
is(su('SELECT mc_cluster_stats_reset()', 'SELECT evicted FROM mc_cluster_stats_info'), "\n0",
	'a reset sets the eviction count back to 0');
