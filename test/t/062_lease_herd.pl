# test/t/062_lease_herd.pl: one filler per missing key.  32 sessions call
# mc_cached on one missing key whose query takes 100 ms: the query runs
# once (at most twice), and every session returns the value.  The same
# herd filling with mc_get + query + mc_add runs the query in every
# session.  The query's executions are counted in memcached itself (the
# query increments a counter: mc_incr writes nothing to the database, so
# the fill is not refused).  Over both protocols.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PmcFleet;
use PmcTest;

my $N     = 32;
my $fleet = PmcFleet->new;
my $MC    = $fleet->memcached('lease_herd', args => [ '-c', 256 ])->addr;
my $node  = pmc_node('lease_herd', "pylibmc_pg.servers = '$MC'\nmax_connections = 60");
my $DB    = 'pmc_lease_herd';
pmc_createdb($node, $DB);

sql($node, $DB, [q{CREATE TABLE herd (id int PRIMARY KEY, v text);
  INSERT INTO herd VALUES (1, 'the value');
  CREATE FUNCTION herd_plain() RETURNS text LANGUAGE plpgsql AS $$
  DECLARE v text;
  BEGIN
    v := mc_get('herd:plain');
    IF v IS NULL THEN
      SELECT h.v INTO v FROM herd h, pg_sleep(0.1), mc_incr('herd:runs') WHERE id = 1;
      PERFORM mc_add('herd:plain', v);
    END IF;
    RETURN v;
  END $$;}]);

# herd CALL PROTO: N sessions started together, each running CALL once;
# their answers and the query's executions
sub herd
{
	my ($call, $proto) = @_;
	my $env = { PGOPTIONS => "-c pylibmc_pg.binary_protocol=$proto -c pylibmc_pg.lease_wait=5000" };
	sql($node, $DB, [ 'SELECT mc_flush_all()', q{SELECT mc_set('herd:runs', 0::bigint)} ], env => $env);
	# each session waits for the same start (a file's mtime would do too;
	# an advisory lock held by this script is simplest)
	my $gate = sql_start($node, $DB, [ 'SELECT pg_advisory_lock(42)', 'SELECT pg_sleep(1.5)' ]);
	usleep_until_locked();
	my @s = map {
		sql_start($node, $DB,
			[ 'SELECT pg_advisory_lock_shared(42)', 'SELECT pg_advisory_unlock_shared(42)', $call ],
			env => $env)
	} 1 .. $N;
	$gate->finish;
	my %answers;
	$answers{ (split /\n/, $_->finish)[-1] // '' }++ for @s;
	my $runs = sql($node, $DB, [q{SELECT mc_get('herd:runs')}], env => $env);
	return (\%answers, $runs);
}

sub usleep_until_locked
{
	for (1 .. 100)
	{
		return if sql($node, $DB, ["SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"]) > 0;
		select(undef, undef, undef, 0.02);
	}
	die 'the gate was never locked';
}

for my $proto ('off', 'on')
{
	my $p = $proto eq 'on' ? 'binary' : 'ascii';
	my ($answers, $runs) = herd(
		q{SELECT mc_cached('herd:cached', 'SELECT h.v FROM herd h, pg_sleep(0.1), mc_incr(''herd:runs'') WHERE id = $1', ARRAY['1'])},
		$proto);
	is_deeply($answers, { 'the value' => $N }, "$p: all $N sessions returned the value with mc_cached");
	between($runs, 1, 2, "$p: the query ran once (at most twice) for $N sessions");
	diag("$p: mc_cached, $N sessions: the query ran $runs time(s)");

	($answers, $runs) = herd('SELECT herd_plain()', $proto);
	is_deeply($answers, { 'the value' => $N }, "$p: all $N sessions returned the value with mc_get + mc_add");
	between($runs, 3, $N, "$p: without a lease most sessions ran the query");
	diag("$p: mc_get + query + mc_add, $N sessions: the query ran $runs times");
}

done_testing();
