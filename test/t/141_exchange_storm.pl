# test/t/141_exchange_storm.pl: a signal never changes a result, and never
# leaves a reply on a connection for a later call.
#
# Three servers, 30 keys stored.  One session runs mc_get_multi of the 30
# keys in a loop for LOOP_S seconds (each call's rows checked: all 30, all
# with their own value; every tenth call an mc_incr of a counter that must
# go up by exactly one) while another session runs pg_reload_conf() every
# 3 ms (each reload signals every backend).  Then the same with
# pg_cancel_backend hitting some of the calls: a cancelled call may end in
# 57014, every other one must be whole and right.  Afterwards mc_get,
# mc_incr and mc_get_multi in the same session read right values.  In both
# protocols.
#
# With libmemcached 1.1.4 an EINTR shortens the poll (see
# 140_exchange_signals.pl), so a multi-get ends early with part of the rows
# and no error; in binary the unread replies are then read by the next
# calls.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PmcFleet;
use PmcTest;

my $LOOP_S   = $ENV{PMC_STORM_SECONDS} || 12;
my $CANCEL_S = 8;
plan tests => 30;

my $fleet = PmcFleet->new;
my $MULTI = join(',', map { $fleet->memcached($_)->addr } 'm1', 'm2', 'm3');
my $node  = pmc_node('storm');
my $DB    = 'pmc_exch_storm';
pmc_createdb($node, $DB);

sql($node, $DB, [ q{CREATE FUNCTION storm_loop(secs float8) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	keys text[] := ARRAY(SELECT 'sm:' || i FROM generate_series(1, 30) i);
	t_end timestamptz := clock_timestamp() + secs * interval '1 s';
	calls int := 0; short int := 0; wrong int := 0; badincr int := 0;
	c int; w int; n bigint; prev bigint := 0;
BEGIN
	PERFORM mc_set('sm:ctr', 0);
	WHILE clock_timestamp() < t_end LOOP
		SELECT count(*), count(*) FILTER (WHERE value IS DISTINCT FROM 'v' || substr(key, 4))
			INTO c, w FROM mc_get_multi(keys);
		calls := calls + 1;
		IF c <> 30 THEN short := short + 1; END IF;
		IF w <> 0 THEN wrong := wrong + 1; END IF;
		IF calls % 10 = 0 THEN
			n := mc_incr('sm:ctr');
			IF n IS DISTINCT FROM prev + 1 THEN badincr := badincr + 1; END IF;
			prev := coalesce(n, prev);
		END IF;
	END LOOP;
	RETURN format('calls=%s short=%s wrong=%s badincr=%s', calls, short, wrong, badincr);
END $$} ]);

my $sess = pmc_session($node, $DB, verbose => 1);
my $TARGET_PID = $sess->query('SELECT pg_backend_pid()');

my $GOOD_MULTI = "SELECT count(*) FILTER (WHERE value = 'v' || substr(key, 4)) "
  . "FROM mc_get_multi(ARRAY(SELECT 'sm:' || i FROM generate_series(1, 30) i))";
my $batch = "$PostgreSQL::Test::Utils::tmp_check/storm-batch.sql";

for my $proto ('off', 'on')
{
	$sess->query("RESET ALL; SET pylibmc_pg.servers = '$MULTI'; SET pylibmc_pg.binary_protocol = $proto");
	is($sess->query("SELECT bool_and(mc_set('sm:' || i, 'v' || i)) FROM generate_series(1, 30) i"), 't',
		"binary=$proto: 30 keys stored on three servers");

	# ---- the loop under a SIGHUP storm ----
	my $storm = sql_start($node, $DB,
		[   "DO \$\$ DECLARE t_end timestamptz := clock_timestamp() + interval '"
			  . ($LOOP_S + 1) . " s'; BEGIN
		WHILE clock_timestamp() < t_end LOOP
			PERFORM pg_reload_conf();
			PERFORM pg_sleep(3 / 1000.0);
		END LOOP; END \$\$" ]);
	my $out = $sess->query("SELECT storm_loop($LOOP_S)", $LOOP_S + 60) // $sess->{partial};
	$storm->finish;
	diag("binary=$proto: $out");
	unlike($out, qr/ERROR/, "binary=$proto: $LOOP_S s of get_multi under pg_reload_conf every 3 ms: no error");
	my ($calls) = $out =~ /calls=(\d+)/;
	between($calls // 0, 200, 100000000, "binary=$proto: ... " . ($calls // 0) . ' calls made');
	like($out, qr/short=0 /,   "binary=$proto: ... no short result");
	like($out, qr/wrong=0 /,   "binary=$proto: ... no wrong value");
	like($out, qr/badincr=0\z/, "binary=$proto: ... every mc_incr went up by one");
	is($sess->query("SELECT mc_set('sm:after', 'fresh') AND mc_get('sm:after') = 'fresh'"), 't',
		"binary=$proto: afterwards a set and a get in the same session are right");
	my $before = $sess->query("SELECT mc_get('sm:ctr', NULL::bigint)");
	$before = 0 unless ($before // '') =~ /^\d+$/;
	is($sess->query("SELECT mc_incr('sm:ctr', 5)"), $before + 5,
		"binary=$proto: ... mc_incr gives the counter + 5 ($before + 5)");

	# ---- the same, with cancels hitting some calls ----
	# as many single statements as the loop made calls in CANCEL_S
	my $n = int(($calls // 6000) * $CANCEL_S / $LOOP_S);
	$n = 200  if $n < 200;
	$n = 4000 if $n > 4000;
	open my $fh, '>', $batch or die "$batch: $!";
	print $fh ($_ % 10 == 0 ? "SELECT 'i:' || coalesce(mc_incr('sm:ctr2')::text, 'NULL');\n" : "$GOOD_MULTI;\n")
	  for 1 .. $n;
	close $fh;
	$sess->query("SELECT mc_set('sm:ctr2', 0)");
	my $canceller = sql_start($node, $DB,
		[   "DO \$\$ DECLARE t_end timestamptz := clock_timestamp() + interval '"
			  . ($CANCEL_S + 4) . " s'; k int := 0; hits int := 0; BEGIN
		WHILE clock_timestamp() < t_end LOOP
			PERFORM pg_reload_conf();
			k := k + 1;
			IF k % 20 = 0 THEN PERFORM pg_stat_clear_snapshot(); END IF;
			IF k % 20 = 0 AND EXISTS (SELECT FROM pg_stat_activity WHERE pid = $TARGET_PID AND state = 'active' AND query LIKE '%mc_%') THEN
				IF pg_cancel_backend($TARGET_PID) THEN hits := hits + 1; END IF;
			END IF;
			PERFORM pg_sleep(0.003);
		END LOOP;
		RAISE NOTICE 'cancels sent: %', hits; END \$\$" ]);
	my $t0 = now_ms();
	$out = $sess->query("\\i $batch", $CANCEL_S * 4 + 60) // $sess->{partial};
	my $batch_ms = now_ms() - $t0;
	my $sig_out  = $canceller->finish;
	my ($sent) = $sig_out =~ /(cancels sent: \d+)/;
	diag("binary=$proto: the batch took $batch_ms ms; " . ($sent // $sig_out));
	# (psql prefixes the messages of an \i file with psql:FILE:LINE: )
	my @lines     = split /\n/, $out;
	my $cancelled = grep { /ERROR:  57014:/ } @lines;
	my @others    = grep { /ERROR:/ && !/ERROR:  57014:/ } @lines;
	my $results   = grep { /^(\d+|i:\d+|i:NULL)$/ } @lines;
	my $nulls     = grep { /^i:NULL$/ } @lines;
	my $short     = grep { /^\d+$/ && $_ ne '30' } @lines;
	my @ctr       = map { /^i:(\d+)$/ ? $1 : () } @lines;
	my $nonmono   = grep { $ctr[$_] <= $ctr[ $_ - 1 ] } 1 .. $#ctr;
	diag("binary=$proto: $n statements: $results results, $cancelled cancelled, " . scalar(@others)
		  . " other errors, $short short, $nulls NULL increments, $nonmono counter steps backwards");
	between($cancelled, 1, $n, "binary=$proto: with cancels: some calls were cancelled ($cancelled)");
	is(scalar(@others), 0, "binary=$proto: ... no error other than the cancel");
	my %seen;
	$seen{ s/^psql:\S*: //r }++ for @others;
	my @kinds = sort keys %seen;
	diag("$seen{$_} $_") for @kinds[ 0 .. ($#kinds < 4 ? $#kinds : 4) ];
	is($short,   0, "binary=$proto: ... every get_multi that was not cancelled returned its 30 right rows");
	is($nonmono, 0, "binary=$proto: ... the counter never went backwards");
	is($nulls,   0, "binary=$proto: ... and no mc_incr of it came back NULL");
	is($sess->query("SELECT mc_set('sm:after', 'fresh2') AND mc_get('sm:after') = 'fresh2'"), 't',
		"binary=$proto: afterwards a set and a get in the same session are right");
	$before = $sess->query("SELECT mc_get('sm:ctr', NULL::bigint)");
	$before = 0 unless ($before // '') =~ /^\d+$/;
	is($sess->query("SELECT mc_incr('sm:ctr', 5)"), $before + 5, "binary=$proto: ... mc_incr gives the counter + 5");
}
$sess->quit;
