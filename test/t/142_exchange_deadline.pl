# test/t/142_exchange_deadline.pl: every call is bounded as a whole, and a
# cancel, statement_timeout or terminate takes effect during a wait.
#
# libmemcached 1.1.4 bounds each poll(), not a request, and the extension
# had to block signals around every call (1.1.4's poll loop mishandles
# EINTR), so:
#   - a server that drips one byte every 0.5 s held mc_get for as long as it
#     dripped (a 40-byte value: 20 s and more), whatever _poll_timeout and
#     statement_timeout said;
#   - mc_get_multi of 100,000 keys to a server that reads nothing (a
#     SIGSTOPped memcached; here the scripted peer's "stall") waited one
#     _poll_timeout per buffer written: 31 s under statement_timeout = 1s;
#   - a cancel or terminate took effect only when the wait ended, one whole
#     _poll_timeout later (5 s here).
# With the patched copy (patches/libmemcached/0005) the guard answers
# libmemcached's wait callback: a request ends about one _poll_timeout after
# its first wait, and a pending cancel or terminate gives it up within
# PMC_WAIT_SLICE_MS (exchange.c), closing its connection.  Each check
# below, timed from the statement's start, would take many seconds on the
# unpatched library; the limits leave room for a loaded 2-core machine.
# After each cancel the same session reads the right value from a real
# memcached that was stopped across the cancel, so no half-read reply
# survives.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use PmcFleet;
use PmcTest;

plan tests => 40;

my $fleet = PmcFleet->new;
my $mc    = $fleet->memcached('exch-deadline', args => [ '-m', 16 ]);
my $ADDR  = $mc->addr;
my $node  = pmc_node('deadline');
my $DB    = 'pmc_exch_deadline';
pmc_createdb($node, $DB);

my $sess = pmc_session($node, $DB, verbose => 1);
my $TARGET_PID = $sess->query('SELECT pg_backend_pid()');

# settings SQL: a clean session state plus SQL
sub settings { $sess->query("RESET ALL; $_[0]"); return; }

# timed SQL [LIMIT_S]: run SQL in the session; its output (or what it
# printed until it ended or LIMIT_S passed) and the milliseconds it took
sub timed
{
	my ($q, $limit, $during) = @_;
	my $t0 = now_ms();
	$sess->send($q);
	my $bg  = $during ? $during->() : undef;
	my $out = $sess->wait($limit // 60) // $sess->{partial};
	my $ms  = now_ms() - $t0;
	$bg->finish if $bg;
	return ($out, $ms);
}

my $n_peer = 0;

# ---- a server that drips its reply ----
for my $proto ('off', 'on')
{
	my $p    = $fleet->peer('drip' . ++$n_peer, 'drip');
	my $DRIP = $p->addr;
	settings("SET pylibmc_pg.servers = '$DRIP'; SET pylibmc_pg.binary_protocol = $proto; "
		  . "SET pylibmc_pg.behaviors = '_poll_timeout=1000'");
	my ($out, $ms) = timed("SELECT mc_get('k')");
	between($ms, 900, 2500, "drip, binary=$proto, _poll_timeout 1000: mc_get ends after about one timeout ($ms ms)");
	like($out, qr/\AERROR:  08[0-9A-Z]{3}: /, "drip, binary=$proto: ... with an ERROR of class 08");
	unlike($out, qr/dddd/, "drip, binary=$proto: ... and no value");
	settings("SET pylibmc_pg.servers = '$DRIP'; SET pylibmc_pg.binary_protocol = $proto; "
		  . "SET pylibmc_pg.behaviors = '_poll_timeout=5000'; SET statement_timeout = '1s'");
	($out, $ms) = timed("SELECT mc_get('k')");
	between($ms, 900, 1800,
		"drip, binary=$proto, statement_timeout 1s, _poll_timeout 5000: ends at the statement timeout ($ms ms)");
	like($out, qr/\AERROR:  57014: /, "drip, binary=$proto: ... as a statement timeout (57014)");
	$p->stop;
}

# ---- a multi-get of 100,000 keys to a server that reads nothing ----
my $MULTI = "SELECT count(*) FROM mc_get_multi(array(SELECT 'multi-key-' || i FROM generate_series(1, 100000) i))";
for my $proto ('off', 'on')
{
	my $p     = $fleet->peer('stall' . ++$n_peer, 'stall');
	my $STALL = $p->addr;
	settings("SET pylibmc_pg.servers = '$STALL'; SET pylibmc_pg.binary_protocol = $proto; "
		  . "SET pylibmc_pg.behaviors = '_poll_timeout=1000'");
	my ($out, $ms) = timed($MULTI);
	between($ms, 900, 3500,
		"stalled server, binary=$proto: mc_get_multi of 100,000 keys ends after about one timeout ($ms ms)");
	like($out, qr/\AERROR:  08[0-9A-Z]{3}: /, "stalled server, binary=$proto: ... with an ERROR of class 08");
	settings("SET pylibmc_pg.servers = '$STALL'; SET pylibmc_pg.binary_protocol = $proto; "
		  . "SET pylibmc_pg.behaviors = '_poll_timeout=5000'; SET statement_timeout = '1s'");
	($out, $ms) = timed($MULTI);
	between($ms, 900, 2500,
		"stalled server, binary=$proto, statement_timeout 1s: mc_get_multi ends at the statement timeout ($ms ms)");
	like($out, qr/\AERROR:  57014: /, "stalled server, binary=$proto: ... as a statement timeout (57014)");
	$p->stop;
}

# ---- a cancel at a random moment of a wait, then the same session reads right ----
# served: the session reads dl:k2 again within 6 s (a server woken after a
# timeout may be marked failed for retry_timeout)
sub served
{
	for (1 .. 60)
	{
		return 1 if ($sess->query("SELECT mc_get('dl:k2')") // '') eq 'v2';
		usleep(100_000);
	}
	return 0;
}

# cancel_round PROTO SQL LABEL: stop the server, start SQL, cancel it at a
# random moment between 0.1 and 0.9 s, check it ended within 600 ms of the
# cancel and as a cancel, wake the server, check the session reads k1..k3
sub cancel_round
{
	my ($proto, $q, $label) = @_;
	settings("SET pylibmc_pg.servers = '$ADDR'; SET pylibmc_pg.binary_protocol = $proto; "
		  . "SET pylibmc_pg.behaviors = 'connect_timeout=5000, _poll_timeout=5000'");
	served();
	$sess->query("SELECT mc_set('dl:k1', 'v1') AND mc_set('dl:k2', 'v2') AND mc_set('dl:k3', 'v3')");
	$mc->pause_stopped;
	my $at_ms = 100 + int(rand(800));
	my $at    = sprintf('%.3f', $at_ms / 1000);
	my ($out, $ms) = timed($q, 30,
		sub {
			sql_start($node, $DB,
				[   'DO $$ DECLARE t0 timestamptz := clock_timestamp(); BEGIN '
					  . "PERFORM pg_sleep(greatest(0, $at - extract(epoch FROM clock_timestamp() - t0))); "
					  . "PERFORM pg_cancel_backend($TARGET_PID); END \$\$" ]);
		});
	between($ms, 0, $at_ms + 600, "$label: a cancel at $at_ms ms ends it at $ms ms (not at the 5 s timeout)");
	like($out, qr/\AERROR:  57014: /, "$label: ... as a cancel (57014)");
	$mc->resume;
	served();
	is($sess->query("SELECT string_agg(key || '=' || value, ',' ORDER BY key) "
		  . "FROM mc_get_multi(ARRAY['dl:k1', 'dl:k2', 'dl:k3'])"),
		'dl:k1=v1,dl:k2=v2,dl:k3=v3', "$label: then the same session reads k1..k3 right (nothing half-read)");
	return;
}

for my $proto ('off', 'on')
{
	cancel_round($proto, "SELECT mc_get('dl:x')", "binary=$proto, mc_get");
	cancel_round($proto, "SELECT count(*) FROM mc_get_multi(ARRAY['dl:k1', 'dl:x', 'dl:k3'])",
		"binary=$proto, mc_get_multi");
	cancel_round($proto, "SELECT mc_set('dl:big', repeat('x', 600000))", "binary=$proto, mc_set of 600 kB");
}
is($sess->query('SELECT pg_backend_pid()'), $TARGET_PID, 'every round in one backend');

# ---- a terminate during a wait ends the backend at once ----
settings("SET pylibmc_pg.servers = '$ADDR'; SET pylibmc_pg.behaviors = 'connect_timeout=5000, _poll_timeout=5000'");
served();
$mc->pause_stopped;
my ($out, $ms) = timed("SELECT mc_get('dl:x')", 30,
	sub {
		sql_start($node, $DB,
			[ "DO \$\$ BEGIN PERFORM pg_sleep(0.4); PERFORM pg_terminate_backend($TARGET_PID); END \$\$" ]);
	});
$mc->resume;
between($ms, 0, 1200, "a terminate at 0.4 s ends the backend at $ms ms (not at the 5 s timeout)");
like($out, qr/terminating connection due to administrator command|server closed the connection/, '... as a terminate');
is(sql($node, $DB, ["SELECT count(*) FROM pg_stat_activity WHERE pid = $TARGET_PID"]), '0', '... and the backend is gone');
$sess->quit;
