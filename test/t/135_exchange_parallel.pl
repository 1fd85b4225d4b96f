# test/t/135_exchange_parallel.pl: no call talks to memcached from a
# parallel worker with settings other than the leader's.
#
# A wrapper labelled PARALLEL SAFE (SQL and PL/pgSQL) around mc_get runs in
# a parallel worker when the query is forced parallel (force_parallel_mode
# on 15, debug_parallel_query on 16+, no setup cost).  The leader has a
# namespace set and has not loaded the library: a worker that could not
# take over the leader's settings would talk to the built-in default
# 127.0.0.1:11211 with no namespace.  The answer must be the value under
# the leader's namespace, or an ERROR: never a decoy stored under the
# un-namespaced key (on the leader's server, and on a memcached started on
# 127.0.0.1:11211 when that port is free), and never an ERROR about the
# built-in default server.
use strict;
use warnings;

use IO::Socket::INET;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PmcFleet;
use PmcTest;

plan tests => 10;

my $fleet = PmcFleet->new;
my $TCP   = $fleet->memcached('tcp')->addr;
my $node  = pmc_node('parallel', "pylibmc_pg.servers = '$TCP'");
my $DB    = 'pmc_exch_parallel';
pmc_createdb($node, $DB);

sub qdb { return sql($node, $DB, [@_]); }

# 127.0.0.1:11211 free for TCP: nothing accepts a connection there
my $DEF;
if (!IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => 11211, Timeout => 1))
{
	my $p = $fleet->memcached('exch-parallel-default', port => 11211, args => [ '-m', 16 ], try => 1);
	$DEF = $p->addr if $p;
}
if ($DEF)
{
	diag("a memcached stands in for the built-in default server on $DEF");
	qdb("SET pylibmc_pg.servers = '$DEF'", "SELECT mc_set('pk', 'DECOY-default')");
}
else
{
	diag("127.0.0.1:11211 is taken: only the leader's server holds a decoy");
}
qdb("SET pylibmc_pg.servers = '$TCP'", "SELECT mc_set('pk', 'DECOY-no-namespace')");
qdb("SET pylibmc_pg.servers = '$TCP'", "SET pylibmc_pg.namespace = 'ns8:'", "SELECT mc_set('pk', 'right')");
qdb(q{CREATE FUNCTION w_sql(k text) RETURNS text PARALLEL SAFE LANGUAGE sql AS $$SELECT mc_get(k)$$},
	q{CREATE FUNCTION w_plpgsql(k text) RETURNS text PARALLEL SAFE LANGUAGE plpgsql AS $$BEGIN RETURN mc_get(k); END$$},
	q{CREATE TABLE pt AS SELECT 'pk'::text AS k}, 'ANALYZE pt');

# forced SQL [LOAD_FIRST]: in a fresh session with the leader's namespace
# set and the query forced parallel: the plan, then the result
sub forced
{
	my ($q, $load) = @_;
	return sql($node, $DB,
		[ "SET pylibmc_pg.servers = '$TCP'", "SET pylibmc_pg.namespace = 'ns8:'",
			"SELECT set_config(CASE WHEN current_setting('server_version_num')::int >= 160000 "
			  . "THEN 'debug_parallel_query' ELSE 'force_parallel_mode' END, 'on', false) IS NULL",
			'SET parallel_setup_cost = 0', 'SET parallel_tuple_cost = 0',
			'SET min_parallel_table_scan_size = 0', 'SET max_parallel_workers_per_gather = 2',
			($load ? ("SELECT mc_get('warm-up') IS NULL AS loaded") : ()),
			"EXPLAIN (COSTS OFF) $q", $q ],
		verbose => 1);
}

for my $case ([ 'w_sql', 0 ], [ 'w_plpgsql', 0 ], [ 'w_plpgsql', 1 ])
{
	my ($fn, $load) = @$case;
	my $label = $fn . ($load ? ', library loaded in the leader first' : '');
	my $out = forced("SELECT 'result=' || coalesce($fn(k), 'NULL') FROM pt", $load);
	like($out, qr/Gather/, "$label: the query is planned with a Gather (the wrapper runs in a worker)");
	my ($result) = $out =~ /^result=(.*)$/m;
	ok((defined $result && $result eq 'right') || (!defined $result && $out =~ /ERROR:/),
		"$label: the leader's value ('right') or an ERROR")
	  or diag('got result \'' . ($result // '') . "'; output: " . join(' | ', split /\n/, $out));
	unlike($out, qr/127\.0\.0\.1:11211/, "$label: nothing about the built-in default server 127.0.0.1:11211");
}
is(qdb("SET pylibmc_pg.servers = '$TCP'", "SET pylibmc_pg.namespace = 'ns8:'", "SELECT mc_get('pk')"),
	'right', "outside a parallel query the leader reads 'right'");
