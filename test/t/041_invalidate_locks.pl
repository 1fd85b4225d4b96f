# test/t/041_invalidate_locks.pl: the commit-time send happens after the
# transaction's locks are released.
#
# Writer A updates a row (mc_invalidate queues its key for a memcached that
# is SIGSTOPped: the connection is accepted, nothing is answered, so the
# barrier waits the whole poll timeout, 3 s here).  Writer B updates the
# same row and waits on A's row lock; its own keys go to a healthy server.
# B must finish while A's COMMIT still waits on the stopped server (were the
# send made before the locks are released, B would finish only when A's
# COMMIT returned).  A's COMMIT still warns and commits, and still applies
# what it can before it returns.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use PmcFleet;
use PmcTest;

plan tests => 7;

my $fleet   = PmcFleet->new;
my $TCP     = $fleet->memcached('tcp')->addr;
my $stopped = $fleet->memcached('inval_locks', args => [ '-m', 16 ]);
my $STOPPED = $stopped->addr;
my $node    = pmc_node('locks', "pylibmc_pg.servers = '$TCP'");
my $DB      = 'pmc_inval_locks';
pmc_createdb($node, $DB);

sub qdb { return sql($node, $DB, [@_]); }

qdb("CREATE TABLE lk (id int PRIMARY KEY, v int);
   INSERT INTO lk VALUES (1, 0);
   CREATE TRIGGER lk_cache AFTER INSERT OR UPDATE OR DELETE ON lk
     FOR EACH ROW EXECUTE FUNCTION mc_invalidate('lk:{id}');");

$stopped->pause;

my $A = sql_start($node, $DB, [], quiet => 0,
	env   => { PGOPTIONS => "-c pylibmc_pg.servers=$STOPPED -c pylibmc_pg.behaviors=_poll_timeout=3000" },
	stdin => "BEGIN;\nUPDATE lk SET v = v + 1 WHERE id = 1;\nSELECT pg_sleep(1.5);\nCOMMIT;\n");

# B starts once A holds the row lock (A is in its pg_sleep) and waits on it
for (1 .. 100)
{
	last if qdb("SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(1.5);'") eq '1';
	usleep(50_000);
}
my $B = sql_start($node, $DB, ['UPDATE lk SET v = v + 10 WHERE id = 1'], quiet => 0,
	env => { PGOPTIONS => "-c pylibmc_pg.servers=$TCP" });

usleep(300_000);
is(qdb("SELECT wait_event_type FROM pg_stat_activity WHERE query LIKE 'UPDATE lk SET v = v + 10%'"),
	'Lock', "the second writer waits on the first one's row lock");
my ($b_out, $b_end) = $B->finish;
my ($a_out, $a_end) = $A->finish;
$stopped->resume;

diag('B finished ' . ($a_end - $b_end) . " ms before A's COMMIT returned");
between($a_end - $b_end, 1500, 100000,
	'the second writer finishes while the first COMMIT still waits on the stopped server (>= 1.5 s before it returns)');
like($b_out, qr/^UPDATE 1$/, "the second writer's UPDATE succeeded");
like($a_out, qr/WARNING:  could not delete 1 of 1 keys queued by mc_delete_on_commit/,
	'the first COMMIT warns that its delete is not known to be applied');
like($a_out, qr/COMMIT/, 'the first transaction committed');
is(qdb('SELECT v FROM lk WHERE id = 1'), '11', 'both updates are in the row');

# and the send still happens before COMMIT returns: a healthy server, a
# reader right after COMMIT sees no key
my $bad = 0;
for (1 .. 5)
{
	qdb("SET pylibmc_pg.servers = '$TCP'", "SELECT mc_set('lk:1', 'cached')");
	sql($node, $DB, ['UPDATE lk SET v = v + 1 WHERE id = 1'], env => { PGOPTIONS => "-c pylibmc_pg.servers=$TCP" });
	$bad++
	  unless sql($node, $DB, ["SELECT coalesce(mc_get('lk:1'), 'gone')"], quiet => 0,
		env => { PGOPTIONS => "-c pylibmc_pg.servers=$TCP" }) eq 'gone';
}
is($bad, '0', 'the deletes are applied when COMMIT returns (5 tries)');
