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
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PmcFleet;
use PmcTest;

my $fleet  = PmcFleet->new;
my $TCP    = $fleet->memcached('tcp')->addr;
my $node   = pmc_node('interop', "pylibmc_pg.servers = '$TCP'");
my $script = File::Spec->rel2abs(dirname(__FILE__) . '/../interop/pylibmc_interop.py');

my ($out, $err) = ('', '');
{
	local %ENV = (%ENV, PGHOST => $node->host, PGPORT => $node->port,
		PGUSER => 'postgres', PGDATABASE => 'postgres', PMC_TCP => $TCP);
	IPC::Run::run([ 'python3', $script ], '<', \'', '>', \$out, '2>', \$err);
}
my $status = $? >> 8;

my @lines = split /\n/, $out;
my ($n, $plan) = (0, undef);
for (my $i = 0; $i < @lines; $i++)
{
	my $line = $lines[$i];
	if ($line =~ /^(not )?ok \d+ - (.*)$/)
	{
		my ($failed, $name) = ($1, $2);
		my @diag;
		push @diag, $lines[ ++$i ] =~ s/^# ?//r while $i + 1 < @lines && $lines[ $i + 1 ] =~ /^#/;
		$n++;
		if ($failed) { ok(0, $name) or diag(join "\n", @diag); }
		else { ok(1, $name); note(join "\n", @diag) if @diag; }
	}
	elsif ($line =~ /^1\.\.(\d+)$/) { $plan = $1; }
	elsif ($line =~ /^# ?(.*)$/) { note($1); }
}
diag("pylibmc_interop.py on stderr:\n$err") if $err ne '';
die "pylibmc_interop.py exited with status $status after $n checks, "
  . (defined $plan ? "planned $plan" : 'without a plan') . "\n"
  unless defined $plan && $plan == $n && ($status == 0 || $status == 1);
done_testing();
