# test/t/152_packaging_libmemcached.pl: the module carries its own, patched
# libmemcached, and hides it.
#
# pylibmc_pg links libmemcached 1.1.4 built from Debian's source package with
# the patches in patches/libmemcached (tools/libmemcached.sh), statically and
# with its symbols hidden (-Wl,--exclude-libs,ALL).  Checked here, on the
# installed module (pg_config --pkglibdir, pg_config from PATH):
#   - it needs no libmemcached.so or libhashkit.so (ldd), and exports no
#     memcached_* or hashkit_* symbol (nm -D), so a library that loads the
#     system's libmemcached.so.11 into the same backend binds to its own;
#   - the copy it carries is the patched one: memcached_set_wait_callback,
#     which only the patches add, is in the module (nm, local symbol);
#   - pgmemcache (Debian's, linked to the system's libmemcached.so.11) and
#     pylibmc_pg in one backend both work, each reading what the other wrote,
#     with both libraries mapped into that backend (/proc/PID/maps).
# Needs pgmemcache installed for the node's server: Debian 12 builds it for
# PostgreSQL 15 only.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PmcFleet;
use PmcTest;

plan tests => 8;

# run CMD...: its stdout and stderr together
sub run
{
	my $out = '';
	IPC::Run::run([@_], '<', \'', '>&', \$out);
	return $out;
}

chomp(my $pkglib = run('pg_config', '--pkglibdir'));
my $SO = "$pkglib/pylibmc_pg.so";

my $deps = run('ldd', $SO);
unlike($deps, qr/libmemcached|libhashkit/, 'the installed module needs no libmemcached.so or libhashkit.so');
my @exported = grep { /^(memcached_|hashkit_|libhashkit_|libmemcached_)/ }
  map { (split ' ')[2] // '' } split /\n/, run('nm', '-D', '--defined-only', $SO);
is(scalar(@exported), 0, '... and exports no libmemcached or libhashkit symbol')
  or diag("@exported[0 .. ($#exported < 9 ? $#exported : 9)]");
my $carried = () = run('nm', $SO) =~ / memcached_set_wait_callback$/mg;
is($carried, 1, '... and carries the patched copy (memcached_set_wait_callback, a local symbol)');

# one backend, both extensions, one server
my $fleet = PmcFleet->new;
my $TCP   = $fleet->memcached('tcp')->addr;
my $node  = pmc_node('libmemcached');
pmc_createdb($node, 'pkg');
$node->safe_psql('pkg', 'CREATE EXTENSION pgmemcache');
my $out = sql(
	$node, 'pkg',
	[   "SET pylibmc_pg.servers = '$TCP'",
		"SELECT memcache_server_add('$TCP') IS NOT NULL
		   AND memcache_set('pkg:pgm', 'from pgmemcache')
		   AND mc_set('pkg:pmc', 'from pylibmc_pg'::bytea)",
		"SELECT mc_get('pkg:pgm')",
		"SELECT memcache_get('pkg:pmc')",
		"SELECT mc_get('pkg:pgm') = memcache_get('pkg:pgm')",
		"SELECT (m LIKE '%libmemcached.so.11%')::text || ',' || (m LIKE '%pylibmc_pg.so%')::text
		   FROM pg_read_file('/proc/' || pg_backend_pid() || '/maps') m" ]);
my @lines = split /\n/, $out;
is($lines[1], 'from pgmemcache', 'mc_get reads what pgmemcache wrote, in the same backend');
is($lines[2], 'from pylibmc_pg', 'pgmemcache reads what mc_set wrote, in the same backend');
is($lines[3], 't',               'both read the same value');
is($lines[4], 'true,true',
	"that backend maps the system's libmemcached.so.11 (pgmemcache) and pylibmc_pg.so");
unlike($out, qr/ERROR|server closed|terminated/, 'no error, no crash');
