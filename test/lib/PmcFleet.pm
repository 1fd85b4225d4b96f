# test/lib/PmcFleet.pm: memcached servers, and the other processes a Perl TAP
# suite needs next to its PostgreSQL::Test::Cluster node (a proxy, the
# scripted peer test/lib/mcpeer.py), started on free loopback ports and
# stopped by PID when the suite ends, whether it passed, failed or died.
#
#   my $fleet = PmcFleet->new;
#   my $mc    = $fleet->memcached('cache', args => [ '-m', 16 ]);
#   $mc->addr;                      # 127.0.0.1:PORT
#   $fleet->memcached('sock', transport => 'unix')->addr;   # /path/mc-sock.sock
#   $fleet->memcached('dgram', transport => 'udp')->addr;   # udp:127.0.0.1:PORT
#   $fleet->memcached('auth', sasl => 1);  # binary protocol, PLAIN, user
#                                          # $PmcFleet::SASL_USER
#   $mc->pause; $mc->resume;        # SIGSTOP, SIGCONT
#   $mc->pause_stopped;             # SIGSTOP, and wait until it is stopped
#   $mc->stop; $mc->restart;        # same port, arguments and environment
#   $fleet->peer('liar', 'lying-value');          # test/lib/mcpeer.py MODE
#   $fleet->spawn('proxy', [ 'nutcracker', ... ], ready => sub { ... });
#   $fleet->free_port;              # a port free for TCP and UDP
#
# Everything runs as the user running the suite: PostgreSQL::Test::Cluster
# refuses root, and so does this module (tools/test.sh runs prove as the
# postgres user).  Each process's PID is also written to DIR/NAME.pid (DIR
# is $fleet->dir, under the suite's tmp_check), so that a harness that had
# to kill a suite can stop what it left.  Logs go to tmp_check/log/NAME.log.
package PmcFleet;

use strict;
use warnings;

use Carp;
use File::Basename qw(dirname);
use File::Spec;
use IO::Select;
use IO::Socket::INET;
use IO::Socket::UNIX;
use POSIX qw(WNOHANG);
use Socket qw(SOCK_STREAM SOCK_DGRAM);
use Time::HiRes qw(usleep time);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils ();

our $SASL_USER     = 'pmcuser';
our $SASL_PASSWORD = 'pmc-secret-pw';

my $LIB    = dirname(File::Spec->rel2abs(__FILE__));
my $OWNER  = $$;    # forked children must not stop the fleet at their exit
my @FLEETS;

# An interrupted suite (a harness timeout sends SIGTERM) still runs the END
# blocks: this module's stops the processes, Cluster's stops the nodes.
$SIG{TERM} = sub { exit 143 } unless $SIG{TERM};
$SIG{INT}  = sub { exit 130 } unless $SIG{INT};

sub new
{
	my ($class) = @_;
	croak 'PmcFleet: do not run as root (PostgreSQL::Test::Cluster refuses it too)'
	  if $< == 0;
	my $dir = PostgreSQL::Test::Utils::tempdir('pmcfleet');
	chmod 0755, $dir;
	my $self = bless { dir => $dir, procs => {} }, $class;
	push @FLEETS, $self;
	return $self;
}

sub dir { return $_[0]{dir} }

# free_port: a port free for TCP and UDP on 127.0.0.1, reserved for this
# suite by PostgreSQL::Test::Cluster's port lock files.
sub free_port
{
	for (1 .. 100)
	{
		my $port = PostgreSQL::Test::Cluster::get_free_port();
		my $udp  = IO::Socket::INET->new(
			Proto     => 'udp',
			LocalAddr => '127.0.0.1',
			LocalPort => $port);
		next unless $udp;
		close $udp;
		return $port;
	}
	croak 'PmcFleet: no port free for both TCP and UDP';
}

# memcached NAME, %opts: start a memcached, wait until it answers `version`,
# return its PmcFleet::Process.  Options:
#   transport  tcp (default), unix or udp (UDP and TCP on one port)
#   sasl       1: SASL PLAIN with $SASL_USER / $SASL_PASSWORD (binary only)
#   host       a loopback address (default 127.0.0.1)
#   port       a fixed port (default: a free one)
#   args       more memcached arguments (default: -m 64)
#   try        1: return undef instead of dying when it does not start
sub memcached
{
	my ($self, $name, %opt) = @_;
	my $transport = $opt{transport} // 'tcp';
	my $host      = $opt{host} // '127.0.0.1';
	my @args      = @{ $opt{args} // [ '-m', 64 ] };
	my %env;
	my $check = $transport;
	if ($opt{sasl})
	{
		$env{SASL_CONF_PATH} = $self->_sasl_conf;
		push @args, '-S';
		$check = 'binary';
	}
	for my $attempt (1 .. 3)
	{
		my (@cmd, $addr, $port);
		if ($transport eq 'unix')
		{
			$addr = "$self->{dir}/$name.sock";
			@cmd = ('memcached', '-s', $addr, '-a', '0777', @args);
		}
		else
		{
			$port = $opt{port} // $self->free_port;
			@cmd = ('memcached', '-l', $host, '-p', $port, '-U',
				$transport eq 'udp' ? $port : 0, @args);
			$addr = ($transport eq 'udp' ? 'udp:' : '') . "$host:$port";
		}
		my $p = $self->_start(
			$name, \@cmd,
			env   => \%env,
			addr  => $addr,
			port  => $port,
			ready => sub { _mc_answers($check, $addr) });
		return $p if $p->await;
		$p->stop;
		last if $transport eq 'unix' || defined $opt{port};
	}
	return undef if $opt{try};
	croak "PmcFleet: memcached '$name' did not start (log: "
	  . _log($name) . ")";
}

# peer NAME, MODE [, LIFETIME]: test/lib/mcpeer.py MODE, which prints the
# port it listens on; its address is 127.0.0.1:PORT.
sub peer
{
	my ($self, $name, $mode, $lifetime) = @_;
	my $portfile = "$self->{dir}/$name.port";
	unlink $portfile;
	my $p = $self->_start(
		$name,
		[ 'python3', "$LIB/mcpeer.py", $mode, $lifetime // 300 ],
		stdout => $portfile,
		ready  => sub {
			open my $fh, '<', $portfile or return 0;
			my $line = <$fh>;
			return 0 unless defined $line && $line =~ /^(\d+)\s*$/;
			$_[0]{port} = $1;
			$_[0]{addr} = "127.0.0.1:$1";
			return 1;
		});
	return $p if $p->await;
	$p->stop;
	croak "PmcFleet: mcpeer.py $mode did not start (log: " . _log($name) . ")";
}

# spawn NAME, [CMD...], ready => SUB, addr => ADDR: any other process, ready
# when SUB returns true (default: at once).
sub spawn
{
	my ($self, $name, $cmd, %opt) = @_;
	my $p = $self->_start($name, $cmd, %opt);
	return $p if $p->await;
	$p->stop;
	croak "PmcFleet: $cmd->[0] did not start (log: " . _log($name) . ")";
}

# stop_all: stop every process of this fleet (all signalled, then waited for).
sub stop_all
{
	my ($self) = @_;
	my @procs = grep { $_->alive } values %{ $self->{procs} };
	$_->_signal_stop for @procs;
	$_->_reap for @procs;
	return;
}

sub _log { return "$PostgreSQL::Test::Utils::log_path/$_[0].log" }

sub _start
{
	my ($self, $name, $cmd, %opt) = @_;
	croak "PmcFleet: bad name '$name'" unless $name =~ /^[A-Za-z0-9_.-]+$/;
	croak "PmcFleet: '$name' is already running"
	  if $self->{procs}{$name} && $self->{procs}{$name}->alive;
	my $p = bless {
		name   => $name,
		cmd    => [@$cmd],
		env    => $opt{env} // {},
		stdout => $opt{stdout},
		ready  => $opt{ready} // sub { 1 },
		addr   => $opt{addr},
		port   => $opt{port},
		fleet  => $self,
	  },
	  'PmcFleet::Process';
	$self->{procs}{$name} = $p;
	$p->_launch;
	return $p;
}

sub _sasl_conf
{
	my ($self) = @_;
	my $dir = "$self->{dir}/sasl";
	return $dir if -e "$dir/sasldb2";
	mkdir $dir;
	PostgreSQL::Test::Utils::append_to_file("$dir/memcached.conf",
		"mech_list: plain\nsasldb_path: $dir/sasldb2\n");
	# in /usr/sbin, which a non-root PATH often lacks
	my ($saslpasswd2) = grep { -x } map { "$_/saslpasswd2" } split(/:/, $ENV{PATH}), '/usr/sbin';
	croak 'PmcFleet: no saslpasswd2 (Debian package sasl2-bin)' unless $saslpasswd2;
	open my $pw, '|-', $saslpasswd2, '-a', 'memcached', '-c', '-p', '-f',
	  "$dir/sasldb2", $SASL_USER
	  or croak "PmcFleet: saslpasswd2: $!";
	print $pw $SASL_PASSWORD;
	close $pw or croak "PmcFleet: saslpasswd2 failed (status $?)";
	return $dir;
}

# _mc_answers KIND, ADDR: true when the server answers a version request
# (ASCII over TCP, a UNIX socket or UDP with memcached's frame header, or
# binary for a SASL server, whose VERSION needs no authentication).
sub _mc_answers
{
	my ($kind, $addr) = @_;
	my $sock;
	if ($kind eq 'udp')
	{
		my ($h, $port) = $addr =~ /^udp:(.*):(\d+)$/;
		$sock = IO::Socket::INET->new(
			Proto    => 'udp',
			PeerAddr => $h,
			PeerPort => $port) or return 0;
		$sock->send("\x00\x01\x00\x00\x00\x01\x00\x00version\r\n");
		return 0 unless IO::Select->new($sock)->can_read(1);
		my $buf = '';
		$sock->recv($buf, 1500);
		return $buf =~ /VERSION /;
	}
	if ($kind eq 'unix')
	{
		$sock = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $addr)
		  or return 0;
	}
	else
	{
		my ($h, $port) = $addr =~ /^(.*):(\d+)$/;
		$sock = IO::Socket::INET->new(
			PeerAddr => $h,
			PeerPort => $port,
			Timeout  => 2) or return 0;
	}
	my $req =
	  $kind eq 'binary'
	  ? "\x80\x0b" . ("\x00" x 22)
	  : "version\r\n";
	print $sock $req;
	return 0 unless IO::Select->new($sock)->can_read(2);
	my $buf = '';
	sysread $sock, $buf, 4096;
	return $kind eq 'binary'
	  ? (length($buf) >= 24 && substr($buf, 0, 1) eq "\x81")
	  : ($buf =~ /^VERSION /);
}

END
{
	my $rc = $?;
	if ($$ == $OWNER)
	{
		$_->stop_all for @FLEETS;
	}
	$? = $rc;
}

package PmcFleet::Process;

use strict;
use warnings;

use POSIX qw(WNOHANG);
use Time::HiRes qw(usleep time);

sub name { return $_[0]{name} }
sub pid  { return $_[0]{pid} }
sub addr { return $_[0]{addr} }
sub port { return $_[0]{port} }

sub _launch
{
	my ($self) = @_;
	my $log = PmcFleet::_log($self->{name});
	my $pid = fork;
	die "PmcFleet: fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		# exec or _exit: never return into the test (no END blocks here)
		open STDIN, '<', '/dev/null';
		if ($self->{stdout})
		{
			open STDOUT, '>', $self->{stdout};
		}
		else
		{
			open STDOUT, '>>', $log;
		}
		open STDERR, '>>', $log;
		$ENV{$_} = $self->{env}{$_} for keys %{ $self->{env} };
		exec { $self->{cmd}[0] } @{ $self->{cmd} }
		  or POSIX::_exit(127);
	}
	$self->{pid}    = $pid;
	$self->{status} = undef;
	PostgreSQL::Test::Utils::append_to_file($log,
		scalar(localtime) . ": [$pid] @{ $self->{cmd} }\n");
	open my $fh, '>', "$self->{fleet}{dir}/$self->{name}.pid";
	print $fh "$pid\n";
	close $fh;
	return;
}

# alive: true while the process runs (a stopped one counts), reaping it
# once it has exited.
sub alive
{
	my ($self) = @_;
	return 0 unless $self->{pid} && !defined $self->{status};
	my $r = waitpid($self->{pid}, WNOHANG);
	if ($r == $self->{pid} || $r < 0)
	{
		$self->{status} = $?;
		return 0;
	}
	return 1;
}

# await: wait (15 s) until the process is ready; false if it exited or
# never became ready.
sub await
{
	my ($self) = @_;
	my $deadline = time + 15;
	while (time < $deadline)
	{
		return 0 unless $self->alive;
		return 1 if $self->{ready}->($self);
		usleep(50_000);
	}
	return 0;
}

sub pause  { kill 'STOP', $_[0]{pid} if $_[0]->alive; return; }
sub resume { kill 'CONT', $_[0]{pid} if $_[0]->alive; return; }

# pause_stopped: pause, then wait (1 s at most) until every thread of the
# process shows stopped in /proc: on a busy machine a running memcached
# takes a while to stop, and a request sent at once may still be answered.
# True once all are stopped.
sub pause_stopped
{
	my ($self) = @_;
	$self->pause;
	for (1 .. 100)
	{
		my @st;
		for my $f (glob("/proc/$self->{pid}/task/*/stat"))
		{
			open my $fh, '<', $f or next;
			push @st, (split / /, scalar <$fh>)[2] // '';
		}
		return 1 if @st && !grep { $_ ne 'T' && $_ ne 't' } @st;
		usleep(10_000);
	}
	return 0;
}

sub _signal_stop
{
	my ($self) = @_;
	return unless $self->alive;
	kill 'TERM', $self->{pid};
	kill 'CONT', $self->{pid};
	return;
}

sub _reap
{
	my ($self) = @_;
	my $deadline = time + 10;
	usleep(20_000) while $self->alive && time < $deadline;
	if ($self->alive)
	{
		kill 'KILL', $self->{pid};
		usleep(20_000) while $self->alive;
	}
	unlink "$self->{fleet}{dir}/$self->{name}.pid";
	return;
}

# stop: SIGTERM (and SIGCONT, in case it was stopped), SIGKILL after 10 s,
# and wait until it is gone.
sub stop
{
	my ($self) = @_;
	$self->_signal_stop;
	$self->_reap;
	return;
}

# restart: stop if running, start with the same command; false (with the
# process stopped) if it does not answer again.
sub restart
{
	my ($self) = @_;
	$self->stop;
	$self->_launch;
	return 1 if $self->await;
	$self->stop;
	return 0;
}

package PmcFleet;

# PmcFleet::answers ADDR: true when a memcached answers a version request at
# ADDR (HOST:PORT, udp:HOST:PORT or a UNIX socket's path), whoever started
# it: for a suite that needs the server at a fixed address (127.0.0.1:11211)
# and uses one already there.
sub answers
{
	my ($addr) = @_;
	return _mc_answers($addr =~ /^udp:/ ? 'udp' : $addr =~ m{^/} ? 'unix' : 'tcp', $addr);
}

1;
