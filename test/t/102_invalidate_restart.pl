# test/t/102_invalidate_restart.pl: the first commit-time batch after a
# memcached restart deletes its keys.
#
# One psql session sends a batch (so the batch clients hold connections),
# the servers are restarted, the session stores the keys again (its main
# client reconnects: a set is retried once on a connection the server
# closed), then queues them with mc_delete_on_commit and commits.  The
# batch's connections are the ones the old servers closed: were they
# reused as they are, the commit would say "WARNING: could not delete N of
# N keys ... CONNECTION FAILURE" and the keys would stay cached.  No
# WARNING, every key gone, and the next transaction is right too.  ASCII
# and binary, one server and two (both restarted, or only one), with and
# without pylibmc_pg.invalidation_hold (tombstone sets).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use PmcFleet;
use PmcTest;

plan tests => 30;

my $fleet = PmcFleet->new;
my $TCP   = $fleet->memcached('tcp')->addr;
my %mc    = map { $_ => $fleet->memcached("inval-restart-$_", args => [ '-m', 16 ]) } qw(a b);
my ($A, $B) = map { $mc{$_}->addr } qw(a b);
my $node = pmc_node('restart', "pylibmc_pg.servers = '$TCP'");
my $DB   = 'pmc_inval_restart';
pmc_createdb($node, $DB);

my $s     = pmc_session($node, $DB);
my $N     = 20;
my $KEYS  = "array(SELECT 'rs:' || i FROM generate_series(1, $N) i)";
my $STORE = "SELECT count(*) FILTER (WHERE NOT mc_set('rs:' || i, 'v' || i)) FROM generate_series(1, $N) i";
my $QUEUE = "SELECT count(*) FROM (SELECT mc_delete_on_commit('rs:' || i) FROM generate_series(1, $N) i) d";
my $LEFT  = "SELECT count(*) FROM mc_get_multi($KEYS)";

# store_until_served: the main client stores every key (it may take a
# retry_timeout after the restart)
sub store_until_served
{
	my $out;
	for (1 .. 40)
	{
		$out = $s->query($STORE);
		return 1 if defined $out && $out eq '0';
		usleep(100_000);
	}
	diag('could not store the keys again: ' . ($out // 'no answer'));
	return 0;
}

# round LABEL SERVERS BINARY HOLD RESTART...: prime, restart, store, queue, commit
sub round
{
	my ($label, $servers, $binary, $hold, @restart) = @_;
	$s->query("SET pylibmc_pg.servers = '$servers'; SET pylibmc_pg.binary_protocol = $binary; "
		  . "SET pylibmc_pg.invalidation_hold = $hold");
	# prime: a batch before the restart, so the batch clients are connected
	$s->query($STORE);
	my $out = $s->query("BEGIN; $QUEUE; COMMIT; $LEFT") // '';
	diag("$label: the batch before the restart: $out") unless $out =~ /\n0\z/;
	for my $name (@restart)
	{
		BAIL_OUT("cannot restart inval-restart-$name") unless $mc{$name}->restart;
	}
	store_until_served();
	$out = $s->query("BEGIN; $QUEUE; COMMIT") // '';
	unlike($out, qr/WARNING/, "$label: the first batch after the restart commits without a WARNING");
	is($s->query($LEFT), '0', "$label: ... and every key is gone");
	$s->query($STORE);
	is($s->query("BEGIN; $QUEUE; COMMIT; $LEFT"), "20\n0", "$label: the next batch too");
	return;
}

round('ASCII, one server',                   $A,      'off', 0,  'a');
round('binary, one server',                  $A,      'on',  0,  'a');
round('ASCII, one server, hold',             $A,      'off', 30, 'a');
round('binary, one server, hold',            $A,      'on',  30, 'a');
round('ASCII, two servers, both restarted',  "$A,$B", 'off', 0,  'a', 'b');
round('binary, two servers, both restarted', "$A,$B", 'on',  0,  'a', 'b');
round('ASCII, two servers, one restarted',   "$A,$B", 'off', 0,  'b');
round('binary, two servers, one restarted',  "$A,$B", 'on',  0,  'b');
round('ASCII, two servers, hold',            "$A,$B", 'off', 30, 'a', 'b');
round('binary, two servers, hold',           "$A,$B", 'on',  30, 'a', 'b');
$s->quit;
