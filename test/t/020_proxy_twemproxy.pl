# test/t/020_proxy_twemproxy.pl: every call twemproxy supports works through
# it, and the ones it does not support fail at once with an error that says
# so.
#
# Debian's nutcracker (twemproxy 0.5.0) is started on loopback in front of
# two private memcacheds (ketama), ASCII protocol (twemproxy does not speak
# the binary one).  What is stored through the proxy is checked on the
# memcacheds behind it, so the proxy really was in the path.
use strict;
use warnings;

use IO::Socket::INET;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PmcFleet;
use PmcTest;

BAIL_OUT('nutcracker is not installed (Debian package nutcracker)')
  unless grep { -x "$_/nutcracker" } split /:/, $ENV{PATH};
plan tests => 33;

my $fleet = PmcFleet->new;
my $TCP   = $fleet->memcached('tcp')->addr;
my $B1    = $fleet->memcached('proxy-b1', args => [ '-m', 16 ])->addr;
my $B2    = $fleet->memcached('proxy-b2', args => [ '-m', 16 ])->addr;

my $proxy_port = $fleet->free_port;
my $stats_port = $fleet->free_port;
my $conf       = $fleet->dir . '/nutcracker.yml';
append_to_file($conf, <<"YML");
pool:
  listen: 127.0.0.1:$proxy_port
  hash: fnv1a_64
  distribution: ketama
  timeout: 1000
  auto_eject_hosts: false
  servers:
   - $B1:1 b1
   - $B2:1 b2
YML
$fleet->spawn(
	'twemproxy',
	[ 'nutcracker', '-c', $conf, '-s', $stats_port, '-o', "$PostgreSQL::Test::Utils::log_path/nutcracker.log" ],
	ready => sub {
		IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $proxy_port) ? 1 : 0;
	});
my $PROXY = "127.0.0.1:$proxy_port";

my $node = pmc_node('proxy', "pylibmc_pg.servers = '$TCP'");
pmc_createdb($node, 'pmc_proxy');

# qdb SQL...: one session in the suite's database; p SQL...: through the proxy
sub qdb { return sql($node, 'pmc_proxy', [@_]); }
sub p { return qdb("SET pylibmc_pg.servers = '$PROXY'", @_); }
sub last_line { return (split /\n/, $_[0])[-1] // ''; }
sub first_line { return (split /\n/, $_[0])[0] // ''; }

# on_backends KEY: the value each of the two memcacheds holds for KEY, or -
sub on_backends
{
	my ($key) = @_;
	return join ' ',
	  map { qdb("SET pylibmc_pg.servers = '$_'", "SELECT coalesce(mc_get('$key'), '-')") =~ tr/\n/ /r }
	  ($B1, $B2);
}

# ---- reads and writes ----
is(p("SELECT mc_set('px:a', 'alpha'), mc_get('px:a')"), 't|alpha', 'set and get through the proxy');
my $out = on_backends('px:a');
like($out, qr/^(alpha -|- alpha)$/, "... the value is on exactly one memcached behind it ($out)");
is(p("SELECT (mc_gets('px:a')).value"), 'alpha', 'gets');
is(p("SELECT mc_cas('px:a', 'beta', (mc_gets('px:a')).cas), mc_get('px:a')"), 't|beta',
	'cas with the token gets returned');
is(p("SELECT mc_cas('px:a', 'gamma', 1), mc_get('px:a')"), 'f|beta', 'cas with a stale token is false');
is(p("SELECT mc_add('px:a', 'x'), mc_add('px:new', 'n'), mc_get('px:new')"), 'f|t|n', 'add');
is(p("SELECT mc_replace('px:a', 'r'), mc_replace('px:none', 'x'), mc_get('px:a')"), 't|f|r', 'replace');
is(p("SELECT mc_append('px:a', 's'), mc_prepend('px:a', 'p'), mc_get('px:a')"), 't|t|prs',
	'append and prepend');
is(p(q{SELECT mc_set('px:j', '{"a": 1}'::jsonb), mc_get('px:j', NULL::jsonb)}), 't|{"a": 1}',
	'typed values keep their flags through the proxy');
is(p("SELECT mc_touch('px:a', 100), mc_touch('px:none', 100)"), 't|f', 'touch');
is(p("SELECT mc_delete('px:a'), mc_delete('px:a'), mc_get('px:a') IS NULL"), 't|f|t', 'delete');

# ---- counters ----
is(p("SELECT mc_set('px:n', 10), mc_incr('px:n', 5), mc_decr('px:n', 3)"), 't|15|12', 'incr and decr');
is(p("SELECT mc_incr('px:nn'), mc_incr('px:nn', 1, 7), mc_incr('px:nn', 1, 7)"), '|7|8',
	'incr without initial on a missing key is NULL; with initial it creates it');
is(p("SELECT mc_decr('px:nd', 1, 3), mc_decr('px:nd', 5, 3)"), '3|0', 'decr with initial');

# ---- several keys ----
is(p(q{SELECT mc_set_multi('{"m1": 1, "m2": "two", "m3": true}'::jsonb, 0, 'px:')}), '{}',
	'set_multi with a prefix stores every key');
is( p("SELECT string_agg(key || '=' || value, ',' ORDER BY key)
           FROM mc_get_multi(ARRAY['m1', 'm2', 'm3', 'm4'], 'px:')"),
	'm1=1,m2=two,m3=1',
	'get_multi with a prefix returns the keys found, without the prefix');
my ($b1, $b2) =
  map { qdb("SET pylibmc_pg.servers = '$_'",
		"SELECT count(*) FROM mc_get_multi(ARRAY['m1', 'm2', 'm3'], 'px:')") } ($B1, $B2);
is($b1 + $b2, 3, "... and the proxy spread them over its memcacheds ($b1 + $b2)");
is( p("SELECT mc_set_multi(ARRAY['px:k1', 'px:k2'], ARRAY[1, 2]::bigint[]),
               mc_get('px:k1', NULL::bigint) + mc_get('px:k2', NULL::bigint)"),
	'{}|3', 'set_multi with arrays');
is(p("SELECT mc_delete_multi(ARRAY['k1', 'k2'], 0, 'px:'), mc_delete_multi(ARRAY['k1'], 0, 'px:')"),
	't|f', 'delete_multi');
is( p("SELECT count(*) FROM mc_get_multi(ARRAY(SELECT 'px:none' || i FROM generate_series(1, 500) i))"),
	'0', 'get_multi of 500 missing keys');

# ---- invalidation at commit: quiet deletes and the barrier through the proxy ----
p("SELECT mc_set('px:inv' || i, 'v') FROM generate_series(1, 300) i");
$out = p('BEGIN', "SELECT mc_delete_on_commit('px:inv' || i) FROM generate_series(1, 300) i", 'COMMIT',
	"SELECT count(*) FROM mc_get_multi(ARRAY(SELECT 'px:inv' || i FROM generate_series(1, 300) i))");
is(last_line($out), '0', 'mc_delete_on_commit of 300 keys: all gone when COMMIT returns');
unlike($out, qr/WARNING|ERROR/, '... without a WARNING');
$out = p("SELECT mc_set('px:inv1', 'v')", 'BEGIN', "SELECT mc_delete_on_commit('px:inv1')", 'ROLLBACK',
	"SELECT mc_get('px:inv1')");
is(last_line($out), 'v', 'a rolled-back mc_delete_on_commit deletes nothing');
qdb('CREATE TABLE px_users (id int PRIMARY KEY, name text)',
	"CREATE TRIGGER px_inv AFTER INSERT OR UPDATE OR DELETE ON px_users
	   FOR EACH ROW EXECUTE FUNCTION mc_invalidate('px:user:{id}')",
	"INSERT INTO px_users VALUES (1, 'ann')");
$out = p("SELECT mc_set('px:user:1', 'ann')", "UPDATE px_users SET name = 'bea' WHERE id = 1",
	"SELECT mc_get('px:user:1') IS NULL");
is(last_line($out), 't', 'the mc_invalidate trigger empties the cached row at commit');

# ---- what twemproxy does not support fails at once, saying so ----
my $t0 = now_ms();
$out = p('SELECT count(*) FROM mc_stats()');
my $ms = now_ms() - $t0;
like($out, qr/ERROR:  memcached server \Q$PROXY\E returned no statistics/,
	'mc_stats() through the proxy is an ERROR');
like($out, qr/HINT:  .*twemproxy/, '... whose hint names proxies');
like(qdb('\set VERBOSITY verbose', "SET pylibmc_pg.servers = '$PROXY'", 'SELECT 1 FROM mc_stats()'),
	qr/ERROR:  0A000: /, '... SQLSTATE 0A000 (feature not supported)');
between($ms, 0, 1500, "... at once (${ms} ms)");
$t0  = now_ms();
$out = p('SELECT mc_flush_all()');
$ms  = now_ms() - $t0;
like($out,
	qr/ERROR:  memcached server \Q$PROXY\E closed the connection instead of answering flush_all/,
	'mc_flush_all() through the proxy is an ERROR that says the server did not answer');
like($out, qr/HINT:  .*twemproxy/, '... whose hint names proxies');
between($ms, 0, 1500, "... at once (${ms} ms)");
is(p("SELECT mc_get('px:m2')"), 'two', 'the flush_all did not reach the memcacheds behind the proxy');
is( first_line(qdb("SET pylibmc_pg.servers = '$PROXY'", "SET pylibmc_pg.on_error = 'ignore'",
			'SELECT mc_flush_all()')),
	"ERROR:  memcached server $PROXY closed the connection instead of answering flush_all",
	"... an ERROR even with on_error = 'ignore' (not a failure that could be a miss)");
