#!/usr/bin/env bash
#
# test/security/password_file_scope.t: a server-wide password_file, as
# README recommends (issue 24, points 9 and 1), on a throwaway cluster:
# the library preloaded, pylibmc_pg.password_file and the SASL server in
# postgresql.conf, and pylibmc_pg.username (with binary_protocol) set only
# for the application's database "app".
#
# Point 9: a database that names no username uses no SASL and works (its
# own memcached, ASCII or binary), instead of "SASL authentication requires
# both pylibmc_pg.username and pylibmc_pg.password".
#
# Point 1: a stored servers value that a role which is not a superuser
# could have written never receives the credentials, whatever the grants
# are now.  mallory is granted SET on pylibmc_pg.servers, stores her own
# listener with ALTER ROLE mallory SET (and ALTER ROLE ... IN DATABASE, and
# ALTER DATABASE on a database she owns), then the grant is revoked: a new
# mallory session's mc_get is refused (42501) and the listener receives
# not one byte.  The configured servers still work for her, and for app.
# The old check trusted such a value whenever no role but superusers held
# SET on servers when the session started (pg_parameter_acl is
# cluster-wide): the same value was refused while another role, here
# cache_admin, held the grant, and sent the credentials once nobody did.
set -euo pipefail

# shellcheck source=tools/lib/common.sh
source "${PMC_COMMON:-$(dirname "$0")/../../tools/lib/common.sh}"
# shellcheck source=test/lib/tap.sh
source "$(dirname "$0")/../lib/tap.sh"

tap_plan 17

PSQL="$PG_BINDIR/psql"
DIR=$(mktemp -d "$PMC_SCRATCH/pwscope-tap.XXXXXX")
chmod 0755 "$DIR"
chown postgres "$DIR"
DATA="$DIR/pgdata"
PORT=$(pmc_free_port)
LPORT=$(pmc_free_port)
PWFILE="$DIR/memcached.pw"
LOG="$DIR/listener.bytes"
LPID=""

cleanup() {
	[[ -z "$LPID" ]] || kill "$LPID" 2>/dev/null || true
	if [[ -f "$DATA/postmaster.pid" ]]; then
		(cd "$DIR" && runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$DATA" -w -t 30 stop -m fast) >/dev/null 2>&1 ||
			(cd "$DIR" && runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$DATA" -w -t 15 stop -m immediate) >/dev/null 2>&1 || true
	fi
	rm -rf "$DIR"
}
trap cleanup EXIT

printf '%s\n' "$PMC_SASL_PASSWORD" >"$PWFILE"
chown postgres "$PWFILE"
chmod 0600 "$PWFILE"

# mallory's server: records every byte it receives, answers nothing
: >"$LOG"
"$PMC_PYTHON" -c '
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
' "$LPORT" "$LOG" &
LPID=$!
LISTENER="127.0.0.1:$LPORT"

pmc_throwaway_initdb "$DIR" "$DATA" "$PORT"
cat >>"$DATA/postgresql.conf" <<EOF
shared_preload_libraries = 'pylibmc_pg'
pylibmc_pg.servers = '$PMC_SASL'
pylibmc_pg.password_file = '$PWFILE'
EOF
(cd "$DIR" && runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$DATA" -l "$DIR/pg.log" -w -t 60 start) >/dev/null 2>&1 || {
	sed 's/^/#   /' "$DIR/pg.log" | tail -5
	echo "Bail out! the throwaway cluster did not start"
	exit 1
}

# sql DB ROLE SQL...: a fresh session
sql() {
	local db=$1 role=$2 s
	shift 2
	local -a args=()
	for s in "$@"; do args+=(-c "$s"); done
	timeout 30 "$PSQL" -X -At -v VERBOSITY=verbose -h "$DIR" -p "$PORT" -U "$role" -d "$db" "${args[@]}" 2>&1
}
as_su() { sql "$1" postgres "${@:2}" >/dev/null; }

as_su postgres "CREATE ROLE mallory LOGIN" "CREATE ROLE cache_admin" "CREATE DATABASE app" "CREATE DATABASE other" \
	"CREATE DATABASE mdb OWNER mallory"
for db in app other mdb; do as_su "$db" "CREATE EXTENSION pylibmc_pg"; done
# app and mdb use SASL; other has its own memcached and no username
for db in app mdb; do
	as_su postgres "ALTER DATABASE $db SET pylibmc_pg.binary_protocol = on" \
		"ALTER DATABASE $db SET pylibmc_pg.username = '$PMC_SASL_USER'"
done
as_su postgres "ALTER DATABASE other SET pylibmc_pg.servers = '$PMC_TCP'"

USE="SELECT mc_set('scope:k', 'ok') AND mc_get('scope:k') = 'ok'"

# ---- point 9 ----
is "$(sql app postgres "$USE")" t "app (username set, password file server-wide) authenticates"
is "$(sql other postgres "$USE")" t "other (no username): no SASL, its own memcached works"
is "$(sql other mallory "$USE")" t "... for an ordinary role too"
is "$(sql other postgres "SET pylibmc_pg.binary_protocol = on" "$USE")" $'SET\nt' \
	"... and over the binary protocol"
like "$(sql other postgres "SET pylibmc_pg.password = 'x'" "$USE" || true)" \
	"55000: pylibmc_pg.password and pylibmc_pg.password_file are both set" \
	"a password set besides the file is still refused"
like "$(sql other postgres "SET pylibmc_pg.servers = '$PMC_SASL'" "SET pylibmc_pg.binary_protocol = on" "SELECT mc_get('scope:k')" || true)" \
	"28000: memcached server .* requires SASL authentication" \
	"without a username the SASL server is asked nothing secret: it wants SASL (28000)"

# ---- point 1 ----
is "$(sql app mallory "SELECT mc_get('scope:k')")" ok "mallory reads app's cache through the configured servers"

# granted, mallory stores her listener for herself, everywhere she can
as_su postgres "GRANT SET ON PARAMETER pylibmc_pg.servers TO mallory"
sql app mallory "ALTER ROLE mallory SET pylibmc_pg.servers = '$LISTENER'" >/dev/null
like "$(sql app mallory "SELECT mc_get('scope:k')" || true)" "42501" \
	"while granted, her new session's call is refused (42501)"
as_su postgres "REVOKE SET ON PARAMETER pylibmc_pg.servers FROM mallory"
as_su postgres "GRANT SET ON PARAMETER pylibmc_pg.servers TO cache_admin"
out=$(sql app mallory "SHOW pylibmc_pg.servers" "SELECT mc_get('scope:k')" || true)
like "$out" "^$LISTENER" "after the REVOKE her stored value is still applied"
like "$out" "ERROR:  42501: SASL credentials are not sent" \
	"... and her call is refused (42501): ALTER ROLE SET"
as_su postgres "REVOKE SET ON PARAMETER pylibmc_pg.servers FROM cache_admin"
like "$(sql app mallory "SELECT mc_get('scope:k')" || true)" "ERROR:  42501: SASL credentials are not sent" \
	"... and once cache_admin's grant is revoked too"

as_su postgres "GRANT SET ON PARAMETER pylibmc_pg.servers TO mallory"
sql app mallory "ALTER ROLE mallory RESET pylibmc_pg.servers" \
	"ALTER ROLE mallory IN DATABASE app SET pylibmc_pg.servers = '$LISTENER'" >/dev/null
as_su postgres "REVOKE SET ON PARAMETER pylibmc_pg.servers FROM mallory"
like "$(sql app mallory "SELECT mc_get('scope:k')" || true)" "ERROR:  42501: SASL credentials are not sent" \
	"refused (42501): ALTER ROLE ... IN DATABASE ... SET"

as_su postgres "GRANT SET ON PARAMETER pylibmc_pg.servers TO mallory"
sql mdb mallory "ALTER ROLE mallory IN DATABASE app RESET pylibmc_pg.servers" \
	"ALTER DATABASE mdb SET pylibmc_pg.servers = '$LISTENER'" >/dev/null
as_su postgres "REVOKE SET ON PARAMETER pylibmc_pg.servers FROM mallory"
like "$(sql mdb mallory "SELECT mc_get('scope:k')" || true)" "ERROR:  42501: SASL credentials are not sent" \
	"refused (42501): ALTER DATABASE ... SET by the database's owner"
like "$(sql mdb postgres "SELECT mc_get('scope:k')" || true)" "ERROR:  42501: SASL credentials are not sent" \
	"... for a superuser's session in that database too"

sleep 0.5
bytes=$(wc -c <"$LOG")
is "$bytes" 0 "mallory's listener received nothing (not even a connection)"
if grep -qaF -- "$PMC_SASL_PASSWORD" "$LOG"; then ok 1 "the password never reached it"; else ok 0 "the password never reached it"; fi

is "$(sql app postgres "$USE")" t "app still authenticates with the configured servers"
tap_done
