# test/t/060_lease_basic.pl: leases between sessions, over both protocols.
#   - mc_cached waits for another session's lease and returns its filler's
#     value without running its own query;
#   - the wait is bounded by pylibmc_pg.lease_wait (then the query runs and
#     nothing is filled: the other's lease stays) and interruptible
#     (statement_timeout ends it);
#   - a hold's tombstone is not waited on, and blocks claims while it lives;
#   - a lease broken by a hold's tombstone fails its fill;
#   - mc_cluster_stats (preloaded) counts lease, fill (misses: the stale
#     fills prevented) and the two kinds of refused fills apart.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use PmcFleet;
use PmcTest;

my $fleet = PmcFleet->new;
my $MC    = $fleet->memcached('lease_basic')->addr;
my $node  = pmc_node('lease_basic',
	"shared_preload_libraries = 'pylibmc_pg'\npylibmc_pg.servers = '$MC'");
my $DB = 'pmc_lease_basic';
pmc_createdb($node, $DB);

my $proto;    # 'off' or 'on': pylibmc_pg.binary_protocol of every session
sub env { return { PGOPTIONS => "-c pylibmc_pg.binary_protocol=$proto" }; }
sub q1 { return sql($node, $DB, [@_], env => env()); }
sub q1v { return sql($node, $DB, [@_], env => env(), verbose => 1); }
sub bg { return sql_start($node, $DB, [@_], env => env()); }

# wait until KEY holds a lease marker (another session's claim)
sub await_lease
{
	my ($key) = @_;
	for (1 .. 200)
	{
		return 1 if q1("SELECT value FROM mc_get_raw('$key')") eq '\x80024e2e';
		usleep(20_000);
	}
	return 0;
}

for my $each ('off', 'on')
{
	$proto = $each;
	my $p = $proto eq 'on' ? 'binary' : 'ascii';
	q1('SELECT mc_flush_all()');

	# a filler 400 ms after its claim: the waiter gets its value
	my $filler = bg(q{DO $$ DECLARE t bigint := mc_lease('lb:wait'); BEGIN
	  PERFORM pg_sleep(0.4); PERFORM mc_fill('lb:wait', 'theirs', t); END $$});
	ok(await_lease('lb:wait'), "$p: the filler holds the lease");
	my $t0 = now_ms();
	my $got = q1('SET pylibmc_pg.lease_wait = 5000', q{SELECT mc_cached('lb:wait', 'SELECT ''mine''')});
	my $ms = now_ms() - $t0;
	$filler->finish;
	is($got, 'theirs', "$p: mc_cached waited for the other lease and returned its filler's value");
	between($ms, 100, 3000, "$p: it returned once the filler had filled (ms)");

	# a filler that never fills: lease_wait bounds the wait
	my $stuck = bg(q{DO $$ DECLARE t bigint := mc_lease('lb:stuck', 30); BEGIN PERFORM pg_sleep(1.5); END $$});
	ok(await_lease('lb:stuck'), "$p: the stuck filler holds the lease");
	$t0  = now_ms();
	$got = q1('SET pylibmc_pg.lease_wait = 300', q{SELECT mc_cached('lb:stuck', 'SELECT ''mine''')});
	$ms  = now_ms() - $t0;
	is($got, 'mine', "$p: after lease_wait the query runs");
	between($ms, 250, 1400, "$p: after lease_wait, not before and not much later (ms)");
	is(q1("SELECT value FROM mc_get_raw('lb:stuck')"), '\x80024e2e',
		"$p: the query's value was not filled over the other session's lease");

	# interruptible: statement_timeout ends a long wait
	$t0  = now_ms();
	$got = q1v('SET pylibmc_pg.lease_wait = 60000', 'SET statement_timeout = 300',
		q{SELECT mc_cached('lb:stuck', 'SELECT ''mine''')});
	$ms = now_ms() - $t0;
	like($got, qr/ERROR:  57014: canceling statement due to statement timeout/,
		"$p: statement_timeout cancels the wait");
	between($ms, 250, 1400, "$p: the cancel took effect at once (ms)");
	$stuck->finish;

	# a hold's tombstone: no claim, no wait
	q1('SET pylibmc_pg.invalidation_hold = 30', q{SELECT mc_delete_on_commit('lb:held')});
	is(q1("SELECT value FROM mc_get_raw('lb:held')"), '\x4e2e', "$p: the commit left a tombstone");
	is(q1(q{SELECT mc_lease('lb:held') IS NULL}), 't', "$p: a tombstone blocks a claim");
	$t0  = now_ms();
	$got = q1('SET pylibmc_pg.lease_wait = 5000', q{SELECT mc_cached('lb:held', 'SELECT ''fresh''')});
	$ms  = now_ms() - $t0;
	is($got, 'fresh', "$p: under a tombstone mc_cached returns the query's value");
	cmp_ok($ms, '<', 1500, "$p: without waiting for the tombstone (${ms} ms)");
	is(q1("SELECT value FROM mc_get_raw('lb:held')"), '\x4e2e', "$p: and leaves the tombstone");

	# a lease broken by a hold's tombstone: the fill fails
	is( q1(q{SELECT set_config('lb.t', mc_lease('lb:broken')::text, false) <> ''},
			'SET pylibmc_pg.invalidation_hold = 30',
			q{SELECT mc_delete_on_commit('lb:broken')},
			q{SELECT mc_fill('lb:broken', 'read before the commit', current_setting('lb.t')::bigint)},
			q{SELECT value FROM mc_get_raw('lb:broken')}),
		"t\n\nf\n\\x4e2e", "$p: a commit's tombstone breaks the lease: the fill fails, the tombstone stays");

	# refused fills
	q1('CREATE TABLE IF NOT EXISTS lb_t (n int)');
	is( q1('BEGIN', 'INSERT INTO lb_t VALUES (1)', q{SELECT mc_lease('lb:w') IS NULL},
			q{SELECT mc_cached('lb:w', 'SELECT ''v''')}, 'COMMIT', q{SELECT mc_get('lb:w') IS NULL}),
		"t\nv\nt", "$p: a transaction that has written claims nothing and fills nothing");
	is( q1('BEGIN ISOLATION LEVEL REPEATABLE READ', q{SELECT mc_lease('lb:rr') IS NULL},
			q{SELECT mc_cached('lb:rr', 'SELECT ''v''')}, 'COMMIT', q{SELECT mc_get('lb:rr') IS NULL}),
		"t\nv\nt", "$p: REPEATABLE READ claims nothing and fills nothing");
}

# a server that is down, with on_error = ignore: the query's value at once,
# no wait for a lease that could not be claimed
{
	my $dead = '127.0.0.1:' . $fleet->free_port;
	my $t0   = now_ms();
	my $got  = sql($node, 'postgres',
		[ 'CREATE EXTENSION IF NOT EXISTS pylibmc_pg', "SET pylibmc_pg.servers = '$dead'",
			'SET pylibmc_pg.on_error = ignore', 'SET pylibmc_pg.lease_wait = 5000',
			q{SELECT mc_cached('lb:down', 'SELECT ''from the table''')} ]);
	my $ms = now_ms() - $t0;
	is($got, 'from the table', "server down, on_error = ignore: mc_cached returns the query's value");
	cmp_ok($ms, '<', 2500, "without waiting lease_wait (${ms} ms)");
}

# the whole cluster's counters: per protocol, 4 fills and a broken lease
my $stats = q1(q{SELECT string_agg(concat_ws(' ', operation, sum_calls, sum_hits, sum_misses), ', ' ORDER BY operation)
  FROM (SELECT operation, sum(calls) AS sum_calls, sum(hits) AS sum_hits, sum(misses) AS sum_misses
        FROM mc_cluster_stats WHERE datname = current_database()
         AND operation IN ('lease', 'fill', 'fill_refused_written', 'fill_refused_isolation')
        GROUP BY operation) s});
# lease: wait, stuck, held (miss), the mc_cached under the tombstone does
# not claim, broken; fill: wait (hit), broken (miss); refused: two each
is($stats, 'fill 4 2 2, fill_refused_isolation 4 0 4, fill_refused_written 4 0 4, lease 8 6 2',
	'mc_cluster_stats: claims, fills, broken leases (fill misses) and the refusals apart');

done_testing();
