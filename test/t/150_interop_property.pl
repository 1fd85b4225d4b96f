# test/t/150_interop_property.pl: random values of every storable type
# round-trip through mc_set/mc_get, mc_set_multi/mc_get_multi and the real
# pylibmc, over ASCII, ASCII with compression and the binary protocol with
# compression (every check is described in test/interop/property.py).  The
# generators and the pylibmc reads are Python, so the checks stay there;
# this suite gives them a node and a memcached of their own and reports each
# of them as a check of its own, with the same name (PmcTest's
# pmc_python_tap: the Python part ending early makes this suite die, which
# counts as a failure).  The seed is in the log; PMC_SEED=<seed> reruns it,
# PMC_PROP_N sets the number of values per type and pass (default 1000).
use strict;
use warnings;

use File::Basename qw(dirname);
use File::Spec;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PmcFleet;
use PmcTest;

plan tests => 66;    # 3 passes x 5 types x 4, and 6 "stored compressed"

my $fleet = PmcFleet->new;
my $TCP   = $fleet->memcached('tcp')->addr;
my $node  = pmc_node('property', "pylibmc_pg.servers = '$TCP'\nlog_statement = none");

pmc_python_tap(File::Spec->rel2abs(dirname(__FILE__) . '/../interop/property.py'),
	PGHOST     => $node->host,
	PGPORT     => $node->port,
	PGUSER     => 'postgres',
	PGDATABASE => 'postgres',
	PMC_TCP    => $TCP);
