# test/t/122_fault_recovery.pl: one psql session lives through server
# failures.
#
# Recovery: a memcached is killed (the session gets a connection ERROR
# naming it) and restarted on the same port; the same session is served
# again within retry_timeout (2 s by default) plus one poll, without
# mc_disconnect_all.  The same after a SIGSTOP/SIGCONT.
#
# Cancellation never leaves a reply for the next call to misread: with
# k1 = 'v1', k2 = 'v2', k3 = 'v3' stored, the server is SIGSTOPped, a get
# (or get_multi) of k1 is cancelled (statement_timeout, or pg_cancel_backend
# from another session), the server is SIGCONTed and answers the old request
# on the old socket; the next get of k2 in the same session must say 'v2'.
# Done in ASCII and binary, with on_error error and ignore, and once with
# the server waking up while libmemcached is still waiting (the reply is
# read, then the cancel lands).  libmemcached's waits cannot be interrupted:
# a cancelled statement ends when the poll times out, which is bounded.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use PmcFleet;
use PmcTest;

plan tests => 50;

my $fleet = PmcFleet->new;
my $TCP   = $fleet->memcached('tcp')->addr;
my $mc    = $fleet->memcached('fault-recovery', args => [ '-m', 16 ]);
my $ADDR  = $mc->addr;
my $node  = pmc_node('recovery', "pylibmc_pg.servers = '$TCP'");
my $DB    = 'pmc_fault_recovery';
pmc_createdb($node, $DB);

sub qdb { return sql($node, $DB, [@_]); }
# proc_state PID: the state letter of /proc/PID/stat
sub proc_state { return (split / /, slurp_file("/proc/$_[0]/stat"))[2] // '?'; }
# pause: SIGSTOP the server and wait until the kernel shows it stopped, so
# that the next request cannot reach it before the signal does
sub pause { $mc->pause_stopped; return; }

my $s = pmc_session($node, $DB);
sub sess { return $s->query(@_) // ''; }
my $PID = sess('SELECT pg_backend_pid()');
sess("SET pylibmc_pg.servers = '$ADDR'");

# ---- kill and restart ----
is(sess("SELECT mc_set('rc:k', 'before')"), 't', 'the session stores a value');
$mc->stop;
like(sess("SELECT mc_get('rc:k')"), qr/ERROR:  could not get key "rc:k" on memcached server \Q$ADDR\E/,
	'with the server killed, a get is an ERROR naming it');
$mc->restart or BAIL_OUT('cannot restart memcached');
my $t0 = now_ms();
my $served;
for (1 .. 40)
{
	if (sess("SELECT mc_set('rc:k', 'after')") eq 't') { $served = now_ms(); last; }
	usleep(100_000);
}
is(defined $served ? 'served' : '', 'served', 'after a restart on the same port the same session is served again');
my $ms = ($served // 999999) - $t0;
between($ms, 0, 3200, "... within retry_timeout (2 s) + a poll ($ms ms)");
is(sess("SELECT mc_get('rc:k')"),   'after', '... and reads what it wrote');
is(sess('SELECT pg_backend_pid()'), $PID,    '... in the same backend');

# ---- SIGSTOP, then SIGCONT ----
pause();
like(sess("SELECT mc_get('rc:k')"), qr/A TIMEOUT OCCURRED/, 'with the server stopped, a get times out');
$mc->resume;
$t0     = now_ms();
$served = undef;
for (1 .. 40)
{
	if (sess("SELECT mc_get('rc:k')") eq 'after') { $served = now_ms(); last; }
	usleep(100_000);
}
is(defined $served ? 'served' : '', 'served', 'after SIGCONT the session reads again');
$ms = ($served // 999999) - $t0;
between($ms, 0, 3200, "... within retry_timeout + a poll ($ms ms)");

# ---- cancellation ----
# store: k1..k3 with the current protocol
sub store { return sess("SELECT mc_set('rc:k1', 'v1') AND mc_set('rc:k2', 'v2') AND mc_set('rc:k3', 'v3')"); }
# wait_served: the session reads k3 (after a failure marked the server dead)
sub wait_served
{
	for (1 .. 40)
	{
		return 1 if sess("SELECT mc_get('rc:k3')") eq 'v3';
		usleep(100_000);
	}
	return 0;
}

# cancel_case LABEL SETTINGS CANCELLED_SQL: the statement_timeout case.
sub cancel_case
{
	my ($label, $settings, $sql) = @_;
	is(sess("RESET ALL; SET pylibmc_pg.servers = '$ADDR'; $settings"), '', "$label: settings accepted");
	wait_served();
	is(store(), 't', "$label: k1, k2, k3 stored");
	pause();
	my $t0  = now_ms();
	my $out = sess("SET statement_timeout = 300; $sql; RESET statement_timeout");
	my $ms  = now_ms() - $t0;
	like($out, qr/ERROR:  (canceling statement due to statement timeout|could not get)/,
		"$label: the cancelled statement ends with an ERROR");
	between($ms, 0, 1999, "$label: ... within the poll timeout ($ms ms)");
	$mc->resume;
	usleep(200_000);    # the server answers the stale request now
	wait_served();
	is(sess("SELECT mc_get('rc:k2')"), 'v2', "$label: the next get of k2 says v2, not the stale reply");
	is( sess("SELECT string_agg(key || '=' || value, ',' ORDER BY key) "
			  . "FROM mc_get_multi(ARRAY['rc:k1', 'rc:k2', 'rc:k3'])"),
		'rc:k1=v1,rc:k2=v2,rc:k3=v3',
		"$label: a get_multi after it reads the right values");
	return;
}

cancel_case('ascii get',        '', "SELECT mc_get('rc:k1')");
cancel_case('ascii get_multi',  '', "SELECT * FROM mc_get_multi(ARRAY['rc:k1', 'rc:k3'])");
cancel_case('binary get',       'SET pylibmc_pg.binary_protocol = on', "SELECT mc_get('rc:k1')");
cancel_case('binary get_multi', 'SET pylibmc_pg.binary_protocol = on',
	"SELECT * FROM mc_get_multi(ARRAY['rc:k1', 'rc:k3'])");
cancel_case('ignore mode get', 'SET pylibmc_pg.on_error = ignore', "SELECT mc_get('rc:k1')");

# wait_active: the session's backend is running the statement just sent
sub wait_active
{
	for (1 .. 50)
	{
		return 1
		  if qdb("SELECT state FROM pg_stat_activity WHERE pid = $PID AND query LIKE '%rc:k1%'") eq 'active';
		usleep(50_000);
	}
	return 0;
}

# pg_cancel_backend from another session, the server waking up while
# libmemcached still waits (poll timeout 3 s): the reply to k1 is read (or
# the call fails), the cancel lands; k2 must then read v2.
for my $proto (qw(off on))
{
	is( sess("RESET ALL; SET pylibmc_pg.servers = '$ADDR'; SET pylibmc_pg.binary_protocol = $proto; "
			  . "SET pylibmc_pg.behaviors = '_poll_timeout=3000'"),
		'', "binary=$proto: settings accepted");
	wait_served();
	store();
	my $mcpid = $mc->pid;
	pause();
	my $st1 = proc_state($mcpid);
	$s->send("SELECT mc_get('rc:k1')");
	wait_active();
	my $st2 = proc_state($mcpid);
	usleep(200_000);
	my $cancelled = qdb("SELECT pg_cancel_backend($PID)");
	my $st3       = proc_state($mcpid);
	usleep(300_000);
	$mc->resume;
	my $out = $s->wait(10) // $s->{partial};
	diag("memcached $mcpid state after SIGSTOP: $st1, when active: $st2, at cancel: $st3")
	  unless $out =~ /ERROR/;
	is($cancelled, 't', "binary=$proto: pg_cancel_backend reaches the waiting backend");
	like($out, qr/ERROR:  canceling statement due to user request/,
		"binary=$proto: the get ends cancelled once the server answers");
	is(sess("SELECT mc_get('rc:k2')"), 'v2', "binary=$proto: the next get of k2 says v2");
}

# the same with the cancel arriving and the server staying stopped past the
# poll timeout; only then woken up
sess("RESET ALL; SET pylibmc_pg.servers = '$ADDR'");
wait_served();
store();
my $mcpid = $mc->pid;
pause();
my $st1 = proc_state($mcpid);
$s->send("SELECT * FROM mc_get_multi(ARRAY['rc:k1', 'rc:k3'])");
wait_active();
usleep(200_000);
qdb("SELECT pg_cancel_backend($PID)");
my $out = $s->wait(10) // $s->{partial};
my $st2 = proc_state($mcpid);
$mc->resume;
like($out, qr/ERROR:  (canceling statement due to user request|could not get)/,
	'a cancelled get_multi on a stopped server ends');
diag("memcached $mcpid state after SIGSTOP: $st1, after the statement: $st2") unless $out =~ /ERROR/;
usleep(200_000);
wait_served();
is(sess("SELECT mc_get('rc:k2')"),  'v2', '... and the next get of k2 says v2');
is(sess('SELECT pg_backend_pid()'), $PID, 'all of it in one backend');
$s->quit;
