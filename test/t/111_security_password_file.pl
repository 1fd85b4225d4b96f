# test/t/111_security_password_file.pl: what pylibmc_pg.password_file
# refuses, on a node configured as doc/security.md recommends
# (password_file in postgresql.conf, the library preloaded).
#
#   - A file whose first line holds a NUL byte is refused (F0000), rather
#     than the part before the NUL being sent as the password.
#   - A FIFO at the file's path is refused at once (F0000, "not a plain
#     file"), without waiting in open() for a writer: that wait could not
#     be cancelled nor terminated.  (On a failure, the test releases a
#     stuck backend by opening the FIFO for writing.)
#   - A plain file with the password authenticates, before and after.
use strict;
use warnings;

use Fcntl qw(O_WRONLY O_NONBLOCK);
use POSIX qw(mkfifo);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use PmcFleet;
use PmcTest;

plan tests => 8;

my $fleet  = PmcFleet->new;
my $SASL   = $fleet->memcached('sasl', sasl => 1)->addr;
my $PW     = $PmcFleet::SASL_PASSWORD;
my $PWFILE = $fleet->dir . '/memcached.pw';

# release_fifo: a backend waiting in open() on the FIFO goes on once a
# writer opens it
sub release_fifo
{
	return unless -p $PWFILE;
	my $fh;
	close $fh if sysopen($fh, $PWFILE, O_WRONLY | O_NONBLOCK);
	return;
}
END { release_fifo(); }

# write_pwfile CONTENT: the password file, private to its owner
sub write_pwfile
{
	unlink $PWFILE;
	open my $fh, '>', $PWFILE or die "$PWFILE: $!";
	print $fh $_[0];
	close $fh;
	chmod 0600, $PWFILE;
	return;
}
write_pwfile("$PW\n");

my $node = pmc_node('password_file', "shared_preload_libraries = 'pylibmc_pg'
pylibmc_pg.servers = '$SASL'
pylibmc_pg.binary_protocol = on
pylibmc_pg.username = '$PmcFleet::SASL_USER'
pylibmc_pg.password_file = '$PWFILE'");

# q1 SQL [TIMEOUT]: a fresh session (the file is read when its client is built)
sub q1
{
	return sql($node, 'postgres', [ $_[0] ], quiet => 0, verbose => 1, timeout => $_[1] // 30);
}
q1('CREATE EXTENSION pylibmc_pg');
my $USE = "SELECT mc_set('pwfile:k', 'ok') AND mc_get('pwfile:k') = 'ok'";

is(q1($USE), 't', 'a plain file with the password authenticates');

# a NUL byte: the password before it would authenticate; refused instead
write_pwfile("$PW\0tail\n");
my $res = q1($USE);
like($res, qr/ERROR:  F0000: password file "\Q$PWFILE\E" contains a NUL byte/,
	'a first line with a NUL byte is refused (F0000), not cut at the NUL');
ok(index($res, $PW) < 0, 'that error does not show the password');

# a FIFO: refused at once, never a wait in open()
unlink $PWFILE;
mkfifo($PWFILE, 0600) or die "mkfifo: $!";
my $t0 = now_ms();
$res = q1("SET statement_timeout = '3s'; $USE", 10);
my $ms = now_ms() - $t0;
release_fifo();
diag("a FIFO as password_file: the call ended after $ms ms");
like($res, qr/ERROR:  F0000: password file "\Q$PWFILE\E" is not a plain file/, 'a FIFO is refused as not a plain file');
between($ms, 0, 2000, '... at once (no wait in open() for a writer)');
usleep(500_000);
is( q1("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() "
		  . "AND backend_type = 'client backend'"),
	'0', 'no backend is left waiting on it');

write_pwfile("$PW\n");
is(q1($USE),       't', 'a plain file authenticates again');
is(q1('SELECT 1'), '1', 'the node still answers');
