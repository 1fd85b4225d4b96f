# test/t/050_interop_pylibmc.pl: values cross between the real pylibmc 1.6.3
# and SQL, in both directions, over both protocols (every check is described
# in test/interop/pylibmc_interop.py).  pylibmc is a Python library, so the
# checks stay in Python; this suite gives them a node and a memcached of
# their own and reports each of them as a check of its own, with the same
# name.  The Python part ending early (no plan, or fewer checks than it
# planned) makes this suite die, which counts as a failure.
use strict;
use warnings;

use File::Basename qw(dirname);
use File::Spec;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PmcFleet;
use PmcTest;

my $fleet  = PmcFleet->new;
my $TCP    = $fleet->memcached('tcp')->addr;
my $node   = pmc_node('interop', "pylibmc_pg.servers = '$TCP'");
my $script = File::Spec->rel2abs(dirname(__FILE__) . '/../interop/pylibmc_interop.py');

pmc_python_tap($script, PGHOST => $node->host, PGPORT => $node->port,
	PGUSER => 'postgres', PGDATABASE => 'postgres', PMC_TCP => $TCP);
done_testing();
