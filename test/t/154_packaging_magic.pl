# test/t/154_packaging_magic.pl: on PostgreSQL 18 and later, the module's
# magic block names it (PG_MODULE_MAGIC_EXT in src/compat.h):
# pg_get_loaded_modules() shows pylibmc_pg with the control file's
# default_version.
#
# Before 18 there is no such record, so the file plans to skip there;
# tools/test.sh does not run it on those majors (PMC_PROVE_MIN_MAJOR) and
# runs it on 18 in every full run.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PmcTest;

my $node = pmc_node('magic');
my $num  = $node->safe_psql('postgres', 'SHOW server_version_num');
if ($num < 180000)
{
	plan skip_all => "PostgreSQL $num records no module name (PG_MODULE_MAGIC_EXT is 18+)";
}
plan tests => 2;

my ($want) = slurp_file('pylibmc_pg.control') =~ /^default_version\s*=\s*'([^']*)'/m;

# a session that loads the module, then asks which modules it has loaded
my $got = sql($node, 'postgres', [],
	stdin => "LOAD 'pylibmc_pg';\n"
	  . "SELECT module_name || '|' || coalesce(version, '') FROM pg_get_loaded_modules()"
	  . " WHERE file_name LIKE '%pylibmc_pg.so';\n");
my ($name, $version) = split /\|/, $got, 2;
is($name,    'pylibmc_pg', 'pg_get_loaded_modules() names the module pylibmc_pg');
is($version, $want,        "and gives the control file's default_version ($want)");
