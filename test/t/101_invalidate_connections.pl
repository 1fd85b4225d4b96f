# test/t/101_invalidate_connections.pl: how many connections a backend
# keeps to one memcached server (doc/operations.md sizes memcached's -c
# from it).
#
# A memcached of this file's own, so that every established connection to
# it is this test's.  One session commits invalidations under six
# namespaces in turn (SET LOCAL pylibmc_pg.namespace, then
# mc_delete_on_commit), in the text protocol, then in the binary protocol;
# between its transactions, the backend holds at most two connections to
# the server (its client, and the commit-time batch's client of the last
# configuration used).  One transaction that queues keys under six
# namespaces opens more while it commits; they are closed again when it
# ends.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PmcFleet;
use PmcTest;

plan tests => 8;

my $fleet = PmcFleet->new;
my $TCP   = $fleet->memcached('tcp')->addr;
my $mc    = $fleet->memcached('inval-conns', args => [ '-m', 16 ]);
my $MC    = $mc->addr;
my $PORT  = $mc->port;
my $node  = pmc_node('connections', "pylibmc_pg.servers = '$TCP'");
my $DB    = 'pmc_inval_conns';
pmc_createdb($node, $DB);

# conns: established connections to the private server (its side)
sub conns
{
	my $out = `ss -Htn state established '( sport = :$PORT )'`;
	return scalar(() = $out =~ /^.+$/mg);
}

my $s = pmc_session($node, $DB);
$s->query("SET pylibmc_pg.servers = '$MC'");
is($s->query("SELECT mc_set('c:k', 'v')"), 't', 'the session reaches the private server');
is(conns(), 1, "one connection for the session's client");

# six transactions, one namespace each
sub six_namespaces
{
	$s->query("BEGIN; SET LOCAL pylibmc_pg.namespace = 'ns$_:'; SELECT mc_set('k', 'v'); "
		  . "SELECT mc_delete_on_commit('k'); COMMIT")
	  for 1 .. 6;
	return;
}
six_namespaces();
my $n = conns();
diag("text protocol, after six transactions under six namespaces: $n connections");
between($n, 1, 2, 'text protocol: at most two connections between transactions, after six namespaces');
is($s->query("SELECT count(*) FROM generate_series(1, 6) i WHERE mc_get('ns' || i || ':k') IS NULL"),
	'6', "every namespace's key was deleted at its commit");

$s->query('SET pylibmc_pg.binary_protocol = on');
six_namespaces();
$n = conns();
diag("binary protocol, after six transactions under six namespaces: $n connections");
between($n, 1, 2, 'binary protocol: at most two connections between transactions, after six namespaces');
$s->query('RESET pylibmc_pg.binary_protocol');

# one transaction, six namespaces: more while it commits, fewer after
is($s->query("BEGIN;
SELECT count(*) FROM generate_series(1, 6) i,
  LATERAL (SELECT set_config('pylibmc_pg.namespace', 'ns' || i || ':', true)) s,
  LATERAL (SELECT mc_delete_on_commit('k')) d;
COMMIT"), '6', 'six keys queued under six namespaces in one transaction');
$n = conns();
diag("after one transaction under six namespaces: $n connections");
between($n, 1, 2, 'after it, at most two connections');
is($s->query("SELECT mc_set('c:k', 'again')"), 't', 'the session still works');
$s->quit;
