# test/t/133_exchange_servers.pl: server state.
#
# A binary protocol client without credentials, two servers, one
# SIGSTOPped: after the first call (which may wait for the stopped one),
# each mc_get of a key that maps to the healthy server takes < 300 ms
# (measured in the session, several keys): the SASL probe runs once per
# connection, a dead server does not tax calls to live ones.
#
# memcached restarted (stopped, started on the same port) while a session
# is idle: the next mc_get / mc_set of that session under on_error =
# 'error' succeeds (the closed connection is reopened once before a failure
# is reported), in both protocols.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PmcFleet;
use PmcTest;

plan tests => 19;

my $fleet = PmcFleet->new;
my $TCP   = $fleet->memcached('tcp')->addr;
my $node  = pmc_node('servers', "pylibmc_pg.servers = '$TCP'");
my $DB    = 'pmc_exch_servers';
pmc_createdb($node, $DB);

sub qdb { return sql($node, $DB, [@_]); }

qdb(q{CREATE FUNCTION exch_ms(sql text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE t timestamptz := clock_timestamp();
BEGIN EXECUTE sql; RETURN (extract(epoch FROM clock_timestamp() - t) * 1000)::int; END $$});

# ---- a stopped server does not tax calls to the live one ----
my $A = $fleet->memcached('exch-servers-a', args => [ '-m', 16 ])->addr;
my $b = $fleet->memcached('exch-servers-b', args => [ '-m', 16 ]);
my $B = $b->addr;
qdb("SET pylibmc_pg.servers = '$A, $B'", 'SET pylibmc_pg.binary_protocol = on',
	"SELECT bool_and(mc_set('sv:' || i, 'v' || i)) FROM generate_series(1, 20) i");
my @keys_a = split / /, qdb("SET pylibmc_pg.servers = '$A'",
	"SELECT string_agg('sv:' || i, ' ') FROM generate_series(1, 20) i WHERE mc_get('sv:' || i) IS NOT NULL");
between(scalar @keys_a, 6, 19, 'of 20 keys over two servers, ' . scalar(@keys_a) . ' map to the first one');
$b->pause_stopped;
my $s = pmc_session($node, $DB, verbose => 1);
$s->query("SET pylibmc_pg.servers = '$A, $B'; SET pylibmc_pg.binary_protocol = on");
my $t0  = now_ms();
my $out = $s->query("SELECT mc_get('$keys_a[0]')", 30) // $s->{partial};
diag("the first call, with $B stopped: " . (now_ms() - $t0) . ' ms: ' . join(' | ', split /\n/, $out));
my (@times, $right);
$right = 0;
for my $i (1 .. 5)
{
	my $k = $keys_a[$i] // 'sv:none';
	push @times, $s->query("SELECT exch_ms('SELECT mc_get(''$k'')')", 30) // '';
	(my $n = $k) =~ s/^sv://;
	$right++ if ($s->query("SELECT mc_get('$k')", 30) // '') eq "v$n";
}
diag("mc_get of keys on $A with $B stopped: @times ms");
between($_ eq '' ? 'x' : $_, 0, 299, "binary, $B stopped: an mc_get of a key on $A takes < 300 ms ($_ ms)")
  for @times;
is($right, 5, '... and reads its value');
$b->resume;
$s->quit;

# ---- the first call after a restart succeeds ----
my $c = $fleet->memcached('exch-servers-c', args => [ '-m', 16 ]);
my $C = $c->addr;
$s = pmc_session($node, $DB, verbose => 1);
sub sess { return $s->query(@_) // ''; }
for my $proto (qw(off on))
{
	sess("RESET ALL; SET pylibmc_pg.servers = '$C'; SET pylibmc_pg.binary_protocol = $proto; "
		  . "SET pylibmc_pg.on_error = 'error'");
	is(sess("SELECT mc_set('rs:k', 'before')"), 't', "binary=$proto: the session stores a value");
	$c->restart or BAIL_OUT('cannot restart memcached');
	is(sess("SELECT coalesce(mc_get('rs:k'), 'MISS')"), 'MISS',
		"binary=$proto: after a restart while the session was idle, its next mc_get succeeds (a miss)");
	is(sess("SELECT mc_set('rs:k', 'after')"), 't', "binary=$proto: ... and an mc_set succeeds");
	$c->restart or BAIL_OUT('cannot restart memcached');
	is(sess("SELECT mc_set('rs:k', 'again')"), 't',
		"binary=$proto: after another restart, the first call (mc_set) succeeds");
	is(sess("SELECT mc_get('rs:k')"), 'again', "binary=$proto: ... and the value reads back");
	$c->restart or BAIL_OUT('cannot restart memcached');
	is(sess("SELECT count(*) FROM mc_get_multi(ARRAY['rs:k', 'rs:j'])"), '0',
		"binary=$proto: after another restart, the first call (mc_get_multi) succeeds");
}
$s->quit;
