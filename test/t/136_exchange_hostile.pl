# test/t/136_exchange_hostile.pl: no reply crashes the backend.
#
# libmemcached 1.1.4, unpatched, crashes the backend (and with it every
# session of the cluster) on three replies, each sent here by the scripted
# peer (test/lib/mcpeer.py) in answer to a get:
#   - long-key: an ASCII VALUE line whose key is 300 bytes, copied with no
#     bound into the result's 251-byte key buffer ("free(): invalid
#     pointer" on the first call, a segfault on the second);
#   - bin-keylen-400: a binary GETK reply with a 400-byte key, read into the
#     same buffer, over the client's allocator pointers;
#   - version-bare: "VERSION" with no number, which 1.1.4 hands to strtol()
#     as a NULL pointer.
# The patched copy (patches/libmemcached 0001 to 0004) refuses each of them:
# every call is an ERROR of class 08 (08P01: the reply broke the protocol),
# never a value and never a miss, twice in the same session, in both
# protocols where the reply is one of theirs, for mc_get and mc_get_multi;
# no backend crashes, the postmaster does not restart, no "free()" or
# "corrupted" line reaches the server log, and an idle session stays
# connected.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PmcFleet;
use PmcTest;

plan tests => 26;

my $fleet = PmcFleet->new;
my $node  = pmc_node('hostile');
my $DB    = 'pmc_exch_hostile';
pmc_createdb($node, $DB);

sub qdb { return sql($node, $DB, [@_]); }

my $watch = pmc_watch($node, $DB);

# check MODE PROTO LABEL SQL: one session runs SQL twice (the second call is
# the one that crashed 1.1.4 after the first had corrupted its heap)
my $n_peer = 0;
sub check
{
	my ($mode, $proto, $label, $expr) = @_;
	my $peer = $fleet->peer('peer' . ++$n_peer, $mode);
	my $out  = sql($node, $DB,
		[ "SET pylibmc_pg.servers = '" . $peer->addr . "'", "SET pylibmc_pg.binary_protocol = $proto",
			"SELECT $expr", "SELECT $expr", "SELECT 'alive'" ],
		verbose => 1);
	my $n = () = $out =~ /^ERROR:  08P01: /mg;
	is($n, 2, "$label: both calls are ERROR 08P01");
	# the lines that are neither an ERROR nor its detail
	my $rest = join("\n", grep { !/^(ERROR|DETAIL|HINT|LOCATION|CONTEXT):/ } split /\n/, $out);
	is($rest, 'alive', "$label: ... no value and no miss, and the session goes on");
	$watch->still_up($label);
	$peer->stop;
	return;
}

my $multi = "count(*) FROM mc_get_multi(ARRAY['k', 'j'])";
check('long-key', 'off', 'ASCII VALUE line with a 300-byte key, mc_get', "mc_get('k')");
check('long-key', 'off', 'ASCII VALUE line with a 300-byte key, mc_get_multi', $multi);
check('version-bare', 'off', 'ASCII VERSION without a number, mc_get', "mc_get('k')");
check('version-bare', 'off', 'ASCII VERSION without a number, mc_get_multi', $multi);
check('bin-keylen-400', 'on', 'binary GETK with a 400-byte key, mc_get', "mc_get('k')");
check('bin-keylen-400', 'on', 'binary GETK with a 400-byte key, mc_get_multi', $multi);

is($watch->{sess}->query('SELECT 1'), '1', 'the idle session answers at the end');
is(qdb('SELECT pg_postmaster_start_time()'), $watch->{start}, 'the postmaster never restarted');
$watch->{sess}->quit;
