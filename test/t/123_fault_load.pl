# test/t/123_fault_load.pl: pgbench under faults.
#
# pgbench -n -c 2 -T 30 runs gets, get_multis and sets of random keys whose
# value is md5(key), so any wrong value is detected (1 / (random() * 0)::int,
# which the planner cannot fold, raises division_by_zero), with
# pylibmc_pg.on_error = warning, against a memcached that is SIGKILLed at
# 8 s and restarted at 11 s, then SIGSTOPped for 2 s at 18 s.  Asserts:
# pgbench exits 0, no wrong value, no backend crash (no "terminated by
# signal" in the postgres log), the server was used again after its
# restart, failures were reported as WARNINGs.  PMC_LOAD_SECONDS sets the
# run's length (default 30).
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PmcFleet;
use PmcTest;

my $DURATION = $ENV{PMC_LOAD_SECONDS} // 30;
plan tests => 7;

my $fleet = PmcFleet->new;
my $TCP   = $fleet->memcached('tcp')->addr;
my $mc    = $fleet->memcached('fault-load', args => [ '-m', 32 ]);
my $ADDR  = $mc->addr;
# every statement of pgbench's is not worth a log line
my $node = pmc_node('load', "pylibmc_pg.servers = '$TCP'\nlog_statement = none");
my $DB   = 'pmc_fault_load';
pmc_createdb($node, $DB);

sub qdb { return sql($node, $DB, [@_]); }

my $script = PostgreSQL::Test::Utils::tempdir('load') . '/script.sql';
append_to_file($script, <<'SQL');
\set a random(1, 2000)
\set b random(1, 2000)
SELECT CASE WHEN v IS NOT NULL AND v <> md5('ld:' || :a) THEN 1 / (random() * 0)::int END FROM (SELECT mc_get('ld:' || :a) AS v) s;
SELECT CASE WHEN count(*) FILTER (WHERE value <> md5(key)) > 0 THEN 1 / (random() * 0)::int END FROM mc_get_multi(ARRAY['ld:' || :a, 'ld:' || :b, 'ld:' || (:a + 1)]);
SELECT mc_set('ld:' || :b, md5('ld:' || :b));
SQL

my $log_start = -s $node->logfile;
my ($bout, $berr) = ('', '');
my $bench;
{
	local $ENV{PGOPTIONS} = "-c pylibmc_pg.servers=$ADDR -c pylibmc_pg.on_error=warning";
	$bench = IPC::Run::start(
		[ 'pgbench', '-n', '-c', 2, '-j', 2, '-T', $DURATION, '-f', $script,
			'-h', $node->host, '-p', $node->port, $DB ],
		'>', \$bout, '2>', \$berr);
}

# sleep_pumping S: wait S seconds, reading pgbench's output meanwhile
sub sleep_pumping
{
	my $until = Time::HiRes::time() + $_[0];
	while (Time::HiRes::time() < $until)
	{
		$bench->pump_nb;
		Time::HiRes::usleep(50_000);
	}
	return;
}

sleep_pumping(8);
kill 'KILL', $mc->pid;
sleep_pumping(3);
$mc->restart or diag('restart failed');
sleep_pumping(7);
$mc->pause;
sleep_pumping(2);
$mc->resume;
# finish is true when pgbench exited 0; else its exit status
my $rc = $bench->finish ? 0 : $bench->full_result(0) >> 8;

is($rc, 0, 'pgbench exits 0');
my ($txns) = $bout =~ /^number of transactions actually processed: (\d+)/m;
between($txns // 0, 1000, 1000000000, 'pgbench processed ' . ($txns // 0) . ' transactions');
my $n = () = $berr =~ /division by zero/g;
is($n, 0, 'no wrong value was ever read (no division_by_zero)');
$n = () = substr(slurp_file($node->logfile), $log_start) =~ /terminated by signal/g;
is($n, 0, 'no backend crashed (postgres log)');
my $warnings = () = $berr =~ /^WARNING:  could not .* on memcached server/mg;
between($warnings, 1, 100000000, "the outage was reported as WARNINGs ($warnings)");
my $sets = qdb("SET pylibmc_pg.servers = '$ADDR'", "SELECT value FROM mc_stats() WHERE name = 'cmd_set'");
between($sets eq '' ? 0 : $sets, 100, 1000000000, "the restarted server was written to again ($sets sets since its restart)");
is( qdb("SET pylibmc_pg.servers = '$ADDR'",
		"SELECT count(*) FROM generate_series(1, 2000) i WHERE mc_get('ld:' || i) <> md5('ld:' || i)"),
	'0', 'every key left in the server holds md5(key)');
diag(join "\n", (split /\n/, $berr)[-20 .. -1]) if $rc != 0;
