# test/t/113_security_password_file_scope.pl: a server-wide password_file,
# as doc/security.md recommends, on a node with the library preloaded,
# pylibmc_pg.password_file and the SASL server in postgresql.conf, and
# pylibmc_pg.username (with binary_protocol) set only for the
# application's database "app".
#
# A database that names no username uses no SASL and works (its own
# memcached, ASCII or binary), instead of "SASL authentication requires
# both pylibmc_pg.username and pylibmc_pg.password".
#
# A stored servers value that a role which is not a superuser could have
# written never receives the credentials, whatever the grants are now.
# mallory is granted SET on pylibmc_pg.servers, stores her own listener
# with ALTER ROLE mallory SET (and ALTER ROLE ... IN DATABASE, and ALTER
# DATABASE on a database she owns), then the grant is revoked: a new
# mallory session's mc_get is refused (42501) and the listener receives not
# one byte.  The configured servers still work for her, and for app.  A
# check that trusted such a value whenever no role but superusers held SET
# on servers when the session started (pg_parameter_acl is cluster-wide)
# would refuse the same value while another role, here cache_admin, held
# the grant, and send the credentials once nobody did.
use strict;
use warnings;

use IO::Socket::INET;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use PmcFleet;
use PmcTest;

plan tests => 17;

my $fleet   = PmcFleet->new;
my $SASL    = $fleet->memcached('sasl', sasl => 1)->addr;
my $TCP     = $fleet->memcached('tcp')->addr;
my $PWFILE  = $fleet->dir . '/memcached.pw';
my $CAPTURE = $fleet->dir . '/listener.bytes';
my $PW      = $PmcFleet::SASL_PASSWORD;

open my $fh, '>', $PWFILE or die "$PWFILE: $!";
print $fh "$PW\n";
close $fh;
chmod 0600, $PWFILE;

# mallory's server: records every byte it receives, answers nothing
my $LPORT = $fleet->free_port;
$fleet->spawn(
	'listener',
	[ 'python3', '-c', <<'PY', $LPORT, $CAPTURE ],
import socket, sys, threading
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1]))); srv.listen(16)
out = open(sys.argv[2], "ab", buffering=0)
def serve(c):
    while True:
        b = c.recv(65536)
        if not b: return
        out.write(b)
while True:
    c, _ = srv.accept()
    out.write(b"<connect>")
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
	# it opens the file once it listens (a probe connection would be recorded)
	ready => sub { -e $CAPTURE });
my $LISTENER = "127.0.0.1:$LPORT";

my $node = pmc_node('password_file_scope', "shared_preload_libraries = 'pylibmc_pg'
pylibmc_pg.servers = '$SASL'
pylibmc_pg.password_file = '$PWFILE'");

# q1 DB ROLE SQL...: a fresh session
sub q1
{
	my ($db, $role, @stmts) = @_;
	return sql($node, $db, \@stmts, user => $role, quiet => 0, verbose => 1, timeout => 30);
}
sub as_su { q1($_[0], 'postgres', @_[ 1 .. $#_ ]); return; }

as_su('postgres', 'CREATE ROLE mallory LOGIN', 'CREATE ROLE cache_admin', 'CREATE DATABASE app',
	'CREATE DATABASE other', 'CREATE DATABASE mdb OWNER mallory');
as_su($_, 'CREATE EXTENSION pylibmc_pg') for qw(app other mdb);
# app and mdb use SASL; other has its own memcached and no username
for my $db (qw(app mdb))
{
	as_su('postgres', "ALTER DATABASE $db SET pylibmc_pg.binary_protocol = on",
		"ALTER DATABASE $db SET pylibmc_pg.username = '$PmcFleet::SASL_USER'");
}
as_su('postgres', "ALTER DATABASE other SET pylibmc_pg.servers = '$TCP'");

my $USE = "SELECT mc_set('scope:k', 'ok') AND mc_get('scope:k') = 'ok'";

# ---- no username: no SASL ----
is(q1('app',   'postgres', $USE), 't', 'app (username set, password file server-wide) authenticates');
is(q1('other', 'postgres', $USE), 't', 'other (no username): no SASL, its own memcached works');
is(q1('other', 'mallory',  $USE), 't', '... for an ordinary role too');
is(q1('other', 'postgres', 'SET pylibmc_pg.binary_protocol = on', $USE), "SET\nt", '... and over the binary protocol');
like(q1('other', 'postgres', "SET pylibmc_pg.password = 'x'", $USE),
	qr/55000: pylibmc_pg.password and pylibmc_pg.password_file are both set/,
	'a password set besides the file is still refused');
like(q1('other', 'postgres', "SET pylibmc_pg.servers = '$SASL'", 'SET pylibmc_pg.binary_protocol = on',
		"SELECT mc_get('scope:k')"),
	qr/28000: memcached server .* requires SASL authentication/,
	'without a username the SASL server is asked nothing secret: it wants SASL (28000)');

# ---- stored server lists a role could have written ----
is(q1('app', 'mallory', "SELECT mc_get('scope:k')"), 'ok', "mallory reads app's cache through the configured servers");

# granted, mallory stores her listener for herself, everywhere she can
as_su('postgres', 'GRANT SET ON PARAMETER pylibmc_pg.servers TO mallory');
q1('app', 'mallory', "ALTER ROLE mallory SET pylibmc_pg.servers = '$LISTENER'");
like(q1('app', 'mallory', "SELECT mc_get('scope:k')"), qr/42501/,
	"while granted, her new session's call is refused (42501)");
as_su('postgres', 'REVOKE SET ON PARAMETER pylibmc_pg.servers FROM mallory');
as_su('postgres', 'GRANT SET ON PARAMETER pylibmc_pg.servers TO cache_admin');
my $out = q1('app', 'mallory', 'SHOW pylibmc_pg.servers', "SELECT mc_get('scope:k')");
like($out, qr/^\Q$LISTENER\E/, 'after the REVOKE her stored value is still applied');
like($out, qr/ERROR:  42501: SASL credentials are not sent/, '... and her call is refused (42501): ALTER ROLE SET');
as_su('postgres', 'REVOKE SET ON PARAMETER pylibmc_pg.servers FROM cache_admin');
like(q1('app', 'mallory', "SELECT mc_get('scope:k')"), qr/ERROR:  42501: SASL credentials are not sent/,
	"... and once cache_admin's grant is revoked too");

as_su('postgres', 'GRANT SET ON PARAMETER pylibmc_pg.servers TO mallory');
q1('app', 'mallory', 'ALTER ROLE mallory RESET pylibmc_pg.servers',
	"ALTER ROLE mallory IN DATABASE app SET pylibmc_pg.servers = '$LISTENER'");
as_su('postgres', 'REVOKE SET ON PARAMETER pylibmc_pg.servers FROM mallory');
like(q1('app', 'mallory', "SELECT mc_get('scope:k')"), qr/ERROR:  42501: SASL credentials are not sent/,
	'refused (42501): ALTER ROLE ... IN DATABASE ... SET');

as_su('postgres', 'GRANT SET ON PARAMETER pylibmc_pg.servers TO mallory');
q1('mdb', 'mallory', 'ALTER ROLE mallory IN DATABASE app RESET pylibmc_pg.servers',
	"ALTER DATABASE mdb SET pylibmc_pg.servers = '$LISTENER'");
as_su('postgres', 'REVOKE SET ON PARAMETER pylibmc_pg.servers FROM mallory');
like(q1('mdb', 'mallory', "SELECT mc_get('scope:k')"), qr/ERROR:  42501: SASL credentials are not sent/,
	"refused (42501): ALTER DATABASE ... SET by the database's owner");
like(q1('mdb', 'postgres', "SELECT mc_get('scope:k')"), qr/ERROR:  42501: SASL credentials are not sent/,
	"... for a superuser's session in that database too");

usleep(500_000);
is((stat $CAPTURE)[7], 0, "mallory's listener received nothing (not even a connection)");
ok(index(slurp_file($CAPTURE), $PW) < 0, 'the password never reached it');

is(q1('app', 'postgres', $USE), 't', 'app still authenticates with the configured servers');
