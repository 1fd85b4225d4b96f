# test/t/071_wal_max_age.pl: the replay worker gives up what is older than
# pylibmc_pg.invalidation_log_max_age, and says when its slot was lost.
#
# One node with wal_level = logical, the library preloaded and a replay
# worker for the database 'postgres'; one memcached, SIGSTOPped so that
# nothing can be delivered:
#   - a transaction older than the max age is given up: its keys are counted
#     in keys_given_up (exactly), the server log names them (and, while the
#     worker retried, said once that it could not replay them yet), the slot is
#     confirmed past it, and its keys stay stale once memcached is back;
#   - a younger transaction, committed after the give-up, is kept and
#     delivered once memcached is back;
#   - the worker holds its slot: it cannot be dropped under it;
#   - a slot the checkpointer invalidated (max_slot_wal_keep_size) is the
#     view's last_error and a WARNING, and the worker comes back with a new
#     slot that replays what the commit-time send misses.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use PmcFleet;
use PmcTest;

my $fleet = PmcFleet->new;
my $mc    = $fleet->memcached('age');
my $MC    = $mc->addr;
my $DB    = 'postgres';
my $AGE   = 3;
my $node  = pmc_wal_node('age', $MC, db => $DB, conf => ["pylibmc_pg.invalidation_log_max_age = $AGE"]);

sub qdb { return sql($node, $DB, [@_]); }

my $SLOT = 'pylibmc_pg_' . qdb("SELECT oid FROM pg_database WHERE datname = '$DB'");
ok( $node->poll_query_until(
		$DB, "SELECT pid IS NOT NULL AND slot_name = '$SLOT' FROM mc_invalidation_log"),
	'the replay worker runs with its slot')
  or BAIL_OUT('no replay worker: the rest would only time out');

# ---- older than the max age: given up ----
my @old   = map { "age:old:$_" } 1 .. 3;
my @young = map { "age:young:$_" } 1 .. 2;
qdb(map { "SELECT mc_set('$_', 'old')" } @old, @young);
my $given0 = qdb('SELECT keys_given_up FROM mc_invalidation_log');
my $logpos = -s $node->logfile;
$mc->pause;
my $out = sql(
	$node, $DB,
	[
		'BEGIN', (map { "SELECT mc_delete_on_commit('$_')" } @old),
		"SELECT 'before:' || pg_current_wal_insert_lsn()", 'COMMIT'
	]);
like($out, qr/WARNING:  could not delete 3 of 3 keys/, 'memcached stopped: the commit-time send fails');
my ($old_lsn) = $out =~ /before:(\S+)/;
my $slot_past = sub {
	return qdb("SELECT confirmed_flush_lsn > '$_[0]' FROM pg_replication_slots WHERE slot_name = '$SLOT'");
};
is($slot_past->($old_lsn), 'f', 'the slot is not confirmed past the undelivered transaction');
my $t0 = now_ms();
ok($node->poll_query_until($DB, "SELECT keys_given_up > $given0 FROM mc_invalidation_log"),
	'the worker gives the transaction up');
my $waited = now_ms() - $t0;
ok($waited >= ($AGE - 1) * 1000, "not before it is about $AGE s old") or diag("after $waited ms");
is(qdb('SELECT keys_given_up FROM mc_invalidation_log') - $given0, 3,
	'keys_given_up counts its 3 keys');
my $log = slurp_file($node->logfile, $logpos);
like($log, qr/WARNING:  pylibmc_pg: gave up 3 invalidations of transaction \d+, committed at /,
	'the server log names the keys given up');
like($log, qr/DETAIL:  They are older than pylibmc_pg.invalidation_log_max_age; the last failure: /,
	'and why');
my $yet = () = $log =~ /WARNING:  pylibmc_pg: could not replay the invalidations of transaction \d+ yet/g;
is($yet, 1, 'while it retried, the worker warned once that it could not replay it yet, not at each retry');
my $sends = () = $log =~ /could not delete 3 of 3 keys queued by mc_delete_on_commit/g;
is($sends, 1, 'the failed send is logged once, by the committing backend (the worker\'s retries are quiet)');
ok($node->poll_query_until($DB, "SELECT confirmed_flush_lsn > '$old_lsn' FROM pg_replication_slots WHERE slot_name = '$SLOT'"),
	'the slot is confirmed past the transaction given up');

# ---- younger: kept while memcached is stopped, then delivered ----
$out = sql(
	$node, $DB,
	[
		'BEGIN', (map { "SELECT mc_delete_on_commit('$_')" } @young),
		"SELECT 'before:' || pg_current_wal_insert_lsn()", 'COMMIT'
	]);
my ($young_lsn) = $out =~ /before:(\S+)/;
usleep(1_500_000);
is($slot_past->($young_lsn), 'f',
	'a younger transaction that cannot be delivered holds the slot');
$mc->resume;
ok( $node->poll_query_until(
		$DB, "SELECT count(*) = 0 FROM mc_get_multi(ARRAY['" . join("','", @young) . "'])"),
	'once memcached is back, the younger transaction is delivered');
ok($node->poll_query_until($DB, "SELECT confirmed_flush_lsn > '$young_lsn' FROM pg_replication_slots WHERE slot_name = '$SLOT'"),
	'and the slot confirmed past it');
is(qdb("SELECT string_agg(coalesce(mc_get(k), '<miss>'), ',') FROM unnest(ARRAY['" . join("','", @old) . "']) k"),
	'old,old,old', 'the keys given up are not sent again');
is(qdb('SELECT keys_given_up FROM mc_invalidation_log') - $given0, 3,
	'keys_given_up: still the 3 keys');

# ---- the worker holds its slot: it cannot be dropped under it ----
$out = sql($node, $DB, ["SELECT pg_drop_replication_slot('$SLOT')"]);
like($out, qr/is active for PID/, 'the worker\'s slot cannot be dropped while the worker runs');

# ---- a slot the checkpointer invalidated: said, and a new slot ----
# The worker never gives up (max age 0) and memcached is stopped: the slot
# holds the WAL back until max_slot_wal_keep_size invalidates it.
qdb("ALTER SYSTEM SET pylibmc_pg.invalidation_log_max_age = 0",
	"ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'", 'SELECT pg_reload_conf()');
qdb("SELECT mc_set('age:lost', 'old')");
$logpos = -s $node->logfile;
$mc->pause_stopped;
qdb("SELECT mc_delete_on_commit('age:lost')");
qdb('CREATE TABLE filler (x int)');
for (1 .. 4)
{
	qdb('INSERT INTO filler SELECT generate_series(1, 1000)', 'SELECT pg_switch_wal()');
}
qdb('CHECKPOINT');
ok( $node->poll_query_until(
		$DB, "SELECT last_error LIKE '%replication slot \"$SLOT\" was invalidated%lost%' FROM mc_invalidation_log"),
	'an invalidated slot is the view\'s last_error')
  or diag(qdb('SELECT last_error FROM mc_invalidation_log'));
like(slurp_file($node->logfile, $logpos),
	qr/WARNING:  pylibmc_pg: replication slot "\Q$SLOT\E" was invalidated/,
	'and a WARNING in the server log');
$mc->resume;
qdb("ALTER SYSTEM RESET pylibmc_pg.invalidation_log_max_age",
	'ALTER SYSTEM RESET max_slot_wal_keep_size', 'SELECT pg_reload_conf()');
ok( $node->poll_query_until(
		$DB, "SELECT pid IS NOT NULL FROM mc_invalidation_log WHERE EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = '$SLOT' AND wal_status <> 'lost' AND active)"),
	'the worker comes back with a new slot');
qdb("SELECT mc_set('age:after', 'old')");
$mc->pause_stopped;
qdb("SELECT mc_delete_on_commit('age:after')");
$mc->resume;
ok( $node->poll_query_until($DB, "SELECT mc_get('age:after') IS NULL"),
	'and the new slot replays what the commit-time send missed');
pmc_log_has_no_crash($node, 'the whole run');

$node->stop;
$fleet->stop_all;
done_testing();
