# test/t/151_packaging_meta.pl: the release metadata agrees with the
# extension.  META.json (PGXN meta-spec 1.0.0) against pylibmc_pg.control,
# the install and update scripts, the Makefile's DATA, the module's magic
# version (src/compat.h) and the LICENSE; then `make dist` builds the release
# archive from the committed tree, and that archive holds exactly the
# tracked files under one top directory and builds with PGXS (pg_config from
# PATH).  Needs no server.
#
# git runs as the user running the suite in a checkout another user may own
# (tools/test.sh: root's checkout, prove as postgres), so it is told that
# this one directory is safe (GIT_CONFIG_*, command-line scope).  The
# archive's build fetches no libmemcached tarball when the harness's cache
# ($PMC_PG_CACHE, default /var/cache/pylibmc_pg-pg) has it: it is handed to
# tools/libmemcached.sh (PMC_LMC_TARBALL), which checks its SHA-256.
use strict;
use warnings;

use File::Basename qw(dirname);
use Cwd ();
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;

plan tests => 15;

my $REPO = Cwd::abs_path(dirname(__FILE__) . '/../..');
my $WORK = PostgreSQL::Test::Utils::tempdir('meta');
my %GIT  = (GIT_CONFIG_COUNT => 1, GIT_CONFIG_KEY_0 => 'safe.directory', GIT_CONFIG_VALUE_0 => $REPO);

sub slurp_repo { return slurp_file("$REPO/$_[0]"); }

# check COND, DESC, GOT: ok, with what was found when it failed
sub check
{
	my ($cond, $desc, $got) = @_;
	ok($cond, $desc)
	  or diag('got: ' . JSON::PP->new->canonical->allow_nonref->encode($got));
	return;
}

# ---------- META.json: twelve checks ----------

my $meta = eval { decode_json(slurp_repo('META.json')) };
if (ref $meta ne 'HASH')
{
	ok(0, 'META.json parses') or diag($@);
	ok(0, 'META.json check did not run') for 1 .. 11;
}
else
{
	ok(1, 'META.json parses');
	my %control;
	for (split /\n/, slurp_repo('pylibmc_pg.control'))
	{
		$control{$1} = $2 if /^\s*(\w+)\s*=\s*'(.*)'\s*$/;
	}
	my $spec = $meta->{'meta-spec'} // {};
	check(($spec->{version} // '') eq '1.0.0', 'meta-spec version is 1.0.0', $spec->{version});
	my @missing = grep { !exists $meta->{$_} }
	  qw(name abstract version maintainer license provides meta-spec);
	check(!@missing, 'META.json has every required key', \@missing);
	check(($meta->{version} // '') =~ /^\d+\.\d+\.\d+$/, 'release version is semantic', $meta->{version});
	my $provides = $meta->{provides} // {};
	my $ext      = $provides->{pylibmc_pg} // {};
	check(($meta->{name} // '') eq 'pylibmc_pg' && join(',', keys %$provides) eq 'pylibmc_pg',
		'name and provides name the one extension', [ $meta->{name}, [ keys %$provides ] ]);
	my $dv = $control{default_version} // '';
	my @parts = (split(/\./, $dv), '0', '0');
	my $padded = join '.', @parts[ 0 .. 2 ];
	check(($ext->{version} // '') eq $padded,
		'provides version ' . ($ext->{version} // 'none') . " is the control's default_version $dv",
		$ext->{version});
	check(($meta->{version} // '') eq $padded, "release version is the control's default_version",
		$meta->{version});

	# No full script of the default version: CREATE EXTENSION runs 1.0's and
	# the update scripts from it (1.0--1.1, 1.1--1.2, ...), so the provided
	# file is 1.0's, and a chain of update scripts leads from 1.0 to the
	# default_version, each of them in the Makefile's DATA.
	my %steps;
	opendir my $dh, $REPO or die "$REPO: $!";
	for (readdir $dh)
	{
		$steps{$1} = $2 if /^pylibmc_pg--([0-9.]+)--([0-9.]+)\.sql$/;
	}
	closedir $dh;
	my @chain = ('1.0');
	push @chain, $steps{ $chain[-1] }
	  while $chain[-1] ne $dv && exists $steps{ $chain[-1] } && @chain < 50;
	my ($data) = slurp_repo('Makefile') =~ /^DATA\s*=(.*)$/m;
	my @data = $data ? split ' ', $data =~ s/\$\(EXTENSION\)/pylibmc_pg/gr : ();
	my @updates = map { "$chain[$_]--$chain[$_ + 1]" } 0 .. $#chain - 1;
	my @scripts = ('pylibmc_pg--1.0.sql', map { "pylibmc_pg--$_.sql" } @updates);
	my %in_data = map { $_ => 1 } @data;
	check(($ext->{file} // '') eq 'pylibmc_pg--1.0.sql'
		  && -e "$REPO/$ext->{file}"
		  && $chain[-1] eq $dv
		  && !grep({ !$in_data{$_} } @scripts)
		  && !-e "$REPO/pylibmc_pg--$dv.sql",
		'provides file is the install script CREATE EXTENSION starts from (1.0, then '
		  . join(', ', @updates) . '), all in DATA',
		[ $ext->{file}, \@chain, \@data ]);
	my $comment = $control{comment} // '';
	check(($ext->{abstract} // '') eq $comment && ($meta->{abstract} // '') eq $comment,
		"abstracts are the control's comment", [ $meta->{abstract}, $ext->{abstract} ]);
	my ($lic) = split /\n/, slurp_repo('LICENSE');
	$lic =~ s/^\s+|\s+$//g;
	check(($meta->{license} // '') eq 'postgresql' && $lic eq 'PostgreSQL License',
		"license is the LICENSE file's", [ $meta->{license}, $lic ]);
	my ($magic) = slurp_repo('src/compat.h') =~ /#define PMC_MODULE_VERSION "([^"]*)"/;
	check(defined $magic && $magic eq $dv,
		"the module magic version (src/compat.h) is the default_version", $magic);
	my $req = $meta->{prereqs}{runtime}{requires}{PostgreSQL};
	check(($req // '') eq '13.0.0', 'requires PostgreSQL 13.0.0, the oldest major tested', $req);
}

# ---------- make dist: the archive of HEAD, PGXN style ----------

my $version = ref $meta eq 'HASH' ? $meta->{version} // 'unknown' : 'unknown';
my $zip     = "$WORK/pylibmc_pg-$version.zip";
my $log     = '';
{
	local %ENV = (%ENV, %GIT);
	IPC::Run::run([ 'make', '-s', '-C', $REPO, 'PG_CONFIG=pg_config', 'dist', "DIST_DIR=$WORK" ],
		'<', \'', '>&', \$log);
}
ok($? == 0 && -f $zip, "make dist writes pylibmc_pg-$version.zip") or diag($log);

# Its file list is git's list of tracked files, under pylibmc_pg-VERSION/.
my ($got, $want, $err) = ('', '', '');
# (the archive is read with python3's zipfile: unzip is not among the
# packages tools/test.sh installs)
IPC::Run::run([ 'python3', '-c', 'import sys, zipfile; print("\\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))', $zip ],
	'>', \$got, '2>', \$err) if -f $zip;
my @got = sort grep { !m{/\z} } split /\n/, $got;
{
	local %ENV = (%ENV, %GIT);
	IPC::Run::run([ 'git', '-C', $REPO, 'ls-tree', '-r', '--name-only', 'HEAD' ], '>', \$want, '2>', \$err);
}
my @want = sort map { "pylibmc_pg-$version/$_" } split /\n/, $want;
my %w = map { $_ => 1 } @want;
my %g = map { $_ => 1 } @got;
ok(@want && join("\n", @got) eq join("\n", @want),
	"the archive holds exactly the committed files under pylibmc_pg-$version/")
  or diag("$err\n" . scalar(@got) . ' files, want ' . scalar(@want)
	  . "\nnot in git: @{[ grep { !$w{$_} } @got ]}\nnot in the archive: @{[ grep { !$g{$_} } @want ]}");

# And what it holds builds (no install) with PGXS.
my $tarball = ($ENV{PMC_PG_CACHE} // '/var/cache/pylibmc_pg-pg')
  . '/libmemcached/libmemcached_1.1.4.orig.tar.gz';
my $built = "$WORK/x/pylibmc_pg-$version";
$log = '';
if (-f $zip
	&& IPC::Run::run([ 'python3', '-c', 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])',
			$zip, "$WORK/x" ], '>&', \$log))
{
	local %ENV = (%ENV, -r $tarball ? (PMC_LMC_TARBALL => $tarball) : ());
	IPC::Run::run([ 'make', '-C', $built, 'PG_CONFIG=pg_config' ], '<', \'', '>&', \$log);
}
ok(-f "$built/pylibmc_pg.so", 'the unpacked archive builds with PGXS')
  or diag(join("\n", grep { defined } (split /\n/, $log)[-20 .. -1]));
