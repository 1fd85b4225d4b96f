# test/t/140_exchange_signals.pl: no call waits past the configured
# timeouts, whatever signals arrive meanwhile.
#
# A private memcached is SIGSTOPped (it accepts, never answers).  One
# session calls it while other sessions send statement_timeout, cancels
# (pg_cancel_backend), SIGHUPs (pg_reload_conf signals every backend) and
# SIGUSR1s (NOTIFY to the listening session) at different moments of the
# call.  Each call must return within its configured timeouts
# (connect_timeout + _poll_timeout) + statement_timeout + 1.5 s; a cancel
# that arrives during the call takes effect when it returns (the statement
# ends in ERROR 57014, or in the call's own connection ERROR; under
# on_error = 'ignore' it must be 57014, not a NULL).  After SIGCONT the
# same session reads the right values (no reply left on a socket).
#
# libmemcached 1.1.4 subtracts the elapsed time again at each EINTR, so
# the second signal makes the poll timeout negative: an infinite poll().
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use PmcFleet;
use PmcTest;

plan tests => 49;

my $fleet = PmcFleet->new;
my $mc    = $fleet->memcached('exch-signals', args => [ '-m', 16 ]);
my $ADDR  = $mc->addr;
my $node  = pmc_node('signals');
my $DB    = 'pmc_exch_signals';
pmc_createdb($node, $DB);

my $sess = pmc_session($node, $DB, verbose => 1);
my $TARGET_PID = $sess->query('SELECT pg_backend_pid()');
$sess->query('LISTEN exch');

# events "T:WHAT ...": one DO block that sleeps until each moment (seconds
# from its own start) and then signals: reload (pg_reload_conf: SIGHUP to
# every backend), notify (NOTIFY exch: SIGUSR1 to the listening session),
# cancel (pg_cancel_backend of the session's backend)
sub events
{
	my $sql = 'DO $$ DECLARE t0 timestamptz := clock_timestamp(); BEGIN ';
	for my $ev (split ' ', $_[0])
	{
		my ($t, $what) = split /:/, $ev, 2;
		$sql .= "PERFORM pg_sleep(greatest(0, $t - extract(epoch FROM clock_timestamp() - t0))); ";
		$sql .= {
			reload => 'PERFORM pg_reload_conf(); ',
			notify => "PERFORM pg_notify('exch', 'x'); ",
			cancel => "PERFORM pg_cancel_backend($TARGET_PID); "
		}->{$what};
	}
	return "$sql END \$\$";
}

# storm SECONDS PERIOD_MS: pg_reload_conf() every PERIOD_MS for SECONDS
sub storm
{
	my ($secs, $period) = @_;
	return "DO \$\$ DECLARE t_end timestamptz := clock_timestamp() + interval '$secs s'; BEGIN
		WHILE clock_timestamp() < t_end LOOP
			PERFORM pg_reload_conf();
			PERFORM pg_sleep($period / 1000.0);
		END LOOP; END \$\$";
}

# settings SQL: reset the session to the private server plus SQL
sub settings { $sess->query("RESET ALL; SET pylibmc_pg.servers = '$ADDR'; $_[0]"); return; }

# served: the session reads sg:k3 again within 6 s (a server woken after a
# timeout may be marked failed for retry_timeout)
sub served
{
	for (1 .. 60)
	{
		return 1 if ($sess->query("SELECT mc_get('sg:k3')") // '') eq 'v3';
		usleep(100_000);
	}
	return 0;
}

# scenario LABEL MIN_MS MAX_MS SQL EVENTS_SQL WANT: stop the server, send
# SQL with the signaller running EVENTS_SQL, check the time (MIN_MS > 0: a
# timeout must not come early either) and the outcome, wake the server,
# check the session reads right values
sub scenario
{
	my ($label, $min, $limit, $q, $ev, $want) = @_;
	served();
	$sess->query("SELECT mc_set('sg:k1', 'v1') AND mc_set('sg:k2', 'v2') AND mc_set('sg:k3', 'v3')");
	$mc->pause_stopped;
	$sess->send($q);
	my $t0  = now_ms();
	my $sig = sql_start($node, $DB, [$ev]);
	my $out = $sess->wait(12);
	my $ms  = now_ms() - $t0;
	if (!defined $out)
	{
		diag("$label: still waiting after 12 s; SIGCONT");
		$mc->resume;
		$out = $sess->wait(60) // $sess->{partial};
		$ms  = now_ms() - $t0;
		diag("$label: ended $ms ms after it started, once the server woke");
	}
	$sig->finish;
	between($ms, 0, $limit, "$label: returns within $limit ms ($ms ms)");
	between($ms, $min, 999999, "$label: ... and its timeout is not cut short by the signals (>= $min ms)")
	  if $min > 0;
	like($out, $want, "$label: ends as it should");
	$mc->resume;
	usleep(300_000);    # the server answers the stale requests now
	served();
	is($sess->query("SELECT mc_get('sg:k2')"), 'v2', "$label: then the session reads k2 right");
	is($sess->query("SELECT string_agg(key || '=' || value, ',' ORDER BY key) "
		  . "FROM mc_get_multi(ARRAY['sg:k1', 'sg:k2', 'sg:k3'])"),
		'sg:k1=v1,sg:k2=v2,sg:k3=v3', "$label: and a get_multi reads all three right");
	return;
}

my $CANCELLED   = qr/ERROR:  (57014|08[0-9A-Z]{3}): /;
my $ONLY_CANCEL = qr/ERROR:  57014: /;
my $TIMEOUT_ERR = qr/ERROR:  08[0-9A-Z]{3}: could not/;

# ---- defaults (connect_timeout 1 s, _poll_timeout 1 s) ----
# the repro: statement_timeout 400ms, one cancel at 0.7 s
settings("SET statement_timeout = '400ms'");
scenario('repro (statement_timeout 400ms, cancel at 0.7 s)', 0, 1000 + 1000 + 400 + 1500,
	"SELECT mc_get('sg:x')", events('0.7:cancel'), $CANCELLED);
# two signals whose elapsed times add up past the timeout: poll(-N)
settings('');
scenario('two SIGHUPs (0.3 s, 0.8 s), no cancel', 900, 1000 + 1000 + 1500,
	"SELECT mc_get('sg:x')", events('0.3:reload 0.8:reload'), $TIMEOUT_ERR);
settings('');
scenario('a SIGHUP at 0.3 s, a cancel at 0.8 s', 0, 1000 + 1000 + 1500,
	"SELECT mc_get('sg:x')", events('0.3:reload 0.8:cancel'), $CANCELLED);

# ---- short timeouts, many signals at different moments ----
my $T = 'connect_timeout=500, _poll_timeout=500';
settings("SET pylibmc_pg.behaviors = '$T'; SET statement_timeout = '400ms'");
scenario('statement_timeout + reloads + notifies + cancel', 0, 500 + 500 + 400 + 1500,
	"SELECT mc_get('sg:x')",
	events('0.05:reload 0.15:notify 0.3:reload 0.45:reload 0.6:cancel 0.7:notify 0.9:reload 1.2:reload 1.6:reload'),
	$CANCELLED);
settings("SET pylibmc_pg.behaviors = '$T'");
scenario('SIGHUP every 40 ms for 3 s, no cancel', 450, 500 + 500 + 1500,
	"SELECT mc_get('sg:x')", storm(3, 40), $TIMEOUT_ERR);
settings("SET pylibmc_pg.behaviors = '$T'");
scenario('two SIGUSR1s (NOTIFY), then a cancel', 0, 500 + 500 + 1500,
	"SELECT mc_get('sg:x')", events('0.1:notify 0.3:notify 0.42:cancel'), $CANCELLED);
settings("SET pylibmc_pg.behaviors = '$T'; SET pylibmc_pg.on_error = 'ignore'");
scenario('on_error=ignore: a cancel during the call cancels (57014, not NULL)', 0, 500 + 500 + 1500,
	"SELECT mc_get('sg:x') IS NULL AS got_null", events('0.1:reload 0.3:cancel'), $ONLY_CANCEL);
settings("SET pylibmc_pg.behaviors = '$T'; SET statement_timeout = '300ms'");
scenario('get_multi, statement_timeout + reloads', 0, 500 + 500 + 300 + 1500,
	"SELECT count(*) FROM mc_get_multi(ARRAY['sg:k1', 'sg:k2', 'sg:x'])",
	events('0.05:reload 0.35:reload 0.45:reload'), $CANCELLED);
settings("SET pylibmc_pg.behaviors = '$T'");
scenario('set of 600 kB, two SIGHUPs then a cancel', 0, 500 + 500 + 1500,
	"SELECT mc_set('sg:big', repeat('x', 600000))", events('0.1:reload 0.3:reload 0.42:cancel'), $CANCELLED);
settings("SET pylibmc_pg.behaviors = '$T'; SET pylibmc_pg.binary_protocol = on; SET statement_timeout = '400ms'");
scenario('binary get, statement_timeout + reloads + cancel', 0, 500 + 500 + 400 + 1500,
	"SELECT mc_get('sg:x')", events('0.05:reload 0.2:notify 0.35:cancel'), $CANCELLED);
settings("SET pylibmc_pg.behaviors = '$T'; SET pylibmc_pg.binary_protocol = on");
scenario('binary incr, two SIGHUPs (0.1 s, 0.35 s)', 450, 500 + 500 + 1500,
	"SELECT mc_incr('sg:n')", events('0.1:reload 0.35:reload'), $TIMEOUT_ERR);

is($sess->query('SELECT pg_backend_pid()'), $TARGET_PID, 'all of it in one backend');
is($sess->query('SELECT 1'), '1', 'the session still answers');
$sess->quit;
