# test/t/000_pmcfleet.pl: test/lib/PmcFleet.pm itself, for the suites that
# will use the parts the others do not yet: each transport answers the
# extension, SASL authenticates pylibmc, the scripted peer listens,
# pause/resume and stop/restart do what they say.
use strict;
use warnings;

use IO::Socket::INET;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PmcFleet;
use PmcTest;

plan tests => 9;

my $fleet = PmcFleet->new;
my $tcp   = $fleet->memcached('tcp');
my $unix  = $fleet->memcached('unix', transport => 'unix');
my $udp   = $fleet->memcached('udp', transport => 'udp');
my $sasl  = $fleet->memcached('sasl', sasl => 1);
my $node  = pmc_node('fleet', "pylibmc_pg.servers = '" . $tcp->addr . "'");
pmc_createdb($node, 'fleet');

# roundtrip SERVERS [SQL...]: set and read back a key through the extension
sub roundtrip
{
	my ($servers, @set) = @_;
	return sql($node, 'fleet',
		[ "SET pylibmc_pg.servers = '$servers'", @set,
		  "SELECT mc_set('fleet:k', 'v-' || current_setting('pylibmc_pg.servers'))",
		  "SELECT mc_get('fleet:k')" ]);
}
is(roundtrip($tcp->addr), "t\nv-" . $tcp->addr, 'TCP: the extension stores and reads');
is(roundtrip($unix->addr), "t\nv-" . $unix->addr, 'UNIX socket: the extension stores and reads');
# UDP carries writes only: read back over TCP on the same port
is( sql($node, 'fleet',
		[ "SET pylibmc_pg.servers = '" . $udp->addr . "'", "SELECT mc_set('fleet:u', 'x')", 'SELECT pg_sleep(0.2)',
		  "SET pylibmc_pg.servers = '127.0.0.1:" . $udp->port . "'", "SELECT mc_get('fleet:u')" ]),
	"t\n\nx", 'UDP: the extension writes, TCP on the same port reads it');

my $py = <<'PY';
import sys, pylibmc
c = pylibmc.Client([sys.argv[1]], binary=True, username=sys.argv[2], password=sys.argv[3])
c.set("fleet:sasl", "ok")
print(c.get("fleet:sasl"))
PY
my $out = '';
IPC::Run::run([ 'python3', '-', $sasl->addr, $PmcFleet::SASL_USER, $PmcFleet::SASL_PASSWORD ],
	'<', \$py, '>&', \$out);
is($out, "ok\n", 'SASL: pylibmc authenticates as $PmcFleet::SASL_USER');

my $peer = $fleet->peer('peer', 'error', 60);
my ($host, $port) = split /:/, $peer->addr;
my $sock = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port);
print $sock "get k\r\n" if $sock;
is($sock ? scalar <$sock> : undef, "ERROR\r\n", 'the scripted peer answers as its mode says');

$tcp->pause;
my $t0 = now_ms();
like(sql($node, 'fleet', [ "SET pylibmc_pg.behaviors = '_poll_timeout=300'", "SELECT mc_get('fleet:k')" ]),
	qr/ERROR/, 'pause: a stopped server does not answer');
$tcp->resume;
is(sql($node, 'fleet', ["SELECT mc_get('fleet:k')"]), 'v-' . $tcp->addr, 'resume: it answers again');

$tcp->stop;
like(sql($node, 'fleet', ["SELECT mc_get('fleet:k')"]), qr/ERROR/, 'stop: the server is gone');
ok($tcp->restart && sql($node, 'fleet', ["SELECT mc_set('fleet:k', 'again')"]) eq 't',
	'restart: on the same port again');
