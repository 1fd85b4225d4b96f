# test/t/072_wal_standby_promoted.pl: a streaming standby promoted before
# the replay worker delivered what the primary committed.
#
# A primary with the invalidation log on and a replay worker for 'postgres',
# a physical standby streaming from it (same postgresql.conf: the library
# preloaded, the database in pylibmc_pg.invalidation_log_databases), one
# memcached:
#   - on the standby, in recovery, no worker runs and there is no slot: the
#     primary's logical slot is on the primary only (PostgreSQL 13 to 16;
#     17's failover slots are not used);
#   - an invalidation committed on the primary while memcached is stopped,
#     replayed by the standby, then the primary stopped and the standby
#     promoted: the new primary's worker starts and creates its own slot,
#     from the promotion on; the invalidation is lost and the entry stays
#     stale once memcached is back (the limitation doc/invalidation-log.md
#     states);
#   - an invalidation committed on the new primary while memcached is
#     stopped is delivered by its worker once memcached is back.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use PmcFleet;
use PmcTest;

my $fleet   = PmcFleet->new;
my $mc      = $fleet->memcached('promote');
my $MC      = $mc->addr;
my $DB      = 'postgres';
my $primary = pmc_wal_node('primary', $MC, db => $DB, conf => [ 'max_wal_senders = 5', 'hot_standby = on' ]);

my $SLOT = 'pylibmc_pg_' . $primary->safe_psql($DB, "SELECT oid FROM pg_database WHERE datname = '$DB'");

# worker_runs NODE, LABEL: the node's worker runs with its slot
sub worker_runs
{
	my ($node, $label) = @_;
	return ok(
		$node->poll_query_until(
			$DB,
			"SELECT pid IS NOT NULL AND slot_name = '$SLOT'
			   AND EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = '$SLOT')
			   FROM mc_invalidation_log"),
		$label);
}

worker_runs($primary, 'the primary\'s worker runs with its slot')
  or BAIL_OUT('no replay worker: the rest would only time out');

$primary->backup('bk');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'bk', has_streaming => 1);
$standby->start;
my $plog = 0;
my $slog = 0;

sub qp { return sql($primary, $DB, [@_]); }
sub qs { return sql($standby, $DB, [@_]); }

is(qs('SELECT pg_is_in_recovery()'), 't', 'the standby is in recovery');
is(qs("SHOW pylibmc_pg.invalidation_log_databases"), $DB,
	'the standby serves the same database (its postgresql.conf is the primary\'s)');
is(qs("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$SLOT'"), '0',
	'the primary\'s logical slot is not on the standby');
is(qs('SELECT pid IS NULL, replay_lag_bytes IS NULL FROM mc_invalidation_log'), 't|t',
	'on the standby no worker runs (it starts when recovery ends)');

# ---- committed on the primary, not yet replayed, then the failover ----
qp("SELECT mc_set('promote:lost', 'old')", "SELECT mc_set('promote:after', 'old')");
ok($mc->pause_stopped, 'memcached is stopped');
like(qp("SELECT mc_delete_on_commit('promote:lost')"),
	qr/WARNING:  could not delete 1 of 1 keys/, 'on the primary, the commit-time send fails');
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
ok(1, 'the standby replayed the commit');
is($primary->safe_psql($DB, 'SELECT keys_resent FROM mc_invalidation_log'), '0',
	'the primary\'s worker could not deliver it yet');
$plog = pmc_log_has_no_crash($primary, 'the primary, before its stop', $plog);
$primary->stop('fast');
$standby->promote;
is(qs('SELECT pg_is_in_recovery()'), 'f', 'the standby is promoted');
worker_runs($standby, 'the new primary\'s worker starts and creates its own slot');
like(slurp_file($standby->logfile),
	qr/LOG:  pylibmc_pg: created logical replication slot "$SLOT" for the invalidation log of database "$DB"/,
	'its log says it created the slot');
$mc->resume;

# the new worker reads from its slot's start, after the lost commit: give
# it time to deliver anything it had, then look
my $tx = qs('SELECT transactions FROM mc_invalidation_log');
sleep 3;
is(qs("SELECT coalesce(mc_get('promote:lost'), '<miss>')"), 'old',
	'the invalidation committed before the promotion is lost: the entry stays stale');
is(qs('SELECT transactions, keys_resent FROM mc_invalidation_log'), "$tx|0",
	'the new worker replayed nothing from before its slot');

# ---- committed on the new primary: delivered ----
ok($mc->pause_stopped, 'memcached is stopped again');
like(qs("SELECT mc_delete_on_commit('promote:after')"),
	qr/WARNING:  could not delete 1 of 1 keys/, 'on the new primary, the commit-time send fails');
usleep(300_000);
$mc->resume;
ok($standby->poll_query_until($DB, "SELECT mc_get('promote:after') IS NULL"),
	'memcached back: the new primary\'s worker deletes the key');
is(qs('SELECT keys_resent FROM mc_invalidation_log'), '1', 'keys_resent counts it');

$slog = pmc_log_has_no_crash($standby, 'the standby, promoted', $slog);
$standby->stop;
$fleet->stop_all;
done_testing();
