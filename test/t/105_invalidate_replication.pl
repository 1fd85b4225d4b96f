# test/t/105_invalidate_replication.pl: mc_invalidate on a logical
# replication subscriber, with a publication and a subscription in one
# node (wal_level = logical).
#
# The subscriber's tables carry the triggers: "r" the row form
# (FOR EACH ROW EXECUTE FUNCTION mc_invalidate), "s" the statement form
# (mc_invalidate_triggers).  An UPDATE and a DELETE on the publisher reach
# the subscriber through the apply worker, which runs with
# session_replication_role = replica:
#   - by default neither form fires there: the keys stay cached;
#   - after ALTER TABLE ... ENABLE ALWAYS TRIGGER, the row form fires in
#     the apply worker and its commit deletes the keys; the statement form
#     still never fires (PostgreSQL's apply worker fires no statement
#     triggers).  What to do on a subscriber is the row form with ENABLE
#     ALWAYS (doc/invalidation.md, "On a logical replication subscriber"),
#     and mc_invalidate_triggers says so in a WARNING when it is called on
#     a table a subscription writes, for a superuser and for the table's
#     owner.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use PmcFleet;
use PmcTest;

plan tests => 13;

my $fleet = PmcFleet->new;
my $TCP   = $fleet->memcached('tcp')->addr;
my $node  = pmc_node('replication', "wal_level = logical
max_replication_slots = 10
max_wal_senders = 10
max_logical_replication_workers = 4
pylibmc_pg.servers = '$TCP'");

# q1 DB SQL...: one session, each SQL a -c
sub q1 { my $db = shift; return sql($node, $db, [@_]); }

# wait_applied SQL WANT: until the subscriber's SQL returns WANT (30 s)
sub wait_applied
{
	my ($query, $want) = @_;
	for (1 .. 300)
	{
		return 1 if q1('sub', $query) eq $want;
		usleep(100_000);
	}
	return 0;
}

my $TABLES = "CREATE TABLE r (id int PRIMARY KEY, v text); CREATE TABLE s (id int PRIMARY KEY, v text);
        CREATE TABLE o (id int PRIMARY KEY); CREATE TABLE local (id int PRIMARY KEY);
        INSERT INTO r SELECT g, 'a' FROM generate_series(1, 4) g; INSERT INTO s SELECT g, 'a' FROM generate_series(1, 4) g";
q1('postgres', 'CREATE DATABASE pub', 'CREATE DATABASE sub');
q1('pub', $TABLES, 'CREATE PUBLICATION p FOR TABLE r, s, o',
	"SELECT 1 FROM pg_create_logical_replication_slot('sub', 'pgoutput')");
my ($host, $port) = ($node->host, $node->port);
my $out = q1('sub', $TABLES, 'CREATE EXTENSION pylibmc_pg',
	"CREATE TRIGGER r_cache AFTER INSERT OR UPDATE OR DELETE ON r
	   FOR EACH ROW EXECUTE FUNCTION mc_invalidate('repl:r:{id}')",
	"SELECT mc_invalidate_triggers('s', 'repl:s:{id}')",
	"CREATE SUBSCRIPTION sub CONNECTION 'host=$host port=$port dbname=pub user=postgres'
	   PUBLICATION p WITH (create_slot = false, slot_name = 'sub', copy_data = false)");
is($out, '', "a subscription in the same cluster, triggers on the subscriber's tables");

# ---- mc_invalidate_triggers on a table the subscription writes: a WARNING ----
# (called again now that the subscription exists; before it, nothing to say)
is(q1('sub', "SELECT mc_invalidate_triggers('s', 'repl:s:{id}')"),
	"WARNING:  the statement-level triggers of public.s will not fire for the rows a logical replication subscription writes
DETAIL:  The apply worker fires no statement-level triggers, even ENABLE ALWAYS ones; row-level triggers fire there only when enabled ALWAYS.
HINT:  On a subscriber, use the row form enabled ALWAYS: CREATE TRIGGER mc_invalidate_row AFTER INSERT OR UPDATE OR DELETE ON public.s FOR EACH ROW EXECUTE FUNCTION mc_invalidate('repl:s:{id}'); ALTER TABLE public.s ENABLE ALWAYS TRIGGER mc_invalidate_row;",
	'mc_invalidate_triggers on a subscribed table warns that its triggers will not fire there, and gives the row form with ENABLE ALWAYS'
);
is(q1('sub', "SELECT mc_invalidate_triggers('local', 'repl:l:{id}')"), '',
	'no warning for a table of the subscriber that no subscription writes');
# the table's owner, not a superuser: sees the same (pg_subscription_rel is
# readable by every role on 13 to 18)
q1('sub', 'CREATE ROLE repl_owner', 'ALTER TABLE o OWNER TO repl_owner');
$out = q1('sub', 'SET ROLE repl_owner', "SELECT has_table_privilege('pg_catalog.pg_subscription_rel', 'SELECT')",
	"SELECT mc_invalidate_triggers('o', 'repl:o:{id}')");
is(join("\n", (split /\n/, $out)[ 0 .. 1 ]),
	"t
WARNING:  the statement-level triggers of public.o will not fire for the rows a logical replication subscription writes",
	"the table's owner (not a superuser) reads pg_subscription_rel and gets the WARNING too");
is( q1('sub',
		"SELECT count(*) FROM pg_trigger WHERE tgrelid IN ('s'::regclass, 'o'::regclass) AND tgname LIKE 'mc_invalidate_%'"),
	'6',
	'the triggers are created all the same (they fire for the subscriber\'s own writes)');

# cache KEYS...: the subscriber's session caches them; cached KEYS...: which are
sub keys_array { return 'ARRAY[' . join(', ', map { "'$_'" } @_) . ']'; }
sub cache { q1('sub', 'SELECT count(mc_set(k, \'stale\')) FROM unnest(' . keys_array(@_) . ') k'); return; }
sub cached
{
	return q1('sub',
		"SELECT coalesce(string_agg(key, ' ' ORDER BY key), '') FROM mc_get_multi(" . keys_array(@_) . ')');
}

# ---- by default, neither form fires in the apply worker ----
cache(qw(repl:r:1 repl:r:2 repl:s:1 repl:s:2));
q1('pub', "UPDATE r SET v = 'b' WHERE id = 1", "UPDATE s SET v = 'b' WHERE id = 1",
	'DELETE FROM r WHERE id = 2', 'DELETE FROM s WHERE id = 2');
ok( wait_applied(
		"SELECT string_agg(id || v, ',' ORDER BY id) FROM (SELECT * FROM r UNION ALL SELECT * FROM s) t",
		'1b,1b,3a,3a,4a,4a'),
	'the UPDATE and the DELETE reached the subscriber');
is(cached(qw(repl:r:1 repl:r:2 repl:s:1 repl:s:2)), 'repl:r:1 repl:r:2 repl:s:1 repl:s:2',
	'by default neither form fires in the apply worker: every key stays cached');

# ---- ENABLE ALWAYS: the row form fires, the statement form does not ----
$out = q1('sub', 'ALTER TABLE r ENABLE ALWAYS TRIGGER r_cache',
	'ALTER TABLE s ENABLE ALWAYS TRIGGER mc_invalidate_insert',
	'ALTER TABLE s ENABLE ALWAYS TRIGGER mc_invalidate_update',
	'ALTER TABLE s ENABLE ALWAYS TRIGGER mc_invalidate_delete');
is($out, '', 'ENABLE ALWAYS TRIGGER on both tables');
cache(qw(repl:r:3 repl:r:4 repl:r:5 repl:s:3 repl:s:4));
q1('pub', "UPDATE r SET v = 'c' WHERE id = 3", "UPDATE s SET v = 'c' WHERE id = 3",
	'DELETE FROM r WHERE id = 4', 'DELETE FROM s WHERE id = 4', "INSERT INTO r VALUES (5, 'new')");
ok( wait_applied(
		"SELECT string_agg(id || v, ',' ORDER BY id) FROM (SELECT * FROM r UNION ALL SELECT * FROM s) t",
		'1b,1b,3c,3c,5new'),
	'the second UPDATE, DELETE and INSERT reached the subscriber');
# the rows are visible once the commit record is written; the deletes are
# sent just after: wait for them.  The publisher's statements are applied
# in order, so once the INSERT's key is gone, the statement form's
# transactions, before it, have committed too.
for (1 .. 100)
{
	last if cached(qw(repl:r:3 repl:r:4 repl:r:5)) eq '';
	usleep(100_000);
}
is(cached(qw(repl:r:3 repl:r:4 repl:r:5)), '',
	"ENABLE ALWAYS: the row form fires in the apply worker; its commit deleted the UPDATE's, DELETE's and INSERT's keys");
is(cached(qw(repl:s:3 repl:s:4)), 'repl:s:3 repl:s:4',
	'the statement form never fires in the apply worker, even ENABLE ALWAYS: its keys stay cached');
my $log = join "\n", grep { /ERROR|WARNING/ } split /\n/, slurp_file($node->logfile);
unlike($log, qr/mc_invalidate|memcached/, 'no error or warning from the apply worker');

q1('sub', 'DROP SUBSCRIPTION sub');
is(q1('postgres', 'SELECT 1'), '1', 'the node still answers');
