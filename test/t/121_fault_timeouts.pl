# test/t/121_fault_timeouts.pl: no call waits past the configured timeouts.
#
# Wall time is measured around a whole psql run (backend start included):
#   - a server that refuses connections (a port nothing listens on): ERROR
#     in < 1 s;
#   - a server that accepts but never answers (a memcached, SIGSTOPped):
#     ERROR in < 2 s with the defaults (_poll_timeout 1000 ms), for reads,
#     writes, counters and multi-gets (append and touch, which read the
#     key first, included: one timeout, one WARNING); in < 0.8 s with
#     _poll_timeout=300;
#   - a server whose SYNs go unanswered (a listener with a full backlog that
#     never accepts): ERROR in 0.9..2 s with the defaults (connect_timeout
#     1000 ms), in < 0.8 s with connect_timeout=300;
#   - keyless operations (get_multi, mc_stats, flush_all) over several
#     servers, some SIGSTOPped: the ERROR names the stopped ones.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PmcFleet;
use PmcTest;

plan tests => 28;

my $fleet = PmcFleet->new;
my $TCP   = $fleet->memcached('tcp')->addr;
my $DOWN  = '127.0.0.1:' . $fleet->free_port;
my $node  = pmc_node('timeouts', "pylibmc_pg.servers = '$TCP'");
my $DB    = 'pmc_fault_timeouts';
pmc_createdb($node, $DB);

sub qdb { return sql($node, $DB, [@_]); }

# timed SETTINGS_SQL SQL: run both in one fresh session; sets $OUT and $MS.
my ($OUT, $MS);
sub timed
{
	my $t0 = now_ms();
	$OUT = qdb(@_);
	$MS  = now_ms() - $t0;
	return;
}

# ---- a server that refuses connections ----
timed("SET pylibmc_pg.servers = '$DOWN'", "SELECT mc_get('to:k')");
between($MS, 0, 999, "get from a refusing server returns within 1 s ($MS ms)");
like($OUT, qr/ERROR:  could not get key "to:k" on memcached server \Q$DOWN\E/, '... as an ERROR naming the server');
timed("SET pylibmc_pg.servers = '$DOWN'", "SELECT mc_set('to:k', 'v')");
between($MS, 0, 999, "set to a refusing server returns within 1 s ($MS ms)");
like($OUT, qr/ERROR:  could not set key "to:k" on memcached server \Q$DOWN\E/, '... as an ERROR naming the server');
timed("SET pylibmc_pg.servers = '$DOWN'", "SELECT * FROM mc_get_multi(ARRAY['to:a', 'to:b'])");
between($MS, 0, 999, "get_multi from a refusing server returns within 1 s ($MS ms)");
like($OUT, qr/ERROR:  could not get several keys/, '... as an ERROR');

# ---- a server that accepts but never answers ----
my $stopped = $fleet->memcached('fault-timeouts-stopped', args => [ '-m', 16 ]);
my $STOPPED = $stopped->addr;
qdb("SET pylibmc_pg.servers = '$STOPPED'", "SELECT mc_set('to:k', 'v')");
$stopped->pause;

timed("SET pylibmc_pg.servers = '$STOPPED'", "SELECT mc_get('to:k')");
between($MS, 0, 1999, "get from a stopped server returns within 2 s ($MS ms)");
like($OUT, qr/ERROR:  could not get key "to:k" on memcached server \Q$STOPPED\E/, '... as an ERROR naming the server');
like($OUT, qr/DETAIL:  libmemcached: A TIMEOUT OCCURRED/, '... with the timeout in DETAIL');
timed("SET pylibmc_pg.servers = '$STOPPED'", "SELECT mc_set('to:big', repeat('x', 900000))");
between($MS, 0, 1999, "a 900 kB set to a stopped server returns within 2 s ($MS ms)");
like($OUT, qr/ERROR:  could not set key "to:big"/, '... as an ERROR');
timed("SET pylibmc_pg.servers = '$STOPPED'", "SELECT * FROM mc_get_multi(ARRAY['to:a', 'to:b', 'to:c'])");
between($MS, 0, 1999, "get_multi from a stopped server returns within 2 s ($MS ms)");
timed("SET pylibmc_pg.servers = '$STOPPED'", "SELECT mc_incr('to:n')");
between($MS, 0, 1999, "incr on a stopped server returns within 2 s ($MS ms)");
timed("SET pylibmc_pg.servers = '$STOPPED'", "SELECT mc_delete('to:k')");
between($MS, 0, 1999, "delete on a stopped server returns within 2 s ($MS ms)");
# the default is what bounds the waits above: it is not much shorter either
between($MS, 900, 1999, "the default poll timeout is about 1 s ($MS ms)");
# append and touch read the key first (a tombstone is an absent key): that
# read is their only wait, its failure reported once as theirs
for my $call ([ "mc_append('to:k', 'x')", 'append to' ], [ "mc_touch('to:k', 60)", 'touch' ])
{
	my ($expr, $what) = @$call;
	timed("SET pylibmc_pg.servers = '$STOPPED'; SET pylibmc_pg.on_error = 'warning'", "SELECT $expr");
	between($MS, 0, 1999, "$expr on a stopped server returns within 2 s: one timeout ($MS ms)");
	my $n = () = $OUT =~ /WARNING:  could not \Q$what\E key "to:k" on memcached server \Q$STOPPED\E/g;
	is($n, 1, '... with one WARNING, naming the call and the server');
}

timed("SET pylibmc_pg.servers = '$STOPPED'; SET pylibmc_pg.behaviors = '_poll_timeout=300'", "SELECT mc_get('to:k')");
between($MS, 0, 799, "with _poll_timeout=300 a get returns within 0.8 s ($MS ms)");
like($OUT, qr/A TIMEOUT OCCURRED/, '... still as a timeout ERROR');
timed("SET pylibmc_pg.servers = '$STOPPED'; SET pylibmc_pg.behaviors = '_poll_timeout=300'",
	"SELECT * FROM mc_get_multi(ARRAY['to:a', 'to:b', 'to:c'])");
between($MS, 0, 799, "with _poll_timeout=300 a get_multi returns within 0.8 s ($MS ms)");

# ---- keyless operations over several servers name the ones that failed ----
my $LIVE     = $fleet->memcached('fault-timeouts-live', args => [ '-m', 16 ])->addr;
my $stopped2 = $fleet->memcached('fault-timeouts-stopped2', args => [ '-m', 16 ]);
my $STOPPED2 = $stopped2->addr;
$OUT = qdb("SET pylibmc_pg.servers = '$LIVE,$STOPPED'",
	"SELECT count(*) FROM mc_get_multi(ARRAY(SELECT 'to:m' || i FROM generate_series(1, 50) i))");
like($OUT, qr/ERROR:  could not get several keys on memcached server \Q$STOPPED\E\n/,
	'get_multi over a live and a stopped server: the ERROR names the stopped one');
$OUT = qdb("SET pylibmc_pg.servers = '$LIVE,$STOPPED'", 'SELECT count(*) FROM mc_stats()');
like($OUT, qr/ERROR:  could not read statistics on memcached server \Q$STOPPED\E\n/,
	'mc_stats over a live and a stopped server: the ERROR names the stopped one');
$stopped2->pause;
$OUT = qdb("SET pylibmc_pg.servers = '$STOPPED,$LIVE,$STOPPED2'", 'SELECT mc_flush_all()');
like($OUT, qr/ERROR:  could not flush all keys on memcached servers \Q$STOPPED, $STOPPED2\E\n/,
	'flush_all with two of three servers stopped: the ERROR names both');
$stopped2->resume;
$stopped->resume;

# ---- a server that never completes the TCP handshake ----
# listen(0) and connections that are never accepted fill the accept queue:
# the kernel then drops further SYNs, so connect() itself waits.
my $portfile = $fleet->dir . '/blackhole.port';
my $bh       = $fleet->spawn(
	'blackhole',
	[ 'python3', '-c', <<'PY' ],
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(0)
held = []
for _ in range(3):
    c = socket.socket()
    c.settimeout(0.3)
    try:
        c.connect(s.getsockname())
    except OSError:
        pass
    held.append(c)
print(s.getsockname()[1], flush=True)
while True:
    time.sleep(60)
PY
	stdout => $portfile,
	ready  => sub { -s $portfile && slurp_file($portfile) =~ /^\d+\n/ });
my ($BH_PORT) = slurp_file($portfile) =~ /^(\d+)/;
timed("SET pylibmc_pg.servers = '127.0.0.1:$BH_PORT'", "SELECT mc_get('to:k')");
between($MS, 900, 1999, "connect to an unanswering host gives up after about 1 s by default ($MS ms)");
like($OUT, qr/ERROR:  could not get key "to:k" on memcached server 127\.0\.0\.1:$BH_PORT/,
	'... as an ERROR naming the server');
timed("SET pylibmc_pg.servers = '127.0.0.1:$BH_PORT'; SET pylibmc_pg.behaviors = 'connect_timeout=300'",
	"SELECT mc_get('to:k')");
between($MS, 0, 799, "with connect_timeout=300 it gives up within 0.8 s ($MS ms)");
$bh->stop;
