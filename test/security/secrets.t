#!/usr/bin/env bash
#
# test/security/secrets.t: SASL credentials stay secret (issue 13, points 1
# and 2; README "Security").
#
# Part 1, on the shared cluster: a role granted SET ON PARAMETER
# pylibmc_pg.servers points the servers at a listener of this test's own
# and calls mc_get while a superuser's SASL credentials are set.  The
# listener plays the attacker's memcached (a scripted peer: it offers PLAIN
# and records what it is sent, which no real memcached lets us see): it must
# receive nothing, and the call must fail with 42501.  A superuser's own
# server list still authenticates against the SASL memcached.
#
# Part 2, on a throwaway cluster (the shared one must not be reloaded with
# these settings) with shared_preload_libraries = 'pylibmc_pg':
# pylibmc_pg.password_file authenticates, a group/world-readable file is
# refused, and changing password_file by ALTER SYSTEM + reload logs no
# secret, while the GUC route puts the password in the log, in
# pg_proc.proconfig and (through log_min_error_statement) in a failed
# statement's log line, as README says.
set -euo pipefail

# shellcheck source=tools/lib/common.sh
source "${PMC_COMMON:-$(dirname "$0")/../../tools/lib/common.sh}"
# shellcheck source=test/lib/tap.sh
source "$(dirname "$0")/../lib/tap.sh"

tap_plan 23

PSQL="$PG_BINDIR/psql"
DIR=$(mktemp -d "$PMC_SCRATCH/secrets-tap.XXXXXX")
chmod 0755 "$DIR"
DATA="$DIR/pgdata"
LISTENER_PID=

cleanup() {
	[[ -z "$LISTENER_PID" ]] || kill "$LISTENER_PID" 2>/dev/null || true
	if [[ -f "$DATA/postmaster.pid" ]]; then
		(cd "$DIR" && runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$DATA" -w -t 30 stop -m fast) >/dev/null 2>&1 || true
	fi
	rm -rf "$DIR"
}
trap cleanup EXIT

# contains FILE STRING: 0 when FILE holds STRING (bytes, fixed string)
contains() { grep -qaF -- "$2" "$1"; }

# ---------- part 1: no credentials to a server list a role chose ----------

LPORT=$(pmc_free_port)
CAPTURE="$DIR/listener.bytes"
cat >"$DIR/listener.py" <<'EOF'
# A hostile "memcached": binary protocol, offers SASL PLAIN, accepts any
# login, answers every other request "not found", and appends every byte it
# receives to the capture file.
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
EOF
python3 "$DIR/listener.py" "$LPORT" "$CAPTURE" "$DIR/listener.ready" >"$DIR/listener.log" 2>&1 &
LISTENER_PID=$!
for _ in $(seq 100); do [[ -f "$DIR/listener.ready" ]] && break; sleep 0.05; done
[[ -f "$DIR/listener.ready" ]] || { echo "Bail out! the listener did not start"; exit 1; }

DB="pmc_secrets_tap_$$"
ROLE="pmc_secrets_granted"
"$PSQL" -X -q -d postgres -c "CREATE DATABASE $DB" >/dev/null
"$PSQL" -X -q -d "$DB" >/dev/null 2>&1 <<EOF
CREATE EXTENSION pylibmc_pg;
DROP ROLE IF EXISTS $ROLE;
CREATE ROLE $ROLE LOGIN;
GRANT SET ON PARAMETER pylibmc_pg.servers TO $ROLE;
EOF

# the superuser's SASL settings, then the granted role takes over
SU_SASL="LOAD 'pylibmc_pg';
SET pylibmc_pg.binary_protocol = on;
SET pylibmc_pg.username = '$PMC_SASL_USER';
SET pylibmc_pg.password = '$PMC_SASL_PASSWORD';"

out=$("$PSQL" -X -q -At -d "$DB" 2>&1 <<EOF || true
\set VERBOSITY verbose
$SU_SASL
SET ROLE $ROLE;
SET pylibmc_pg.servers = '127.0.0.1:$LPORT';
SELECT mc_get('sec_tap:k');
SELECT mc_set('sec_tap:k', 'v');
-- still the role's list after RESET ROLE: the superuser's call refuses too
RESET ROLE;
SELECT mc_get('sec_tap:k');
EOF
)
is "$(grep -c '^ERROR:  42501: SASL credentials are not sent to servers chosen by a role that cannot read them' <<<"$out")" 3 \
	"the granted role's mc_get and mc_set, and the superuser's call after it, fail with 42501"
[[ $(grep -c '^ERROR:  42501' <<<"$out") == 3 ]] || sed 's/^/#   /' <<<"$out"
sleep 0.2
bytes=$(stat -c %s "$CAPTURE")
is "$bytes" 0 "the role's listener received nothing (no connection, no SASL exchange)"
if contains "$CAPTURE" "$PMC_SASL_PASSWORD"; then
	ok 1 "the role's listener did not receive the password"
	od -c "$CAPTURE" | head -5 | sed 's/^/#   /'
else
	ok 0 "the role's listener did not receive the password"
fi

# the same through a function's SET clause owned by the granted role
out=$("$PSQL" -X -q -At -d "$DB" 2>&1 <<EOF || true
\set VERBOSITY verbose
$SU_SASL
SET ROLE $ROLE;
CREATE FUNCTION pg_temp.steal() RETURNS text LANGUAGE sql
	SET pylibmc_pg.servers = '127.0.0.1:$LPORT' AS \$\$SELECT mc_get('sec_tap:k')\$\$;
SELECT pg_temp.steal();
EOF
)
like "$out" "ERROR:  42501: SASL credentials are not sent" "a function SET clause of the granted role is refused the same way"
is "$(stat -c %s "$CAPTURE")" 0 "the listener still received nothing"

# set before the library is loaded, in a superuser's session under SET ROLE:
# the role set the placeholder, so the value is the role's choice
out=$("$PSQL" -X -q -At -d "$DB" 2>&1 <<EOF || true
\set VERBOSITY verbose
SET pylibmc_pg.binary_protocol = on;
SET pylibmc_pg.username = '$PMC_SASL_USER';
SET pylibmc_pg.password = '$PMC_SASL_PASSWORD';
SET ROLE $ROLE;
SET pylibmc_pg.servers = '127.0.0.1:$LPORT';
RESET ROLE;
SELECT mc_get('sec_tap:k');
EOF
)
like "$out" "ERROR:  42501: SASL credentials are not sent" "a placeholder the role set before the library loaded is the role's choice too"

# stored by ALTER ROLE while a role that is not a superuser may set servers:
# its author is unknown, so it is not trusted (credentials stored by a
# superuser, no grant on password)
"$PSQL" -X -q -d "$DB" >/dev/null 2>&1 <<EOF
LOAD 'pylibmc_pg';
ALTER ROLE $ROLE IN DATABASE $DB SET pylibmc_pg.servers = '127.0.0.1:$LPORT';
ALTER ROLE $ROLE IN DATABASE $DB SET pylibmc_pg.binary_protocol = on;
ALTER ROLE $ROLE IN DATABASE $DB SET pylibmc_pg.username = '$PMC_SASL_USER';
ALTER ROLE $ROLE IN DATABASE $DB SET pylibmc_pg.password = '$PMC_SASL_PASSWORD';
EOF
out=$("$PSQL" -X -q -At -U "$ROLE" -d "$DB" -c "SELECT mc_get('sec_tap:k')" 2>&1 || true)
like "$out" "ERROR:  SASL credentials are not sent" "a server list stored by ALTER ROLE while the grant exists is refused for the role's session"
"$PSQL" -X -q -d "$DB" -c "ALTER ROLE $ROLE IN DATABASE $DB RESET ALL" >/dev/null
is "$(stat -c %s "$CAPTURE")" 0 "the listener still received nothing"

# the role's own credentials are its own to send where it likes
"$PSQL" -X -q -d "$DB" >/dev/null 2>&1 <<EOF
LOAD 'pylibmc_pg';
GRANT SET ON PARAMETER pylibmc_pg.username TO $ROLE;
GRANT SET ON PARAMETER pylibmc_pg.password TO $ROLE;
EOF
out=$("$PSQL" -X -q -At -d "$DB" 2>&1 <<EOF || true
$SU_SASL
SET ROLE $ROLE;
SET pylibmc_pg.servers = '127.0.0.1:$LPORT';
SET pylibmc_pg.username = 'roleuser';
SET pylibmc_pg.password = 'role-own-pw-$$';
SELECT coalesce(mc_get('sec_tap:k'), 'miss');
EOF
)
is "$out" "miss" "with a username and password of its own, the granted role uses its own server"
if contains "$CAPTURE" "role-own-pw-$$" && ! contains "$CAPTURE" "$PMC_SASL_PASSWORD"; then
	ok 0 "the listener got the role's own password, never the configured one"
else
	ok 1 "the listener got the role's own password, never the configured one"
fi

# a superuser's server list still authenticates against the SASL memcached
out=$("$PSQL" -X -q -At -d "$DB" 2>&1 <<EOF || true
$SU_SASL
SET pylibmc_pg.servers = '$PMC_SASL';
SELECT mc_set('sec_tap:su', 'ok') AND mc_get('sec_tap:su') = 'ok' AND mc_delete('sec_tap:su');
SET ROLE $ROLE;
SELECT mc_get('sec_tap:none') IS NULL;
EOF
)
is "$out" $'t\nt' "a superuser's servers authenticate, for the superuser and for a role that uses them"

"$PSQL" -X -q -d "$DB" -c "DROP OWNED BY $ROLE; DROP ROLE $ROLE" >/dev/null 2>&1 || true
"$PSQL" -X -q -d postgres -c "DROP DATABASE $DB" >/dev/null
kill "$LISTENER_PID" 2>/dev/null || true
wait "$LISTENER_PID" 2>/dev/null || true
LISTENER_PID=

# ---------- part 2: the password file, on a throwaway cluster ----------

PORT=$(pmc_free_port)
PW=$PMC_SASL_PASSWORD
PWFILE="$DIR/memcached.pw"
printf '%s\n' "$PW" >"$PWFILE"
chown postgres "$PWFILE"
chmod 0600 "$PWFILE"
chown postgres "$DIR"

pmc_throwaway_initdb "$DIR" "$DATA" "$PORT"
cat >>"$DATA/postgresql.conf" <<EOF
log_min_error_statement = error
shared_preload_libraries = 'pylibmc_pg'
pylibmc_pg.servers = '$PMC_SASL'
pylibmc_pg.binary_protocol = on
pylibmc_pg.username = '$PMC_SASL_USER'
pylibmc_pg.password_file = '$PWFILE'
EOF
LOG="$DIR/pg.log"
(cd "$DIR" && runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start) >/dev/null 2>&1 || {
	sed 's/^/#   /' "$LOG" | tail -5
	echo "Bail out! the throwaway cluster did not start"
	exit 1
}

su_sql() { "$PSQL" -X -At -h "$DIR" -p "$PORT" -U postgres -d postgres -c "$1" 2>&1; }
app_sql() { "$PSQL" -X -At -h "$DIR" -p "$PORT" -U pmc_tap_app -d postgres -c "$1" 2>&1; }
# reload and wait until this backend sees the given value of a setting
reload_until() {
	su_sql "SELECT pg_reload_conf()" >/dev/null
	for _ in $(seq 50); do
		[[ "$(su_sql "SHOW $1")" == "$2" ]] && return 0
		sleep 0.1
	done
	return 1
}

su_sql "CREATE ROLE pmc_tap_app LOGIN; CREATE EXTENSION pylibmc_pg" >/dev/null

is "$(app_sql "SELECT mc_set('sec_tap:file', 'ok') AND mc_get('sec_tap:file') = 'ok' AND mc_delete('sec_tap:file')")" t \
	"SASL authentication with the password from pylibmc_pg.password_file"

chmod 0644 "$PWFILE"
res=$(app_sql "SELECT mc_get('sec_tap:file')" || true)
like "$res" "ERROR:  password file \"$PWFILE\" has group or world access" "a 0644 password file is refused with a clear error"
if grep -qF -- "$PW" <<<"$res"; then ok 1 "that error does not show the password"; else ok 0 "that error does not show the password"; fi
chmod 0600 "$PWFILE"

# a new password file through ALTER SYSTEM and a reload: the log names the
# file, never the secret
PWFILE2="$DIR/memcached2.pw"
printf '%s\r\nsecond line ignored\n' "$PW" >"$PWFILE2"
chown postgres "$PWFILE2"
chmod 0400 "$PWFILE2"
su_sql "ALTER SYSTEM SET pylibmc_pg.password_file = '$PWFILE2'" >/dev/null
reload_until pylibmc_pg.password_file "$PWFILE2" || true
is "$(app_sql "SELECT mc_set('sec_tap:file2', 'ok') AND mc_get('sec_tap:file2') = 'ok' AND mc_delete('sec_tap:file2')")" t \
	"after ALTER SYSTEM and a reload, the new file (first line, CRLF) authenticates"
sleep 0.3
if grep -qF "parameter \"pylibmc_pg.password_file\" changed to \"$PWFILE2\"" "$LOG" && ! grep -qF -- "$PW" "$LOG"; then
	ok 0 "the reload logged the file's name, and the server log holds no password"
else
	ok 1 "the reload logged the file's name, and the server log holds no password"
	grep -n 'pylibmc_pg' "$LOG" | tail -5 | sed 's/^/#   /'
fi

# what README says of the GUC route, shown: each of these exposes it
CANARY="gucroute-canary-$$"
su_sql "ALTER SYSTEM SET pylibmc_pg.password = '$CANARY'" >/dev/null
reload_until pylibmc_pg.password "$CANARY" || true
if grep -qF "parameter \"pylibmc_pg.password\" changed to \"$CANARY\"" "$LOG"; then
	ok 0 "GUC route: a reload logs \"parameter ... changed to\" with the password (README says so)"
else
	ok 1 "GUC route: a reload logs \"parameter ... changed to\" with the password (README says so)"
fi
if runuser -u postgres -- grep -qF -- "$CANARY" "$DATA/postgresql.auto.conf"; then
	ok 0 "GUC route: ALTER SYSTEM writes it to postgresql.auto.conf"
else
	ok 1 "GUC route: ALTER SYSTEM writes it to postgresql.auto.conf"
fi
res=$(app_sql "SELECT mc_get('sec_tap:x')" || true)
like "$res" 'pylibmc_pg.password and pylibmc_pg.password_file are both set' "password and password_file together are refused"
su_sql "ALTER SYSTEM RESET pylibmc_pg.password" >/dev/null
reload_until pylibmc_pg.password "" || true

su_sql "CREATE FUNCTION public.f_pw() RETURNS int LANGUAGE sql SET pylibmc_pg.password = '$CANARY-proc' AS 'SELECT 1'" >/dev/null
like "$(app_sql "SELECT proconfig FROM pg_proc WHERE proname = 'f_pw'")" "$CANARY-proc" \
	"GUC route: a function's SET clause is readable by every role in pg_proc.proconfig"
su_sql "DROP FUNCTION public.f_pw()" >/dev/null

"$PSQL" -X -q -h "$DIR" -p "$PORT" -U postgres -d postgres >/dev/null 2>&1 <<EOF || true
BEGIN;
ALTER SYSTEM SET pylibmc_pg.password = '$CANARY-failed';
EOF
sleep 0.3
if grep -qF "STATEMENT:  ALTER SYSTEM SET pylibmc_pg.password = '$CANARY-failed'" "$LOG"; then
	ok 0 "GUC route: a failed ALTER SYSTEM SET password is logged by log_min_error_statement"
else
	ok 1 "GUC route: a failed ALTER SYSTEM SET password is logged by log_min_error_statement"
fi

# nothing is left of the password file route in the log either
is "$(grep -cF -- "$PW" "$LOG" || true)" 0 "the throwaway cluster's log never held the file's password"

su_sql "DROP EXTENSION pylibmc_pg; DROP ROLE pmc_tap_app" >/dev/null
is "$(su_sql "SELECT 1")" 1 "the throwaway cluster still answers"
tap_done
