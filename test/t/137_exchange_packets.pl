# test/t/137_exchange_packets.pl: what a single-key read puts on the wire,
# counted with strace on the backend (its send syscalls that carry a
# memcached request; the backend's replies to psql carry none):
#   - binary protocol: mc_get of a key sends one packet per call (one GETK,
#     not GETKQ then NOOP), for a hit and for a miss, and the values and
#     misses are right;
#   - ASCII protocol: mc_get sends "get" (CAS parsing is off: no "gets"),
#     mc_gets sends "gets" and returns a token, and the mc_get after it
#     sends "get" again; mc_behaviors() still shows cas = 1;
#   - binary mc_gets still returns a token (its GETKQ path);
#   - a GETK answered with another key's value (a scripted peer: a
#     connection out of step) is an ERROR 08P01, never that value.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use PmcFleet;
use PmcTest;

BAIL_OUT('strace is missing (Debian package strace)')
  unless grep { -x "$_/strace" } split /:/, $ENV{PATH}, -1;
plan tests => 14;

my $fleet = PmcFleet->new;
my $ADDR  = $fleet->memcached('exch-packets', args => [ '-m', 16 ])->addr;
my $node  = pmc_node('packets');
my $DB    = 'pmc_exch_packets';
pmc_createdb($node, $DB);

my $sess = pmc_session($node, $DB);
my $BPID = $sess->query("SET pylibmc_pg.servers = '$ADDR'; SELECT pg_backend_pid()");
BAIL_OUT('no backend pid: ' . ($BPID // 'undef')) unless ($BPID // '') =~ /^\d+$/;

my $TRACE = "$PostgreSQL::Test::Utils::tmp_check/packets.trace";

# traced SQL: run SQL in the session under strace; returns its output and
# leaves the trace in $TRACE
sub traced
{
	my ($q) = @_;
	unlink $TRACE;
	my $err = '';
	my $h = IPC::Run::start(
		[ 'strace', '-qq', '-e', 'trace=sendto,sendmsg,write,writev', '-s', '8', '-o', $TRACE, '-p', $BPID ],
		'<', \undef, '2>', \$err);
	# attached once the backend shows a tracer
	for (1 .. 50)
	{
		open my $fh, '<', "/proc/$BPID/status" or last;
		last if grep { /^TracerPid:\s*[1-9]/ } <$fh>;
		usleep(100_000);
	}
	my $out = $sess->query($q);
	$h->signal('TERM');
	eval { $h->finish; 1 } or $h->kill_kill;
	diag("strace: $err") if $err ne '';
	return $out;
}

# sends PREFIX: how many traced send syscalls' data starts with PREFIX (as
# strace prints it: \200 is the binary protocol's request magic)
sub sends
{
	my ($prefix) = @_;
	open my $fh, '<', $TRACE or return 0;
	return scalar grep { /^(sendto|sendmsg|write|writev)\(.*"\Q$prefix\E/ } <$fh>;
}

# ---- binary ----
$sess->query("SET pylibmc_pg.binary_protocol = on; SELECT mc_set('pk.hit', 'value'); SELECT mc_delete('pk.miss')");
my $out = traced("SELECT string_agg(coalesce(mc_get('pk.hit'), 'NULL'), ',') FROM generate_series(1, 10)");
is($out, join(',', ('value') x 10), 'binary: 10 gets of a key read its value');
is(sends('\\200'), 10, 'binary: 10 gets of a present key send 10 packets (one GETK each)');
$out = traced("SELECT count(*) FROM generate_series(1, 10) WHERE mc_get('pk.miss') IS NULL");
is($out, '10', 'binary: 10 gets of a missing key are 10 misses');
is(sends('\\200'), 10, 'binary: 10 gets of a missing key send 10 packets');
is($sess->query("SELECT (mc_gets('pk.hit')).cas IS NOT NULL, (mc_gets('pk.hit')).value"),
	't|value', 'binary: mc_gets returns the value and a token');
is($sess->query("SELECT octet_length(value), flags FROM mc_get_raw('pk.hit')"),
	'5|16', 'binary: mc_get_raw reads the stored bytes and flags');

# ---- ASCII ----
$sess->query('SET pylibmc_pg.binary_protocol = off');
$out = traced("SELECT count(mc_get('pk.hit')) FROM generate_series(1, 5)");
is($out, '5', 'ascii: 5 gets read the value');
is(sends('get ') . '|' . sends('gets '), '5|0', 'ascii: mc_get sends get, not gets (no CAS token parsed)');
$out = traced("SELECT (mc_gets('pk.hit')).cas > 0");
is($out, 't', 'ascii: mc_gets returns a token');
is(sends('gets '), 1, 'ascii: mc_gets sends gets');
traced("SELECT mc_get('pk.hit')");
is(sends('get ') . '|' . sends('gets '), '1|0', 'ascii: the mc_get after an mc_gets sends get again');
is($sess->query("SELECT mc_behaviors()->>'cas'"), '1', 'mc_behaviors() shows cas = 1');

# ---- a reply for another key ----
my $PEER = $fleet->peer('peer', 'bin-other-key')->addr;
$out = sql($node, $DB,
	[ "SET pylibmc_pg.servers = '$PEER'", 'SET pylibmc_pg.binary_protocol = on', "SELECT mc_get('wanted')" ],
	verbose => 1);
like($out, qr/08P01/, 'binary: a GETK answered for another key is an ERROR 08P01');
unlike($out, qr/EVIL/, "binary: ... and never returns that key's value");
$sess->quit;
