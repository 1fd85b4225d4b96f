#!/usr/bin/env bash
#
# test/security/password_file_commit.t: a changed password file reaches the
# commit-time clients as it reaches the backend's own client.
#
# README ("pylibmc_pg.password_file"): the file is read when the backend
# builds its client; a running session sees a changed file when one of its
# pylibmc_pg.* settings changes.  mc_delete_on_commit keeps clients of its
# own for a configuration other than the one in force at COMMIT (here: the
# namespace SET LOCAL when the key was queued, changed before COMMIT).  Their
# settings signature left the password file out, so after the file changed
# they went on authenticating with the old password: a delete that the
# backend's own client could no longer send was still sent.  On a throwaway
# cluster (password_file is PGC_SIGHUP), in one session: the file's password
# deletes; then the file holds a wrong password and a setting changes: the
# backend's client and the commit-time client both fail to authenticate, and
# the key stays.
set -euo pipefail

# shellcheck source=tools/lib/common.sh
source "${PMC_COMMON:-$(dirname "$0")/../../tools/lib/common.sh}"
# shellcheck source=test/lib/tap.sh
source "$(dirname "$0")/../lib/tap.sh"

tap_plan 4

PSQL="$PG_BINDIR/psql"
DIR=$(mktemp -d "$PMC_SCRATCH/pwfile-commit-tap.XXXXXX")
chmod 0755 "$DIR"
DATA="$DIR/pgdata"

cleanup() {
	if [[ -f "$DATA/postmaster.pid" ]]; then
		(cd "$DIR" && runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$DATA" -w -t 30 stop -m fast) >/dev/null 2>&1 || true
	fi
	rm -rf "$DIR"
}
trap cleanup EXIT

PORT=$(pmc_free_port)
PWFILE="$DIR/memcached.pw"
printf '%s\n' "$PMC_SASL_PASSWORD" >"$PWFILE"
chown postgres "$PWFILE" "$DIR"
chmod 0600 "$PWFILE"

pmc_throwaway_initdb "$DIR" "$DATA" "$PORT"
cat >>"$DATA/postgresql.conf" <<CONF
pylibmc_pg.servers = '$PMC_SASL'
pylibmc_pg.binary_protocol = on
pylibmc_pg.username = '$PMC_SASL_USER'
pylibmc_pg.password_file = '$PWFILE'
CONF
LOG="$DIR/pg.log"
(cd "$DIR" && runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start) >/dev/null 2>&1 || {
	sed 's/^/#   /' "$LOG" | tail -5
	echo "Bail out! the throwaway cluster did not start"
	exit 1
}
sql() { "$PSQL" -X -At -h "$DIR" -p "$PORT" -U postgres -d postgres "$@" 2>&1; }
sql -c "CREATE EXTENSION pylibmc_pg" >/dev/null

# one session: the commit-time clients live as long as the backend
out=$(sql -v ON_ERROR_STOP=0 <<SQL || true
SELECT 'stored', mc_set('pfc:a', 'v') AND mc_set('pfc:b', 'v');
BEGIN;
SET LOCAL pylibmc_pg.namespace = 'pfc:';
SELECT mc_delete_on_commit('a');
SET LOCAL pylibmc_pg.namespace = '';
COMMIT;
SELECT 'a deleted', mc_get('pfc:a') IS NULL;
\! printf 'not-the-password\n' > '$PWFILE'
BEGIN;
SET LOCAL pylibmc_pg.namespace = 'pfc:';
SELECT mc_delete_on_commit('b');
SET LOCAL pylibmc_pg.namespace = '';
COMMIT;
SELECT 'main client', mc_get('pfc:b');
SQL
)
sed 's/^/#   /' <<<"$out"
like "$out" 'a deleted\|t' "the commit-time client authenticates with the password file's password"
like "$out" 'WARNING:  could not delete 1 of 1 keys queued by mc_delete_on_commit' \
	"after the file changed and a setting changed, the commit-time client sends the new password: the delete fails"
like "$out" 'ERROR:  could not get key "pfc:b"' "as the backend's own client does (README)"

printf '%s\n' "$PMC_SASL_PASSWORD" >"$PWFILE"
is "$(sql -c "SELECT mc_get('pfc:b')")" v "the key was not deleted with the old password"
sql -c "SELECT mc_delete('pfc:b')" >/dev/null || true
tap_done
