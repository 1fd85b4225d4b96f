# test/t/139_exchange_peer.pl: nothing a server sends can abort the backend
# or be returned as a value it did not store.
#
# A scripted peer (test/lib/mcpeer.py, on 127.0.0.1, started and stopped
# here) stands in for a wrong service or a broken proxy:
#   - every request answered with VALUE k 0 5\r\nab\r\nEND\r\n (a length
#     that lies): mc_get('k') is ERROR 08P01, never a value (on_error =
#     'warning': NULL and a WARNING, never the value); mc_get_multi is an
#     ERROR; mc_set('k', 'x') is ERROR 08P01 and does not abort the
#     backend: no crash in the server log, the postmaster did not restart
#     (pg_postmaster_start_time() unchanged) and a second, idle session is
#     still connected and answers;
#   - ERROR, and SERVER_ERROR out of memory, to a get: an ERROR (08P01 for
#     ERROR, a server failure of class 08 for SERVER_ERROR; unpatched
#     libmemcached 1.1.4 made them a miss, patches/libmemcached/0004), never
#     a value, no crash; ERROR to a set: an ERROR of class 08;
#   - binary replies to a get whose key length, extras length or body
#     length lies: an ERROR of class 08, never a value, no crash;
#   - two VALUE lines for one key: mc_get_multi gives one row per key asked,
#     never two; the second value is ERROR 08P01 (on_error = 'warning': the
#     first value's row and a WARNING 08P01).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PmcFleet;
use PmcTest;

plan tests => 48;

my $fleet = PmcFleet->new;
my $node  = pmc_node('peer');
my $DB    = 'pmc_exch_peer';
pmc_createdb($node, $DB);

my $watch = pmc_watch($node, $DB);

# call PEER PROTO ON_ERROR SQL: one fresh session, SQLSTATEs shown
sub call
{
	my ($peer, $proto, $on_error, $expr) = @_;
	return sql($node, $DB,
		[ "SET pylibmc_pg.servers = '$peer'", "SET pylibmc_pg.binary_protocol = $proto",
			"SET pylibmc_pg.on_error = '$on_error'", "SELECT $expr" ],
		verbose => 1);
}

# result_rows OUT: what psql printed that is not a message
sub result_rows
{
	return join("\n", grep { !/^(ERROR|WARNING|DETAIL|HINT|LOCATION|CONTEXT):/ } split /\n/, $_[0]);
}

my $n_peer = 0;
sub peer_start { return $fleet->peer('peer' . ++$n_peer, $_[0]); }

my $died = qr/server closed the connection|terminated abnormally/;

# ---- a length that lies ----
my $p    = peer_start('lying-value');
my $PEER = $p->addr;
my $out  = call($PEER, 'off', 'error', "mc_get('k')");
like($out, qr/\AERROR:  08P01: /, "lying length: mc_get('k') is ERROR 08P01");
is(result_rows($out), '', 'lying length: ... and no value is returned');
$watch->still_up('lying length, get');
$out = call($PEER, 'off', 'warning', "coalesce(mc_get('k'), 'MISS')");
is(result_rows($out), 'MISS', "lying length, on_error=warning: mc_get('k') is NULL, not the bogus value");
like($out, qr/WARNING:  08P01: /, 'lying length, on_error=warning: ... with a WARNING 08P01');
$out = call($PEER, 'off', 'error', "count(*) FROM mc_get_multi(ARRAY['k', 'j'])");
like($out, qr/\AERROR:  08[0-9A-Z]{3}: /, 'lying length: mc_get_multi is an ERROR of class 08');
$watch->still_up('lying length, get_multi');
$out = call($PEER, 'off', 'error', "mc_set('k', 'x')");
like($out, qr/\AERROR:  08P01: /, "lying length: mc_set('k', 'x') is ERROR 08P01");
unlike($out, $died, 'lying length: ... and the backend survives it');
$watch->still_up('lying length, set');
$out = call($PEER, 'off', 'ignore', "mc_set('k', 'x')");
is(result_rows($out), 'f', "lying length, on_error=ignore: mc_set('k', 'x') is false");
$watch->still_up('lying length, set under ignore');
$p->stop;

# ---- ERROR and SERVER_ERROR to a get ----
$p    = peer_start('error');
$PEER = $p->addr;
$out  = call($PEER, 'off', 'error', "coalesce(mc_get('k'), 'MISS')");
like($out, qr/\AERROR:  08P01: /, "ERROR reply: mc_get('k') is ERROR 08P01, not a miss");
is(result_rows($out), '', 'ERROR reply: ... no value and no miss');
unlike($out, qr/server closed the connection|terminated abnormally|ab/,
	'ERROR reply: ... never a value, and the backend survives');
$out = call($PEER, 'off', 'error', "mc_set('k', 'x')");
like($out, qr/\AERROR:  08[0-9A-Z]{3}: /, "ERROR reply: mc_set('k', 'x') is an ERROR of class 08");
$watch->still_up('ERROR reply');
$p->stop;
$p    = peer_start('server-error');
$PEER = $p->addr;
$out  = call($PEER, 'off', 'error', "coalesce(mc_get('k'), 'MISS')");
like($out, qr/\AERROR:  08[0-9A-Z]{3}: /,
	"SERVER_ERROR out of memory reply: mc_get('k') is an ERROR of class 08, not a miss");
is(result_rows($out), '', 'SERVER_ERROR reply: ... no value and no miss');
unlike($out, $died, 'SERVER_ERROR reply: ... and the backend survives');
$out = call($PEER, 'off', 'error', "count(*) FROM mc_get_multi(ARRAY['k', 'j'])");
like($out, qr/\AERROR:  08[0-9A-Z]{3}: /, 'SERVER_ERROR reply: mc_get_multi is an ERROR of class 08');
is(result_rows($out), '', 'SERVER_ERROR reply: ... and returns no row');
$watch->still_up('SERVER_ERROR reply');
$p->stop;

# ---- binary replies whose lengths lie ----
for my $mode ('bin-keylen-lie', 'bin-extlen-lie', 'bin-body-lie')
{
	$p   = peer_start($mode);
	$out = call($p->addr, 'on', 'error', "coalesce(mc_get('k'), 'MISS')");
	like($out, qr/\AERROR:  08[0-9A-Z]{3}: /, "$mode: binary mc_get('k') is an ERROR of class 08");
	is(result_rows($out), '', "$mode: ... never a value or a miss");
	$watch->still_up($mode);
	$p->stop;
}

# ---- two values for one key ----
$p    = peer_start('dup-value');
$PEER = $p->addr;
$out  = call($PEER, 'off', 'error', "key || '=' || value FROM mc_get_multi(ARRAY['k', 'j'])");
like($out, qr/\AERROR:  08P01: /, 'two values for one key: mc_get_multi is ERROR 08P01');
is(result_rows($out), '', 'two values for one key: ... and returns no row');
$out = call($PEER, 'off', 'warning', "key || '=' || value FROM mc_get_multi(ARRAY['k', 'j'])");
is(result_rows($out), 'k=a', 'two values for one key, on_error=warning: one row for the key, the first value');
like($out, qr/WARNING:  08P01: /, 'two values for one key, on_error=warning: ... with a WARNING 08P01');
$watch->still_up('two values for one key');
$p->stop;

is($watch->{sess}->query('SELECT 1'), '1', 'the idle session answers at the end');
$watch->{sess}->quit;
