# test/t/114_security_secrets.pl: SASL credentials stay secret
# (doc/security.md).
#
# Part 1: a role granted SET ON PARAMETER pylibmc_pg.servers points the
# servers at a listener of this test's own and calls mc_get while a
# superuser's SASL credentials are set.  The listener plays the attacker's
# memcached (a scripted peer: it offers PLAIN and records what it is sent,
# which no real memcached lets us see): it must receive nothing, and the
# call must fail with 42501.  A superuser's own server list still
# authenticates against the SASL memcached.
#
# Part 2, on a node with shared_preload_libraries = 'pylibmc_pg':
# pylibmc_pg.password_file authenticates, a group/world-readable file is
# refused, and changing password_file by ALTER SYSTEM + reload logs no
# secret, while the GUC route puts the password in the log, in
# pg_proc.proconfig and (through log_min_error_statement) in a failed
# statement's log line, as doc/security.md says.
#
# Both nodes log no statements (log_statement = none, PostgreSQL's
# default; PostgreSQL::Test::Cluster sets all).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use PmcFleet;
use PmcTest;

plan tests => 23;

my $fleet = PmcFleet->new;
my $SASL  = $fleet->memcached('sasl', sasl => 1)->addr;
my $USER  = $PmcFleet::SASL_USER;
my $PW    = $PmcFleet::SASL_PASSWORD;
my $DIR   = $fleet->dir;

# contains FILE STRING: true when FILE holds STRING (bytes, fixed string)
sub contains { return -e $_[0] && index(slurp_file($_[0]), $_[1]) >= 0; }
sub size_of  { return (stat $_[0])[7]; }

# ---------- part 1: no credentials to a server list a role chose ----------

my $LPORT   = $fleet->free_port;
my $CAPTURE = "$DIR/listener.bytes";
# A hostile "memcached": binary protocol, offers SASL PLAIN, accepts any
# login, answers every other request "not found", and appends every byte it
# receives to the capture file.
$fleet->spawn(
	'listener',
	[ 'python3', '-c', <<'PY', $LPORT, $CAPTURE, "$DIR/listener.ready" ],
import socket, struct, sys, threading
port, capture, ready = int(sys.argv[1]), sys.argv[2], sys.argv[3]
lock = threading.Lock()
def reply(conn, opcode, opaque, status, body=b""):
    conn.sendall(struct.pack(">BBHBBHIIQ", 0x81, opcode, 0, 0, 0, status,
                             len(body), opaque, 0) + body)
def serve(conn):
    buf = b""
    with conn:
        while True:
            data = conn.recv(65536)
            if not data:
                return
            with lock, open(capture, "ab") as f:
                f.write(data)
            buf += data
            while len(buf) >= 24:
                opcode = buf[1]
                total = struct.unpack(">I", buf[8:12])[0]
                opaque = struct.unpack(">I", buf[12:16])[0]
                if len(buf) < 24 + total:
                    break
                buf = buf[24 + total:]
                if opcode == 0x20:        # SASL list mechanisms
                    reply(conn, opcode, opaque, 0, b"PLAIN")
                elif opcode == 0x21:      # SASL auth: welcome
                    reply(conn, opcode, opaque, 0, b"Authenticated")
                else:
                    reply(conn, opcode, opaque, 1, b"Not found")
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(16)
open(capture, "wb").close()
open(ready, "w").close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
	ready => sub { -e "$DIR/listener.ready" });

my $node = pmc_node('secrets', "log_statement = none\npylibmc_pg.servers = '$SASL'");
my $DB   = 'pmc_secrets_tap';
my $ROLE = 'pmc_secrets_granted';
pmc_createdb($node, $DB);
sql($node, $DB, [], stdin => <<EOF);
CREATE ROLE $ROLE LOGIN;
GRANT SET ON PARAMETER pylibmc_pg.servers TO $ROLE;
EOF

# script SQL [%opt]: one session running SQL (psql -q -At, from stdin)
sub script { my ($s, %opt) = @_; return sql($node, $DB, [], stdin => $s, %opt); }

# the superuser's SASL settings, then the granted role takes over
my $SU_SASL = "LOAD 'pylibmc_pg';
SET pylibmc_pg.binary_protocol = on;
SET pylibmc_pg.username = '$USER';
SET pylibmc_pg.password = '$PW';";

my $out = script(<<EOF);
\\set VERBOSITY verbose
$SU_SASL
SET ROLE $ROLE;
SET pylibmc_pg.servers = '127.0.0.1:$LPORT';
SELECT mc_get('sec_tap:k');
SELECT mc_set('sec_tap:k', 'v');
-- still the role's list after RESET ROLE: the superuser's call refuses too
RESET ROLE;
SELECT mc_get('sec_tap:k');
EOF
my $n =
  () = $out =~ /^ERROR:  42501: SASL credentials are not sent to servers chosen by a role that cannot read them/mg;
is($n, 3, "the granted role's mc_get and mc_set, and the superuser's call after it, fail with 42501")
  or diag($out);
usleep(200_000);
is(size_of($CAPTURE), 0, "the role's listener received nothing (no connection, no SASL exchange)");
ok(!contains($CAPTURE, $PW), "the role's listener did not receive the password");

# the same through a function's SET clause owned by the granted role
$out = script(<<EOF);
\\set VERBOSITY verbose
$SU_SASL
SET ROLE $ROLE;
CREATE FUNCTION pg_temp.steal() RETURNS text LANGUAGE sql
	SET pylibmc_pg.servers = '127.0.0.1:$LPORT' AS \$\$SELECT mc_get('sec_tap:k')\$\$;
SELECT pg_temp.steal();
EOF
like($out, qr/ERROR:  42501: SASL credentials are not sent/,
	'a function SET clause of the granted role is refused the same way');
is(size_of($CAPTURE), 0, 'the listener still received nothing');

# set before the library is loaded, in a superuser's session under SET ROLE:
# the role set the placeholder, so the value is the role's choice
$out = script(<<EOF);
\\set VERBOSITY verbose
SET pylibmc_pg.binary_protocol = on;
SET pylibmc_pg.username = '$USER';
SET pylibmc_pg.password = '$PW';
SET ROLE $ROLE;
SET pylibmc_pg.servers = '127.0.0.1:$LPORT';
RESET ROLE;
SELECT mc_get('sec_tap:k');
EOF
like($out, qr/ERROR:  42501: SASL credentials are not sent/,
	"a placeholder the role set before the library loaded is the role's choice too");

# stored by ALTER ROLE while a role that is not a superuser may set servers:
# its author is unknown, so it is not trusted (credentials stored by a
# superuser, no grant on password)
script(<<EOF);
LOAD 'pylibmc_pg';
ALTER ROLE $ROLE IN DATABASE $DB SET pylibmc_pg.servers = '127.0.0.1:$LPORT';
ALTER ROLE $ROLE IN DATABASE $DB SET pylibmc_pg.binary_protocol = on;
ALTER ROLE $ROLE IN DATABASE $DB SET pylibmc_pg.username = '$USER';
ALTER ROLE $ROLE IN DATABASE $DB SET pylibmc_pg.password = '$PW';
EOF
$out = sql($node, $DB, ["SELECT mc_get('sec_tap:k')"], user => $ROLE);
like($out, qr/ERROR:  SASL credentials are not sent/,
	"a server list stored by ALTER ROLE while the grant exists is refused for the role's session");
sql($node, $DB, ["ALTER ROLE $ROLE IN DATABASE $DB RESET ALL"]);
is(size_of($CAPTURE), 0, 'the listener still received nothing');

# the role's own credentials are its own to send where it likes
script(<<EOF);
LOAD 'pylibmc_pg';
GRANT SET ON PARAMETER pylibmc_pg.username TO $ROLE;
GRANT SET ON PARAMETER pylibmc_pg.password TO $ROLE;
EOF
my $OWN = "role-own-pw-$$";
$out = script(<<EOF);
$SU_SASL
SET ROLE $ROLE;
SET pylibmc_pg.servers = '127.0.0.1:$LPORT';
SET pylibmc_pg.username = 'roleuser';
SET pylibmc_pg.password = '$OWN';
SELECT coalesce(mc_get('sec_tap:k'), 'miss');
EOF
is($out, 'miss', 'with a username and password of its own, the granted role uses its own server');
ok(contains($CAPTURE, $OWN) && !contains($CAPTURE, $PW),
	"the listener got the role's own password, never the configured one");

# a superuser's server list still authenticates against the SASL memcached
$out = script(<<EOF);
$SU_SASL
SET pylibmc_pg.servers = '$SASL';
SELECT mc_set('sec_tap:su', 'ok') AND mc_get('sec_tap:su') = 'ok' AND mc_delete('sec_tap:su');
SET ROLE $ROLE;
SELECT mc_get('sec_tap:none') IS NULL;
EOF
is($out, "t\nt", "a superuser's servers authenticate, for the superuser and for a role that uses them");
$node->stop;

# ---------- part 2: the password file ----------

my $PWFILE = "$DIR/memcached.pw";
sub write_file
{
	my ($file, $content, $mode) = @_;
	unlink $file;
	open my $fh, '>', $file or die "$file: $!";
	print $fh $content;
	close $fh;
	chmod $mode, $file;
	return;
}
write_file($PWFILE, "$PW\n", 0600);

my $conf = pmc_node('secrets_file', "log_statement = none
log_min_error_statement = error
shared_preload_libraries = 'pylibmc_pg'
pylibmc_pg.servers = '$SASL'
pylibmc_pg.binary_protocol = on
pylibmc_pg.username = '$USER'
pylibmc_pg.password_file = '$PWFILE'");
my $LOG = $conf->logfile;

sub su_sql  { return sql($conf, 'postgres', [ $_[0] ], quiet => 0); }
sub app_sql { return sql($conf, 'postgres', [ $_[0] ], quiet => 0, user => 'pmc_tap_app'); }
# reload and wait until a new session sees the given value of a setting
sub reload_until
{
	my ($name, $want) = @_;
	su_sql('SELECT pg_reload_conf()');
	for (1 .. 50)
	{
		return 1 if su_sql("SHOW $name") eq $want;
		usleep(100_000);
	}
	return 0;
}

su_sql('CREATE ROLE pmc_tap_app LOGIN; CREATE EXTENSION pylibmc_pg');

is(app_sql("SELECT mc_set('sec_tap:file', 'ok') AND mc_get('sec_tap:file') = 'ok' AND mc_delete('sec_tap:file')"),
	't', 'SASL authentication with the password from pylibmc_pg.password_file');

chmod 0644, $PWFILE;
my $res = app_sql("SELECT mc_get('sec_tap:file')");
like($res, qr/ERROR:  password file "\Q$PWFILE\E" has group or world access/,
	'a 0644 password file is refused with a clear error');
ok(index($res, $PW) < 0, 'that error does not show the password');
chmod 0600, $PWFILE;

# a new password file through ALTER SYSTEM and a reload: the log names the
# file, never the secret
my $PWFILE2 = "$DIR/memcached2.pw";
write_file($PWFILE2, "$PW\r\nsecond line ignored\n", 0400);
su_sql("ALTER SYSTEM SET pylibmc_pg.password_file = '$PWFILE2'");
reload_until('pylibmc_pg.password_file', $PWFILE2);
is(app_sql("SELECT mc_set('sec_tap:file2', 'ok') AND mc_get('sec_tap:file2') = 'ok' AND mc_delete('sec_tap:file2')"),
	't', 'after ALTER SYSTEM and a reload, the new file (first line, CRLF) authenticates');
usleep(300_000);
ok(contains($LOG, "parameter \"pylibmc_pg.password_file\" changed to \"$PWFILE2\"") && !contains($LOG, $PW),
	"the reload logged the file's name, and the server log holds no password")
  or diag(join "\n", grep { /pylibmc_pg/ } split /\n/, slurp_file($LOG));

# what doc/security.md says of the GUC route, shown: each of these exposes it
my $CANARY = "gucroute-canary-$$";
su_sql("ALTER SYSTEM SET pylibmc_pg.password = '$CANARY'");
reload_until('pylibmc_pg.password', $CANARY);
ok(contains($LOG, "parameter \"pylibmc_pg.password\" changed to \"$CANARY\""),
	'GUC route: a reload logs "parameter ... changed to" with the password (doc/security.md says so)');
ok(contains($conf->data_dir . '/postgresql.auto.conf', $CANARY),
	'GUC route: ALTER SYSTEM writes it to postgresql.auto.conf');
like(app_sql("SELECT mc_get('sec_tap:x')"), qr/pylibmc_pg.password and pylibmc_pg.password_file are both set/,
	'password and password_file together are refused');
su_sql('ALTER SYSTEM RESET pylibmc_pg.password');
reload_until('pylibmc_pg.password', '');

su_sql("CREATE FUNCTION public.f_pw() RETURNS int LANGUAGE sql SET pylibmc_pg.password = '$CANARY-proc' AS 'SELECT 1'");
like(app_sql("SELECT proconfig FROM pg_proc WHERE proname = 'f_pw'"), qr/\Q$CANARY\E-proc/,
	"GUC route: a function's SET clause is readable by every role in pg_proc.proconfig");
su_sql('DROP FUNCTION public.f_pw()');

sql($conf, 'postgres', [], stdin => "BEGIN;\nALTER SYSTEM SET pylibmc_pg.password = '$CANARY-failed';\n");
usleep(300_000);
ok(contains($LOG, "STATEMENT:  ALTER SYSTEM SET pylibmc_pg.password = '$CANARY-failed'"),
	'GUC route: a failed ALTER SYSTEM SET password is logged by log_min_error_statement');

# nothing is left of the password file route in the log either
my $count = () = slurp_file($LOG) =~ /^.*\Q$PW\E.*$/mg;
is($count, 0, "the second node's log never held the file's password");

su_sql('DROP EXTENSION pylibmc_pg; DROP ROLE pmc_tap_app');
is(su_sql('SELECT 1'), '1', 'the second node still answers');
