# test/lib/PmcTest.pm: what the Perl TAP suites share besides the fleet
# (test/lib/PmcFleet.pm): a PostgreSQL::Test::Cluster node with the
# extension, psql runs whose output is read as a shell's $(psql ... 2>&1)
# would read it, and a range check.
#
#   my $node = pmc_node('main', "pylibmc_pg.servers = '$addr'");
#   pmc_createdb($node, 'app');             # CREATE DATABASE + CREATE EXTENSION
#   my $out = sql($node, 'app', [ 'SET x = 1', 'SELECT 2' ], user => 'r1');
#   between($n, 1, 10, 'n is in range');
#   my $s = pmc_session($node, 'app');      # one long-lived psql session
#   my $v = $s->query('SELECT 1');          # what that SQL printed
#   $s->quit;
#   my $w = pmc_watch($node, 'app');        # an idle session, the log offset
#   $w->still_up('label');                  # two checks: no crash, it answers
#
# The extension must already be installed into the PostgreSQL whose
# binaries are first in PATH (tools/test.sh does both).
package PmcTest;

use strict;
use warnings;

use Exporter 'import';
use File::Temp ();
use IPC::Run;
use Test::More;
use Time::HiRes ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils ();

our @EXPORT = qw(pmc_node pmc_output_plugin_conf pmc_createdb sql sql_start between now_ms pmc_session pmc_watch);

# pmc_node NAME [, CONF]: a new node (UTF8, C.UTF-8), CONF appended to its
# postgresql.conf, started.
#
# With PMC_INITDB_TEMPLATE (tools/test.sh sets it: a data directory initdb
# made once per run with the same options and the same major), the node's
# data directory is a copy of it instead of a new initdb, as PostgreSQL 17's
# framework does with INITDB_TEMPLATE; the rest of init (the settings it
# appends) is the framework's.  15's framework, which drives every major
# here, has no such option: its initdb call is replaced for this one init.
sub pmc_node
{
	my ($name, $conf) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	my @extra = ('-E', 'UTF8', '--locale=C.UTF-8');
	my $tmpl  = $ENV{PMC_INITDB_TEMPLATE};
	my $orig  = \&PostgreSQL::Test::Utils::system_or_bail;
	no warnings 'redefine';
	local *PostgreSQL::Test::Utils::system_or_bail = sub {
		# the call init makes: initdb -D PGDATA -A trust -N @extra
		return $orig->(@_)
		  unless $tmpl
		  && -f "$tmpl/PG_VERSION"
		  && "@_[0, 1, 3 .. $#_]" eq "initdb -D -A trust -N @extra";
		return $orig->('cp', '-RPp', $tmpl, $_[2]);
	};
	$node->init(extra => \@extra);
	$node->append_conf('postgresql.conf', $conf) if defined $conf;
	$node->start;
	return $node;
}

# pmc_output_plugin_conf: the postgresql.conf line that lets this server
# load the extension's output plugin: the minors that list the trusted
# output plugins (output_plugin_libraries) load no other; empty elsewhere.
sub pmc_output_plugin_conf
{
	return `postgres --describe-config` =~ /^output_plugin_libraries\t/m
	  ? "output_plugin_libraries = 'pgoutput, test_decoding, pylibmc_pg'"
	  : '';
}

# pmc_createdb NODE, DB: a database with the extension; dies (the suite
# fails) when either step fails.
sub pmc_createdb
{
	my ($node, $db) = @_;
	$node->safe_psql('postgres', "CREATE DATABASE \"$db\"");
	$node->safe_psql($db, 'CREATE EXTENSION pylibmc_pg');
	return;
}

sub _psql_cmd
{
	my ($node, $db, $stmts, %opt) = @_;
	my @cmd = ('psql', '-X', '-At', '-h', $node->host, '-p', $node->port,
		'-U', $opt{user} // 'postgres', '-d', $db);
	push @cmd, '-q' unless defined $opt{quiet} && !$opt{quiet};
	push @cmd, '-v', 'VERBOSITY=verbose' if $opt{verbose};
	push @cmd, map { ('-c', $_) } @$stmts;
	return @cmd;
}

# sql NODE, DB, [STATEMENTS], %opt: one psql session running each statement
# as a -c of its own (so one that fails does not stop the next); returns
# stdout and stderr together, in order, without the trailing newlines.
# Options: user (default postgres), verbose (SQLSTATEs in messages), quiet
# (default 1: psql -q), env (a hash of environment variables, PGOPTIONS),
# stdin (text fed to psql, for scripts without -c), timeout (seconds: psql
# is killed after them, and what it printed so far is returned).
sub sql
{
	my ($node, $db, $stmts, %opt) = @_;
	my $out = '';
	local %ENV = (%ENV, %{ $opt{env} // {} });
	my @cmd = ([ _psql_cmd($node, $db, $stmts, %opt) ],
		'<', \($opt{stdin} // ''), '>&', \$out);
	if ($opt{timeout})
	{
		my $h = IPC::Run::start(@cmd, IPC::Run::timeout($opt{timeout}));
		eval { $h->finish; 1 } or $h->kill_kill;
	}
	else
	{
		IPC::Run::run(@cmd);
	}
	$out =~ s/\n+\z//;
	return $out;
}

# sql_start NODE, DB, [STATEMENTS], %opt: the same in the background; returns
# a handle whose ->finish returns the output (and the time it ended, in ms,
# as the second value).
sub sql_start
{
	my ($node, $db, $stmts, %opt) = @_;
	my $h = { out => '' };
	# input from a file: a scalar would only be fed while IPC::Run pumps
	my $in = File::Temp->new(DIR => $PostgreSQL::Test::Utils::tmp_check);
	print $in $opt{stdin} // '';
	close $in;
	local %ENV = (%ENV, %{ $opt{env} // {} });
	$h->{run} = IPC::Run::start([ _psql_cmd($node, $db, $stmts, %opt) ],
		'<', $in->filename, '>&', \$h->{out});
	$h->{in} = $in;
	return bless $h, 'PmcTest::Background';
}

# between N, LO, HI, DESC: an integer with LO <= N <= HI.
sub between
{
	my ($n, $lo, $hi, $desc) = @_;
	my $ok = defined $n && $n =~ /^-?\d+$/ && $n >= $lo && $n <= $hi;
	ok($ok, $desc) or diag('got: ' . ($n // 'undef') . ", want $lo..$hi");
	return $ok;
}

sub now_ms { return int(Time::HiRes::time() * 1000) }

# pmc_session NODE, DB, %opt: one long-lived psql session (psql -X -q -At,
# ON_ERROR_STOP off, stdout and stderr in one stream, in order), for tests
# that need one backend across steps or a transaction left open while other
# sessions act.  Options: user, env, verbose (as for sql).  Methods:
#   $s->query(SQL [, TIMEOUT_S])  run SQL (statements and meta-commands; a
#                                 missing final semicolon is added unless
#                                 the last line is a meta-command), return
#                                 what it printed (undef after TIMEOUT_S
#                                 seconds, default 30, with the output so
#                                 far in $s->{partial})
#   $s->send(SQL); $s->wait([TIMEOUT_S])   the same in two steps
#   $s->quit                      \q, and wait for psql to exit
# The session also ends when the suite ends (IPC::Run kills it).
sub pmc_session
{
	my ($node, $db, %opt) = @_;
	my $s = { in => '', out => '', seq => 0 };
	local %ENV = (%ENV, %{ $opt{env} // {} });
	my @cmd = ('psql', '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=0',
		'-h', $node->host, '-p', $node->port,
		'-U', $opt{user} // 'postgres', '-d', $db);
	push @cmd, '-v', 'VERBOSITY=verbose' if $opt{verbose};
	$s->{run} = IPC::Run::start(\@cmd, '<', \$s->{in}, '>&', \$s->{out});
	return bless $s, 'PmcTest::Session';
}

# pmc_watch NODE, DB: a watch over a node that the test tries to crash: an
# idle session (its backend pid), the postmaster's start time and the
# server log's size, now.  Methods:
#   $w->still_up(LABEL)   two checks: no backend crashed, no allocator
#                         complaint reached the server log and the postmaster
#                         did not restart since the last call; and the idle
#                         session is still connected and answers (a new one
#                         is started if not, so that the next checks stand
#                         on their own)
#   $w->{sess}            the idle session; $w->{start} the start time
sub pmc_watch
{
	my ($node, $db) = @_;
	my $w = { node => $node, db => $db };
	$w->{start}  = sql($node, $db, ['SELECT pg_postmaster_start_time()']);
	$w->{logoff} = -s $node->logfile;
	$w->{sess}   = pmc_session($node, $db);
	$w->{pid}    = $w->{sess}->query('SELECT pg_backend_pid()');
	return bless $w, 'PmcTest::Watch';
}

package PmcTest::Watch;

use Test::More;

sub still_up
{
	my ($self, $label) = @_;
	my ($node, $db) = @$self{qw(node db)};
	# wait (30 s) until the node accepts connections
	for (1 .. 300)
	{
		last if PmcTest::sql($node, $db, ['SELECT 1']) eq '1';
		Time::HiRes::usleep(100_000);
	}
	my $log = substr(PostgreSQL::Test::Utils::slurp_file($node->logfile), $self->{logoff});
	my $crashes = () = $log =~
	  /terminated by signal|was terminated by exception|server process .* exited with exit code/g;
	my $heap = () = $log =~ /free\(\)|corrupted|double free|stack smashing/g;
	my $now  = PmcTest::sql($node, $db, ['SELECT pg_postmaster_start_time()']);
	ok($crashes == 0 && $heap == 0 && $now eq $self->{start},
		"$label: no backend crashed, no heap complaint, the postmaster did not restart")
	  or diag("crash lines: $crashes; heap lines: $heap; postmaster start time $self->{start} -> $now\n"
		  . join("\n", grep { /terminated|abort|assert|free\(\)|corrupted|smashing/i } split /\n/, $log));
	my $pid = $self->{sess}->query('SELECT pg_backend_pid()', 10);
	is($pid, $self->{pid}, "$label: the idle session is still connected and answers");
	if (($pid // '') ne $self->{pid})
	{
		$self->{sess}->quit;
		$self->{sess} = PmcTest::pmc_session($node, $db);
		$self->{pid}  = $self->{sess}->query('SELECT pg_backend_pid()');
	}
	$self->{logoff} = -s $node->logfile;
	$self->{start}  = $now;
	return;
}

package PmcTest::Background;

# finish: wait for the session; its output, and when it ended (ms).
sub finish
{
	my ($self) = @_;
	$self->{run}->finish;
	my $end = PmcTest::now_ms();
	(my $out = $self->{out}) =~ s/\n+\z//;
	return wantarray ? ($out, $end) : $out;
}

# pump: let IPC::Run read what the session wrote so far.
sub pump { $_[0]{run}->pump_nb; return; }

package PmcTest::Session;

sub send
{
	my ($self, $sql) = @_;
	$self->{seq}++;
	# a statement left without its semicolon would wait in psql's buffer
	# (a last line that is a meta-command, \i FILE, needs none)
	$sql .= ';' unless $sql =~ /;\s*\z/ || $sql =~ /^\\[^\n]*\z/m;
	$self->{in} .= "$sql\n\\echo __sess_done_$self->{seq}__\n";
	$self->{run}->pump_nb;
	return;
}

sub wait
{
	my ($self, $limit) = @_;
	my $marker   = "__sess_done_$self->{seq}__";
	my $deadline = Time::HiRes::time() + ($limit // 30);
	while (1)
	{
		if ($self->{out} =~ /^\Q$marker\E\n/m)
		{
			my $got = substr($self->{out}, 0, $-[0]);
			$self->{out} = substr($self->{out}, $+[0]);
			$got =~ s/\n\z//;
			return $got;
		}
		last if Time::HiRes::time() > $deadline || !$self->{run}->pumpable;
		$self->{run}->pump_nb;
		Time::HiRes::usleep(5_000);
	}
	($self->{partial} = $self->{out}) =~ s/\n\z//;
	return undef;
}

sub query
{
	my ($self, $sql, $limit) = @_;
	$self->send($sql);
	return $self->wait($limit);
}

sub quit
{
	my ($self) = @_;
	return unless $self->{run}->pumpable;
	$self->{in} .= "\\q\n";
	eval { $self->{run}->finish; 1 } or $self->{run}->kill_kill;
	return;
}

package PmcTest;

# pmc_python_tap SCRIPT, ENV...: run python3 SCRIPT, whose checks stay in
# Python (they use pylibmc) and which prints them as TAP, with ENV (NAME =>
# VALUE pairs) added to the environment; each of its checks becomes a check
# of this suite with the same name, its "#" lines that check's diagnostics
# (or notes, when it passed).  Dies (the suite fails) when the script ends
# early: no plan, another number of checks than it planned, or an exit status
# other than 0 (all passed) or 1 (some failed).
push @PmcTest::EXPORT, 'pmc_python_tap';

sub pmc_python_tap
{
	my ($script, %env) = @_;
	my ($out, $err) = ('', '');
	{
		local %ENV = (%ENV, %env);
		IPC::Run::run([ 'python3', $script ], '<', \'', '>', \$out, '2>', \$err);
	}
	my $status = $?;
	my @lines  = split /\n/, $out;
	my ($n, $plan) = (0, undef);
	for (my $i = 0; $i < @lines; $i++)
	{
		my $line = $lines[$i];
		if ($line =~ /^(not )?ok \d+ - (.*)$/)
		{
			my ($failed, $name) = ($1, $2);
			my @diag;
			push @diag, $lines[ ++$i ] =~ s/^# ?//r
			  while $i + 1 < @lines && $lines[ $i + 1 ] =~ /^#/;
			$n++;
			if ($failed) { ok(0, $name) or diag(join "\n", @diag); }
			else { ok(1, $name); note(join "\n", @diag) if @diag; }
		}
		elsif ($line =~ /^1\.\.(\d+)$/) { $plan = $1; }
		elsif ($line =~ /^# ?(.*)$/) { note($1); }
	}
	diag("$script on stderr:\n$err") if $err ne '';
	die "$script ended with status $status (wait status) after $n checks, "
	  . (defined $plan ? "planned $plan" : 'without a plan') . "\n"
	  unless defined $plan && $plan == $n && ($status == 0 || $status == 256);
	return;
}

# pmc_log_has_no_crash NODE, LABEL [, FROM]: one check that the node's server
# log (from byte FROM on, default the start) shows no process that crashed:
# no "terminated by signal" (a SIGSEGV in a background worker is hidden by
# restart_after_crash: the postmaster reinitializes and the SQL answers
# again), no "terminated by exception", no exit code other than 0 or 1 (a
# background worker's ERROR is exit code 1), no PANIC, no allocator
# complaint of glibc's (not the bare word "corrupted": the DETAIL of every
# crash restart says "possibly corrupted shared memory", and a backend may
# still be writing it after the restart).  A suite that kills a process on
# purpose passes FROM past it.
# Returns the log's size now (the FROM of a next call).
push @PmcTest::EXPORT, 'pmc_log_has_no_crash';

sub pmc_log_has_no_crash
{
	my ($node, $label, $from) = @_;
	my $log = PostgreSQL::Test::Utils::slurp_file($node->logfile, $from // 0);
	my @bad = grep {
		/terminated by signal|terminated by exception|exited with exit code (?![01]\b)\d+|PANIC:|all server processes terminated; reinitializing|free\(\)|malloc\(\)|malloc_consolidate|corrupted size|corrupted double-linked|double free|stack smashing/
	} split /\n/, $log;
	ok(!@bad, "$label: no process crashed (server log)")
	  or diag(join("\n", @bad[ 0 .. ($#bad < 9 ? $#bad : 9) ]));
	return -s $node->logfile;
}

# pmc_wal_node NAME, MC [, db => DB, conf => [LINES], plugin_conf => 0]: a
# node with the invalidation log on (doc/invalidation-log.md): wal_level
# logical, the library preloaded, memcached MC as pylibmc_pg.servers with
# short timeouts and on_error 'warning', a replay worker for DB (default
# postgres), the extension created there.  LINES: more postgresql.conf
# lines.  The output plugin is listed in output_plugin_libraries where the
# setting exists, unless plugin_conf => 0.
push @PmcTest::EXPORT, 'pmc_wal_node';

sub pmc_wal_node
{
	my ($name, $mc, %opt) = @_;
	my $db   = $opt{db} // 'postgres';
	my $node = pmc_node(
		$name,
		join("\n",
			"wal_level = logical",
			"shared_preload_libraries = 'pylibmc_pg'",
			"pylibmc_pg.servers = '$mc'",
			"pylibmc_pg.behaviors = '_poll_timeout=300, connect_timeout=300'",
			"pylibmc_pg.on_error = 'warning'",
			"pylibmc_pg.invalidation_log = on",
			"pylibmc_pg.invalidation_log_databases = '$db'",
			"log_statement = none",
			@{ $opt{conf} // [] },
			(($opt{plugin_conf} // 1) ? pmc_output_plugin_conf() : ())));
	$node->safe_psql($db, 'CREATE EXTENSION pylibmc_pg');
	return $node;
}

# pmc_poll NODE, DB, SECONDS, SQL: true once SQL returns t (asked every
# 100 ms), false after SECONDS.
push @PmcTest::EXPORT, 'pmc_poll';

sub pmc_poll
{
	my ($node, $db, $secs, $q) = @_;
	my $t = now_ms();
	while (now_ms() - $t < $secs * 1000)
	{
		return 1 if sql($node, $db, [$q]) eq 't';
		Time::HiRes::usleep(100_000);
	}
	return 0;
}

1;
