# test/t/153_packaging_installcheck.pl: `make installcheck` as a packager
# runs it, with no harness: a running PostgreSQL of its own (with the
# extension already installed, and no pylibmc_pg.* or pylibmc_test.* setting
# in its configuration), a memcached at the default address 127.0.0.1:11211,
# and no harness variable in the environment (no PMC_SCRATCH: the Makefile
# then runs only the regression tests that need nothing more), PGXS from
# pg_config in PATH.  The tests' address placeholders fall back to their
# defaults.
#
# The memcached at 127.0.0.1:11211 is one already there, or one this suite
# starts there (and stops); a port 11211 taken by something that is not
# memcached fails the suite.  git runs as the user running the suite in a
# checkout another user may own, so it is told that this one directory is
# safe (GIT_CONFIG_*, command-line scope).
use strict;
use warnings;

use File::Basename qw(dirname);
use Cwd ();
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PmcFleet;
use PmcTest;

plan tests => 4;

my $REPO  = Cwd::abs_path(dirname(__FILE__) . '/../..');
my $fleet = PmcFleet->new;

# The memcached at the default address: one already there, or ours.
if (PmcFleet::answers('127.0.0.1:11211'))
{
	ok(1, 'a memcached answers at 127.0.0.1:11211 (already running)');
}
elsif ($fleet->memcached('installcheck11211', port => 11211, args => [ '-m', 16 ], try => 1))
{
	ok(1, 'a memcached answers at 127.0.0.1:11211 (started for this test)');
}
else
{
	ok(0, 'a memcached answers at 127.0.0.1:11211');
	die "port 11211 is taken by something that is not memcached\n";
}

my $node = pmc_node('packager');
my $conf = slurp_file($node->data_dir . '/postgresql.conf');
ok(sql($node, 'postgres', ['SELECT 1']) eq '1' && $conf !~ /^\s*pylibmc_(pg|test)\./m,
	'a cluster with no pylibmc_pg or pylibmc_test setting runs on port ' . $node->port)
  or diag(join "\n", grep { /pylibmc/ } split /\n/, $conf);

# A copy of the tracked files, so that results/ and regression.diffs do not
# land in the checkout under test.
my $SRC = PostgreSQL::Test::Utils::tempdir('installcheck_src');
{
	local %ENV = (%ENV, GIT_CONFIG_COUNT => 1, GIT_CONFIG_KEY_0 => 'safe.directory',
		GIT_CONFIG_VALUE_0 => $REPO);
	my $err = '';
	IPC::Run::run([ 'git', '-C', $REPO, 'ls-files', '-z' ], '|',
		[ 'xargs', '-0', 'cp', '--parents', '-t', $SRC ], '2>', \$err, init => sub { chdir $REPO })
	  or die "copying the tracked files failed: $err\n";
}

# The environment a packager has: PG* for the server, nothing of the harness.
my $log = '';
my $rc  = IPC::Run::run(
	[   'env', '-i', "PATH=$ENV{PATH}", 'HOME=/tmp', 'LANG=C.UTF-8',
		'PGHOST=' . $node->host, 'PGPORT=' . $node->port, 'PGUSER=postgres',
		'make', '-C', $SRC, 'PG_CONFIG=pg_config', 'installcheck' ],
	'<', \'', '>&', \$log);
ok($rc, 'make installcheck passes') or do
{
	diag(join "\n", grep { defined } (split /\n/, $log)[-20 .. -1]);
	diag(join "\n", grep { defined } (split /\n/, slurp_file("$SRC/regression.diffs"))[0 .. 59])
	  if -f "$SRC/regression.diffs";
};
my $ran = () = $log =~ /\.\.\. ok|^ok \d+ /mg;
is($ran, 3, 'it ran the three tests that need only the default memcached (binary, namespace, types)');
