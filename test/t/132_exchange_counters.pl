# test/t/132_exchange_counters.pl: no increment is lost.
#
# N = 4 sessions, released together from an advisory lock, each make
# M = 300 calls of mc_incr(key, 1, 0) on one key that is missing at the
# start, in each on_error mode, ROUNDS times with a fresh key.  The call
# that creates the key returns (and stores) the initial value 0, every
# other call adds 1: the key must end at exactly N * M - 1, and no call may
# return NULL (nothing failed: a lost add race is not a miss).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use PmcFleet;
use PmcTest;

my ($N, $M, $ROUNDS, $LOCK) = (4, 300, 4, 4212);
plan tests => 9;

my $fleet = PmcFleet->new;
my $TCP   = $fleet->memcached('tcp')->addr;
my $node  = pmc_node('counters', "pylibmc_pg.servers = '$TCP'");
my $DB    = 'pmc_exch_counters';
pmc_createdb($node, $DB);

sub qdb { return sql($node, $DB, [@_]); }

my $s = pmc_session($node, $DB);
for my $mode (qw(error warning ignore))
{
	my @finals;
	my ($nulls, $errors, $races) = (0, 0, 0);
	for my $r (1 .. $ROUNDS)
	{
		my $key = "ic:$mode:$r:$$";
		qdb("SET pylibmc_pg.servers = '$TCP'", "SELECT mc_delete('$key')");
		$s->query("SELECT pg_advisory_lock($LOCK)");
		my @h = map {
			sql_start($node, $DB,
				[ "SET pylibmc_pg.servers = '$TCP'", "SET pylibmc_pg.on_error = '$mode'",
					"SELECT mc_get('warm-up')", "SELECT pg_advisory_lock_shared($LOCK)",
					"SELECT 'nulls=' || count(*) FILTER (WHERE v IS NULL) || ' zeros=' || count(*) FILTER (WHERE v = 0)
					FROM (SELECT mc_incr('$key', 1, 0) AS v FROM generate_series(1, $M)) s" ])
		} 1 .. $N;
		for (1 .. 200)
		{
			last
			  if qdb("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = $LOCK AND NOT granted")
			  eq $N;
			usleep(50_000);
		}
		$s->query("SELECT pg_advisory_unlock($LOCK)");
		my @outs = map { scalar $_->finish } @h;
		push @finals, qdb("SET pylibmc_pg.servers = '$TCP'", "SELECT mc_get('$key', NULL::bigint)");
		my %seen;
		for my $out (@outs)
		{
			my ($n) = $out =~ /^nulls=(\d+)/m;
			my ($z) = $out =~ / zeros=(\d+)/;
			$nulls += $n // 0;
			$races += $z // 0;
			$errors++ if $out =~ /^ERROR/m;
			$seen{$_}++ for grep { /^(ERROR|WARNING)/ } split /\n/, $out;
		}
		diag("$seen{$_} $_") for (sort keys %seen)[ 0 .. (keys %seen > 3 ? 2 : keys(%seen) - 1) ];
	}
	diag("on_error=$mode: finals @finals; NULL results $nulls; results 0 (the creating call): $races");
	my $want = $N * $M - 1;
	my $bad  = grep { $_ ne $want } @finals;
	is($bad, 0,
		"on_error=$mode: $N sessions x $M incr with initial end at exactly $want, in each of $ROUNDS rounds (@finals)");
	is($nulls,  0, "on_error=$mode: ... no call returned NULL");
	is($errors, 0, "on_error=$mode: ... no session got an ERROR");
}
$s->quit;
