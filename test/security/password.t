#!/usr/bin/env bash
#
# test/security/password.t: the SASL password stays secret where a
# regression test cannot look: in the server log, and in fresh sessions
# of a cluster that has it in postgresql.conf.
#
# Part 1 uses the shared cluster: a wrong password makes libmemcached fail
# authentication (ERROR 28000, logged with its STATEMENT); the log must not
# contain the password afterwards.
#
# Part 2 starts its own throwaway cluster (the shared one must not be
# restarted) with the password in postgresql.conf and
# shared_preload_libraries = 'pylibmc_pg', the configuration README
# "Security" recommends: an ordinary role's fresh session, before any
# mc_* call, cannot read the password in any way, and cannot set it.
set -euo pipefail

# shellcheck source=tools/lib/common.sh
source "${PMC_COMMON:-$(dirname "$0")/../../tools/lib/common.sh}"
# shellcheck source=test/lib/tap.sh
source "$(dirname "$0")/../lib/tap.sh"

# lacks FILE STRING DESCRIPTION: ok when FILE does not contain STRING
lacks() {
	if grep -qF -- "$2" "$1"; then
		ok 1 "$3"
		grep -nF -- "$2" "$1" | head -5 | sed 's/^/#   /'
	else
		ok 0 "$3"
	fi
}

echo "1..11"

PSQL="$PG_BINDIR/psql"
# a password that appears nowhere else
PW="pmc-log-pw-$$-$RANDOM"

# ---------- part 1: the server log of the shared cluster ----------

LOG="$PMC_SCRATCH/pg.log"
DB="pmc_sec_tap_$$"
log_start=0
[[ ! -f "$LOG" ]] || log_start=$(stat -c %s "$LOG")
"$PSQL" -X -q -d postgres -c "CREATE DATABASE $DB" >/dev/null
"$PSQL" -X -q -d "$DB" -c "CREATE EXTENSION pylibmc_pg" >/dev/null
out=$("$PSQL" -X -At -d "$DB" 2>&1 <<EOF || true
\set VERBOSITY verbose
SET pylibmc_pg.servers = '$PMC_SASL';
SET pylibmc_pg.binary_protocol = on;
SET pylibmc_pg.username = '$PMC_SASL_USER';
SET pylibmc_pg.password = '$PW';
SELECT mc_get('sec_tap:k');
SET pylibmc_pg.password = '$PW-2';
SELECT mc_set('sec_tap:k', 'v');
SET pylibmc_pg.on_error = warning;
SET pylibmc_pg.password = '$PW-3';
SELECT mc_incr('sec_tap:n');
EOF
)
"$PSQL" -X -q -d postgres -c "DROP DATABASE $DB" >/dev/null
n=$(grep -c '^ERROR:  28000: ' <<<"$out" || true)
is "$n" 3 "three authentication failures (28000) reported to the client"
[[ $n == 3 ]] || sed 's/^/#   /' <<<"$out"
if grep -qF -- "$PW" <<<"$out"; then ok 1 "the client saw no password"; else ok 0 "the client saw no password"; fi
if [[ -f "$LOG" ]]; then
	is "$(tail -c +$((log_start + 1)) "$LOG" | grep -c "STATEMENT:  SELECT mc_[a-z]*('sec_tap:" || true)" 3 \
		"the three failures are in the server log ($LOG), with their statements"
	lacks "$LOG" "$PW" "the server log does not contain the password"
else
	ok 0 "# SKIP no server log at $LOG"
	ok 0 "# SKIP no server log at $LOG"
fi

# ---------- part 2: a cluster with the password in postgresql.conf ----------

DIR=$(mktemp -d "$PMC_SCRATCH/sec-tap.XXXXXX")
chown postgres "$DIR"
DATA="$DIR/pgdata"
PORT=$(pmc_free_port)
CONF_PW=$PMC_SASL_PASSWORD

cleanup() {
	if [[ -f "$DATA/postmaster.pid" ]]; then
		(cd "$DIR" && runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$DATA" -w -t 30 stop -m fast) >/dev/null 2>&1 || true
	fi
	rm -rf "$DIR"
}
trap cleanup EXIT

pmc_throwaway_initdb "$DIR" "$DATA" "$PORT"
cat >>"$DATA/postgresql.conf" <<EOF
shared_preload_libraries = 'pylibmc_pg'
pylibmc_pg.servers = '$PMC_SASL'
pylibmc_pg.binary_protocol = on
pylibmc_pg.username = '$PMC_SASL_USER'
pylibmc_pg.password = '$CONF_PW'
EOF
(cd "$DIR" && runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$DATA" -l "$DIR/pg.log" -w -t 60 start) >/dev/null 2>&1 || {
	sed 's/^/#   /' "$DIR/pg.log" | tail -5
	echo "Bail out! the throwaway cluster did not start"
	exit 1
}

su_sql() { "$PSQL" -X -At -h "$DIR" -p "$PORT" -U postgres -d postgres -c "$1" 2>&1; }
app_sql() { "$PSQL" -X -At -h "$DIR" -p "$PORT" -U pmc_tap_app -d postgres -c "$1" 2>&1; }

su_sql "CREATE ROLE pmc_tap_app LOGIN; CREATE EXTENSION pylibmc_pg" >/dev/null
is "$(su_sql "SHOW pylibmc_pg.password")" "$CONF_PW" "a superuser reads the password from postgresql.conf"

# each app_sql is a fresh session that has called no mc_* function
leaks=0
for q in "SHOW pylibmc_pg.password" \
	"SELECT current_setting('pylibmc_pg.password')" \
	"SELECT current_setting('pylibmc_pg.password', true)" \
	"SELECT string_agg(name || '=' || setting, ',') FROM pg_settings" \
	"SHOW ALL" \
	"SELECT string_agg(name || '=' || setting, ',') FROM pg_file_settings" \
	"SELECT pg_read_file('postgresql.conf')"; do
	res=$(app_sql "$q" || true)
	if grep -qF -- "$CONF_PW" <<<"$res"; then
		leaks=$((leaks + 1))
		printf '#   %s -> the password\n' "$q"
	fi
done
is "$leaks" 0 "an ordinary role's fresh session cannot read the password (SHOW, current_setting, pg_settings, SHOW ALL, pg_file_settings, pg_read_file)"

res=$(app_sql "SHOW pylibmc_pg.password" || true)
# 15 words it "have privileges of", 13 "a member of", 16+ "permission denied to examine"
is "$(grep -cE 'must be superuser or (have privileges of|a member of) pg_read_all_settings|permission denied to examine "pylibmc_pg.password"' <<<"$res")" 1 \
	"SHOW pylibmc_pg.password is a permission error, not an empty value"

res=$(app_sql "SET pylibmc_pg.password = 'x'" || true)
is "$(grep -c 'permission denied to set parameter "pylibmc_pg.password"' <<<"$res")" 1 \
	"with the library preloaded, SET is refused at once (no placeholder)"

# the configured credentials work for the ordinary role, which never sees them
is "$(app_sql "SELECT mc_set('sec_tap:conf', 'ok') AND mc_get('sec_tap:conf') = 'ok' AND mc_delete('sec_tap:conf')")" t \
	"the ordinary role uses the SASL server with the configured credentials"

# nor is the password in this cluster's log after that session and the failures above
res=$(app_sql "SELECT mc_get(repeat('x', 300))" || true)
lacks "$DIR/pg.log" "$CONF_PW" "the throwaway cluster's log does not contain the password"

su_sql "DROP EXTENSION pylibmc_pg; DROP ROLE pmc_tap_app" >/dev/null
is "$(su_sql "SELECT 1")" 1 "the throwaway cluster still answers"
