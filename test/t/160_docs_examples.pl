# test/t/160_docs_examples.pl: every ```sql block of README.md and doc/*.md
# runs, one TAP check per block, so the documentation cannot drift from the
# code (the convention is written down for authors in doc/contributing.md,
# "The examples in the documentation").
#
#   - A node of its own (shared_preload_libraries = 'pylibmc_pg', so the
#     cluster-wide statistics exist; max_prepared_transactions > 0) and a
#     private memcached that pylibmc_pg.servers names.
#   - Each file: a fresh database "app" (no extension: the file creates it),
#     memcached flushed; its blocks run in order, each in a new psql session
#     with ON_ERROR_STOP and VERBOSITY verbose.  After a block that uses ALTER
#     SYSTEM: ALTER SYSTEM RESET ALL and a reload, then a wait until new
#     sessions see the configured settings again.  After the file: its
#     database and the roles it created are dropped.
#   - A line that starts with SELECT and ends with "; --> TEXT" is checked:
#     psql's unaligned output for that statement (" | " between columns,
#     ", " between rows) must be TEXT.
#   - The line before a block may be <!-- example: error SQLSTATE --> (the
#     block must fail with that SQLSTATE) or <!-- example: skip: REASON -->
#     (not run: a TAP skip, not a pass).  Any other <!-- example: ... --> is
#     a failure, so that a typo cannot silently change what is checked.
#
# PMC_DOCS_FILES (paths relative to the checkout, space-separated) narrows
# the files; the default is README.md and doc/*.md, and only then are the
# two coverage checks made (every function and view named in
# doc/reference.md, every setting in doc/configuration.md).
use strict;
use warnings;

use Cwd ();
use File::Basename qw(dirname basename);
use File::Path qw(make_path);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PmcFleet;
use PmcTest;

my $REPO = Cwd::abs_path(dirname(__FILE__) . '/../..');

# ---------- the blocks ----------

my @files =
  defined $ENV{PMC_DOCS_FILES} && $ENV{PMC_DOCS_FILES} ne ''
  ? split(' ', $ENV{PMC_DOCS_FILES})
  : ('README.md', map { 'doc/' . basename($_) } grep { -f } sort glob("$REPO/doc/*.md"));
my $coverage = (defined $ENV{PMC_DOCS_FILES} && $ENV{PMC_DOCS_FILES} ne '') ? 0 : 2;

# extract FILE: the ```sql blocks of FILE, each { line => the fence's line
# number, directive => the text of an <!-- example: ... --> comment on the
# line before the fence (or ''), sql => its text }.  Fences may be indented
# (inside a list; the indent is removed from the block's lines); other
# fenced blocks are skipped.
sub extract
{
	my ($path) = @_;
	open my $fh, '<', $path or die "$path: $!";
	my (@blocks, $inb, $kind, $indent, $cur);
	my $prev = '';
	while (my $l = <$fh>)
	{
		chomp $l;
		if (!$inb && $l =~ /^[ \t]*```/)
		{
			(my $fence = $l) =~ s/^[ \t]*//;
			$inb = 1;
			if ($fence =~ /^```sql[ \t]*$/)
			{
				$kind = 'sql';
				($indent = $l) =~ s/```.*//;
				$cur = { line => $., directive => $prev, sql => '' };
				push @blocks, $cur;
			}
			else
			{
				$kind = 'other';
			}
			$prev = '';
			next;
		}
		if ($inb && $l =~ /^[ \t]*```[ \t]*$/)
		{
			$inb = 0;
			next;
		}
		if ($inb)
		{
			if ($kind eq 'sql')
			{
				substr($l, 0, length $indent) = ''
				  if $indent ne '' && index($l, $indent) == 0;
				$cur->{sql} .= "$l\n";
			}
			next;
		}
		if ($l =~ /^[ \t]*<!--[ \t]*example:/)
		{
			(my $d = $l) =~ s/^[ \t]*<!--[ \t]*example:[ \t]*//;
			$d =~ s/[ \t]*-->[ \t]*$//;
			$prev = $d;
			next;
		}
		$prev = '';
	}
	close $fh;
	return @blocks;
}

my @B;
for my $f (@files)
{
	push @B, map { { %$_, file => $f } } extract("$REPO/$f");
}
plan skip_all => "no sql blocks found in @files" unless @B;
plan tests => @B + $coverage;

# ---------- the node and the memcached ----------

my $fleet = PmcFleet->new;
my $mc    = $fleet->memcached('docs');
my $node  = pmc_node('docs', join "\n",
	"shared_preload_libraries = 'pylibmc_pg'",
	"pylibmc_pg.servers = '" . $mc->addr . "'",
	'max_prepared_transactions = 10',
	'log_min_messages = warning');

# admin STATEMENTS: as the superuser in database postgres
sub admin { return sql($node, 'postgres', [@_]); }

admin('CREATE EXTENSION pylibmc_pg');
my $SETTINGS_SQL =
  "SELECT string_agg(name || '=' || setting, ',' ORDER BY name) FROM pg_settings WHERE name LIKE 'pylibmc_pg.%'";
my $BASELINE = admin($SETTINGS_SQL);

# settings_restored: ALTER SYSTEM RESET ALL, reload, and wait (10 s) until a
# new session sees the baseline settings
sub settings_restored
{
	admin('ALTER SYSTEM RESET ALL', 'SELECT pg_reload_conf()');
	for (1 .. 100)
	{
		return 1 if admin($SETTINGS_SQL) eq $BASELINE;
		select undef, undef, undef, 0.1;
	}
	return 0;
}

# file_start: a fresh database "app" and an empty memcached
sub file_start
{
	admin('DROP DATABASE IF EXISTS app WITH (FORCE)', 'CREATE DATABASE app', 'SELECT mc_flush_all()');
}

# file_end: drop its database and every role it created
sub file_end
{
	admin('DROP DATABASE IF EXISTS app WITH (FORCE)');
	for my $r (split /\n/, admin(
		"SELECT rolname FROM pg_roles WHERE rolname !~ '^pg_' AND rolname <> 'postgres' AND rolname <> current_user"))
	{
		next if $r eq '';
		admin(qq{DROP OWNED BY "$r" CASCADE}, qq{DROP ROLE "$r"});
	}
}

# prepare BASE, SQL: write BASE.run, SQL with each "SELECT ...; --> TEXT"
# line wrapped in \o BASE.outN ... \o; returns the list of TEXTs (N = 1..)
sub prepare
{
	my ($base, $text) = @_;
	my ($run, @want) = ('');
	for my $l (split /\n/, $text, -1)
	{
		if ($l =~ /^SELECT .*;[ \t]*-->[ \t]/)
		{
			push @want, $l =~ s/^.*;[ \t]*-->[ \t]*//r =~ s/[ \t]+$//r;
			my $stmt = $l =~ s/[ \t]*-->.*$//r;
			$run .= sprintf "\\o %s.out%d\n%s\n\\o\n", $base, scalar @want, $stmt;
		}
		else
		{
			$run .= "$l\n";
		}
	}
	$run =~ s/\n\z//;    # split with -1 left one empty last field
	open my $fh, '>', "$base.run" or die "$base.run: $!";
	print $fh $run;
	close $fh;
	return @want;
}

# run_block BASE: run BASE.run in database app; returns (output, status)
sub run_block
{
	my ($base) = @_;
	my $out = '';
	IPC::Run::run(
		[ 'psql', '-X', '-q', '-At', '-F', ' | ', '-v', 'ON_ERROR_STOP=1',
			'-v', 'VERBOSITY=verbose', '-h', $node->host, '-p', $node->port,
			'-U', 'postgres', '-d', 'app', '-f', "$base.run" ],
		'<', \'', '>&', \$out);
	my $rc = $? >> 8;
	$out =~ s/\n+\z//;
	return ($out, $rc);
}

# first_sqlstate OUTPUT: the SQLSTATE of the first ERROR, or "none"
sub first_sqlstate
{
	for (split /\n/, $_[0])
	{
		return $1 if /^(?:psql:\S* )?ERROR:  ([0-9A-Z]{5}): /;
	}
	return 'none';
}

# check_results BASE, WANTS: every result against its TEXT; the mismatches
sub check_results
{
	my ($base, @want) = @_;
	my $why = '';
	for my $n (1 .. @want)
	{
		my $got = '';
		if (-e "$base.out$n")
		{
			$got = slurp_file("$base.out$n");
			$got =~ s/\n+\z//;
			$got =~ s/\n/, /g;
		}
		$why .= "result $n: got '$got', want '$want[$n-1]'; " if $got ne $want[ $n - 1 ];
	}
	return $why;
}

# show OUTPUT: its first 20 lines that are not empty, as diagnostics
sub show
{
	my @l = grep { $_ ne '' } split /\n/, $_[0];
	diag(join "\n", map { "  $_" } @l[ 0 .. ($#l < 19 ? $#l : 19) ]) if @l;
}

# ---------- run them ----------

my $WORK = "$PostgreSQL::Test::Utils::tmp_check/docs_blocks";
make_path($WORK);
my ($current, %count) = ('');
for my $b (@B)
{
	my $desc = "$b->{file}:$b->{line}";
	if ($b->{file} ne $current)
	{
		file_end() if $current ne '';
		file_start();
		$current = $b->{file};
	}
	my $d = $b->{directive};
	my $want_err = '';
	if ($d eq '') { }
	elsif ($d =~ /^error (.*)$/)
	{
		($want_err = $1) =~ s/ //g;
	}
	elsif ($d =~ /^skip:\s?(.*)$/)
	{
		SKIP: { skip "$desc: $1", 1; }
		next;
	}
	else
	{
		ok(0, "$desc: unknown directive <!-- example: $d -->");
		next;
	}
	my $base = "$WORK/" . ($b->{file} =~ s{/}{_}gr) . sprintf('_%03d', ++$count{ $b->{file} });
	my @want = prepare($base, $b->{sql});
	my ($out, $rc) = run_block($base);
	if ($want_err ne '')
	{
		my $got_err = first_sqlstate($out);
		ok($rc != 0 && $got_err eq $want_err, "$desc (error $want_err)")
		  or do { diag("psql status $rc, first SQLSTATE $got_err, want $want_err"); show($out); };
	}
	else
	{
		my $why = check_results($base, @want);
		ok($rc == 0 && $why eq '', $desc) or do
		{
			diag("psql status $rc") if $rc;
			diag($why) if $why ne '';
			show($out);
		};
	}
	if ($b->{sql} =~ /ALTER\s+SYSTEM/i)
	{
		settings_restored() or diag("the settings did not come back after $desc");
	}
}
file_end();

# ---------- nothing of the extension goes undocumented ----------

# undocumented DOC, SQL: the names SQL prints that DOC does not name (as words)
sub undocumented
{
	my ($doc, $q) = @_;
	my $text = slurp_file("$REPO/$doc");
	my $missing = '';
	for my $name (split /\n/, admin($q))
	{
		next if $name eq '';
		$missing .= " $name" unless $text =~ /(?<![A-Za-z0-9_])\Q$name\E(?![A-Za-z0-9_])/;
	}
	return $missing;
}

if ($coverage)
{
	is(undocumented('doc/reference.md', q{
		SELECT p.proname FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
		JOIN pg_proc p ON p.oid = d.objid
		WHERE d.classid = 'pg_proc'::regclass AND e.extname = 'pylibmc_pg'
		UNION
		SELECT c.relname FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
		JOIN pg_class c ON c.oid = d.objid
		WHERE d.classid = 'pg_class'::regclass AND e.extname = 'pylibmc_pg'}),
		'', 'doc/reference.md names every function and view of the extension');
	# pg_settings leaves out the password (GUC_NO_SHOW_ALL): named here
	is(undocumented('doc/configuration.md', q{
		SELECT name FROM pg_settings WHERE name LIKE 'pylibmc_pg.%'
		UNION SELECT 'pylibmc_pg.password'}),
		'', 'doc/configuration.md names every setting');
}

$fleet->stop_all;
$node->stop;
