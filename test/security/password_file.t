#!/usr/bin/env bash
#
# test/security/password_file.t: what pylibmc_pg.password_file refuses
# (issue 24, points 7 and 8), on a throwaway cluster configured as README
# recommends (password_file in postgresql.conf, the library preloaded).
#
#   - A file whose first line holds a NUL byte is refused (F0000), rather
#     than the part before the NUL being sent as the password.
#   - A FIFO at the file's path is refused at once (F0000, "not a plain
#     file"), without waiting in open() for a writer: that wait could not
#     be cancelled nor terminated.  (On a failure, the test releases a
#     stuck backend by opening the FIFO for writing.)
#   - A plain file with the password authenticates, before and after.
set -euo pipefail

# shellcheck source=tools/lib/common.sh
source "${PMC_COMMON:-$(dirname "$0")/../../tools/lib/common.sh}"
# shellcheck source=test/lib/tap.sh
source "$(dirname "$0")/../lib/tap.sh"

tap_plan 8

diag() { printf '# %s\n' "$*"; }

PSQL="$PG_BINDIR/psql"
DIR=$(mktemp -d "$PMC_SCRATCH/pwfile-tap.XXXXXX")
chmod 0755 "$DIR"
chown postgres "$DIR"
DATA="$DIR/pgdata"
PORT=$(pmc_free_port)
PW=$PMC_SASL_PASSWORD
PWFILE="$DIR/memcached.pw"

# release: a backend waiting in open() on the FIFO goes on once a writer opens it
release_fifo() {
	if [[ -p "$PWFILE" ]]; then timeout 2 bash -c "exec 3>'$PWFILE'" 2>/dev/null || true; fi
}
cleanup() {
	release_fifo
	if [[ -f "$DATA/postmaster.pid" ]]; then
		(cd "$DIR" && runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$DATA" -w -t 30 stop -m fast) >/dev/null 2>&1 ||
			(cd "$DIR" && runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$DATA" -w -t 15 stop -m immediate) >/dev/null 2>&1 || true
	fi
	rm -rf "$DIR"
}
trap cleanup EXIT

# write_pwfile PRINTF-FORMAT ARGS...: the password file, private to postgres
write_pwfile() {
	rm -f "$PWFILE"
	# shellcheck disable=SC2059 # the format is the argument
	printf "$@" >"$PWFILE"
	chown postgres "$PWFILE"
	chmod 0600 "$PWFILE"
}
write_pwfile '%s\n' "$PW"

pmc_throwaway_initdb "$DIR" "$DATA" "$PORT"
cat >>"$DATA/postgresql.conf" <<EOF
shared_preload_libraries = 'pylibmc_pg'
pylibmc_pg.servers = '$PMC_SASL'
pylibmc_pg.binary_protocol = on
pylibmc_pg.username = '$PMC_SASL_USER'
pylibmc_pg.password_file = '$PWFILE'
EOF
(cd "$DIR" && runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$DATA" -l "$DIR/pg.log" -w -t 60 start) >/dev/null 2>&1 || {
	sed 's/^/#   /' "$DIR/pg.log" | tail -5
	echo "Bail out! the throwaway cluster did not start"
	exit 1
}

# sql SQL: a fresh session (the file is read when its client is built)
sql() { timeout "${SQL_TIMEOUT:-30}" "$PSQL" -X -At -v VERBOSITY=verbose -h "$DIR" -p "$PORT" -U postgres -d postgres -c "$1" 2>&1; }
sql "CREATE EXTENSION pylibmc_pg" >/dev/null
USE="SELECT mc_set('pwfile:k', 'ok') AND mc_get('pwfile:k') = 'ok'"

is "$(sql "$USE")" t "a plain file with the password authenticates"

# a NUL byte: the password before it would authenticate; refused instead
write_pwfile '%s\0tail\n' "$PW"
res=$(sql "$USE" || true)
like "$res" "ERROR:  F0000: password file \"$PWFILE\" contains a NUL byte" \
	"a first line with a NUL byte is refused (F0000), not cut at the NUL"
if grep -qF -- "$PW" <<<"$res"; then ok 1 "that error does not show the password"; else ok 0 "that error does not show the password"; fi

# a FIFO: refused at once, never a wait in open()
rm -f "$PWFILE"
mkfifo -m 0600 "$PWFILE"
chown postgres "$PWFILE"
t0=$(date +%s%N)
res=$(SQL_TIMEOUT=10 sql "SET statement_timeout = '3s'; $USE" || true)
ms=$((($(date +%s%N) - t0) / 1000000))
release_fifo
diag "a FIFO as password_file: the call ended after $ms ms"
like "$res" "ERROR:  F0000: password file \"$PWFILE\" is not a plain file" "a FIFO is refused as not a plain file"
between "$ms" 0 2000 "... at once (no wait in open() for a writer)"
sleep 0.5
is "$(sql "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() AND backend_type = 'client backend'")" 0 \
	"no backend is left waiting on it"

write_pwfile '%s\n' "$PW"
is "$(sql "$USE")" t "a plain file authenticates again"
is "$(sql "SELECT 1")" 1 "the throwaway cluster still answers"
tap_done
