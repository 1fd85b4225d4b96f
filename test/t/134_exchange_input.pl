# test/t/134_exchange_input.pl: arguments and values checked before
# anything is sent, and the same in both protocols.
#
# mc_cas(key, value, -5) is ERROR 22003 over ASCII and over binary (never
# 53200, never false in one protocol and an error in the other).
# mc_set_multi refuses a bad key before it sends any: after
# mc_set_multi('{"ok": 1, "a much longer bad key": 2}') (jsonb orders the
# good key first) the good key is not stored; the same for the arrays form
# and for a key that is too long.
# behaviors connect_timeout=0 and _poll_timeout=0 are refused at SET
# (22023); a zlib bomb (1.07 MB stored with flags 16|8, inflating to
# 1.1 GB, past the 1 GB limit) is refused (54000); read under
# statement_timeout = '100ms' it returns within 1 s and well before the
# uncancelled refusal would end (100 ms + half of that time): cancelled,
# or the bomb's own ERROR.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PmcFleet;
use PmcTest;

plan tests => 23;

my $fleet = PmcFleet->new;
my $TCP   = $fleet->memcached('tcp')->addr;
my $node  = pmc_node('input', "pylibmc_pg.servers = '$TCP'");
my $DB    = 'pmc_exch_input';
pmc_createdb($node, $DB);

sub qv { return sql($node, $DB, [@_], verbose => 1); }
sub on { return qv("SET pylibmc_pg.servers = '$TCP'", @_); }
sub first_sqlstate { return $_[0] =~ /^ERROR:  ([0-9A-Z]*):/m ? $1 : 'no error'; }

# ---- a negative cas token ----
for my $proto (qw(off on))
{
	my $out = on("SET pylibmc_pg.binary_protocol = $proto", "SELECT mc_set('xi:cas', 'v')",
		"SELECT mc_cas('xi:cas', 'w', -5)");
	like($out, qr/ERROR:  22003: /, "binary=$proto: mc_cas with cas -5 is ERROR 22003");
	unlike($out, qr/53200|MEMORY ALLOCATION/, "binary=$proto: ... not 53200");
}
my $ascii  = first_sqlstate(on("SELECT mc_cas('xi:cas', 'w', -5)"));
my $binary = first_sqlstate(on('SET pylibmc_pg.binary_protocol = on', "SELECT mc_cas('xi:cas', 'w', -5)"));
is($ascii, $binary, 'mc_cas with cas -5: the same answer in both protocols');
is(on("SELECT mc_get('xi:cas')"), 'v', '... and the value is untouched');

# ---- set_multi checks every key before sending the first ----
on("SELECT mc_delete_multi(ARRAY['xi:ok', 'xi:ok2', 'xi:ok3', 'xi:ok4'])");
like(on(q{SELECT mc_set_multi('{"xi:ok": 1, "xi:a much longer bad key": 2}'::jsonb)}), qr/ERROR:  22023: /,
	'set_multi (jsonb) with a key holding a space: ERROR 22023');
is(on("SELECT mc_get('xi:ok') IS NULL"), 't', '... and the good key before it was not stored');
like(on("SELECT mc_set_multi(ARRAY['xi:ok2', 'xi:bad key'], ARRAY['1', '2'])"), qr/ERROR:  22023: /,
	'set_multi (arrays) with a key holding a space: ERROR 22023');
is(on("SELECT mc_get('xi:ok2') IS NULL"), 't', '... and the good key before it was not stored');
like(on("SELECT mc_set_multi(ARRAY['xi:ok3', repeat('x', 251)], ARRAY['1', '2'])"), qr/ERROR:  22001: /,
	'set_multi (arrays) with a key of 251 bytes: ERROR 22001');
is(on("SELECT mc_get('xi:ok3') IS NULL"), 't', '... and the good key before it was not stored');
like(on("SELECT mc_set_multi(jsonb_build_object('xi:ok4', 1, repeat('y', 251), 2))"), qr/ERROR:  22001: /,
	'set_multi (jsonb) with a key of 251 bytes: ERROR 22001');
is(on("SELECT mc_get('xi:ok4') IS NULL"), 't', '... and the good key before it was not stored');

# ---- zero timeouts refused at SET ----
for my $b (qw(connect_timeout=0 _poll_timeout=0))
{
	like(qv("LOAD 'pylibmc_pg'", "SET pylibmc_pg.behaviors = '$b'"), qr/ERROR:  22023: /,
		"SET pylibmc_pg.behaviors = '$b' is refused (22023)");
	my $out = qv("LOAD 'pylibmc_pg'", "SET pylibmc_pg.behaviors = 'tcp_nodelay=true, $b'", 'SHOW pylibmc_pg.behaviors');
	unlike(join("\n", grep { !/^[A-Z]*:  / } split /\n/, $out), qr/\Q$b\E/,
		'... also in a list: the setting keeps its old value');
}

# ---- a zlib bomb is cancellable ----
my $BIG  = $fleet->memcached('exch-input-big', args => [ '-m', 64, '-I', '2m' ])->addr;
my $BOMB = $fleet->dir . '/exch-bomb.bin';
IPC::Run::run([ 'python3', '-', $BOMB ], '<', \<<'PY') or die 'python3 could not write the bomb';
import sys, zlib
c = zlib.compressobj(9)
chunk = bytes(64 << 20)
target = 1100 * 1000 * 1000
total, out = 0, []
while total < target:
    n = min(len(chunk), target - total)
    out.append(c.compress(chunk if n == len(chunk) else chunk[:n]))
    total += n
out.append(c.flush())
with open(sys.argv[1], "wb") as f:
    f.write(b"".join(out))
PY
chmod 0644, $BOMB;
diag('bomb: ' . (-s $BOMB) . ' bytes, inflating to 1100000000');
is(sql($node, $DB, [ "SET pylibmc_pg.servers = '$BIG'", "SELECT mc_set_raw('xi:bomb', pg_read_binary_file('$BOMB'), 24)" ]),
	't', 'a zlib bomb stored with flags 16|8');
my $s = pmc_session($node, $DB, verbose => 1);
$s->query("SET pylibmc_pg.servers = '$BIG'");
is($s->query("SELECT length(value) > 1000000 FROM mc_get_raw('xi:bomb')"), 't', '... it reads back raw');

# tsess SQL: the session runs SQL, timed (30 s at most); the output and ms
sub tsess
{
	my $t0  = now_ms();
	my $out = $s->query($_[0], 30);
	if (!defined $out)
	{
		diag("statement still running after 30 s: $_[0]");
		$out = $s->{partial} . "\n" . ($s->wait(60) // $s->{partial});
	}
	return ($out, now_ms() - $t0);
}
my ($out, $full) = tsess("SELECT mc_get('xi:bomb', NULL::bytea) IS NULL");
diag("without a statement_timeout the bomb is refused after $full ms: " . (split /\n/, $out)[0]);
like($out, qr/ERROR:  54000: /, 'without a statement_timeout the bomb is refused (54000)');
# cancellable: well before the uncancelled refusal ends, and within 1 s
my $limit = 100 + int($full / 2);
$limit = 1000 if $limit > 1000;
my ($out2, $ms) = tsess("SET statement_timeout = '100ms'; SELECT mc_get('xi:bomb') IS NULL; RESET statement_timeout");
between($ms, 0, $limit,
	"mc_get of the bomb under statement_timeout 100ms returns within $limit ms ($ms ms; uncancelled: $full ms)");
like($out2, qr/ERROR:  (57014|54000): /, '... cancelled, or refused as too large');
$s->quit;
