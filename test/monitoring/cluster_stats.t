#!/usr/bin/env bash
#
# test/monitoring/cluster_stats.t: the whole cluster's counters, on a
# throwaway cluster with shared_preload_libraries = 'pylibmc_pg' (issue 17;
# README "Monitoring").
#
#   - Sessions in two databases and as two roles make known numbers of
#     hits and misses (the harness's memcached), errors (PMC_DOWN, a port
#     nothing listens on, on_error = ignore) and failed commit-time deletes
#     (a private memcached, SIGSTOPped); two more sessions make 500 gets
#     each at the same time.  All of them have ended when a third role, a
#     pg_monitor member, reads mc_cluster_stats: it shows exactly those
#     numbers per (database, role, server, operation), the bytes each
#     backend's own mc_client_stats() counted, sane times, and the
#     stale-entry alarm sums the failed deletes.
#   - A role without pg_monitor is refused (42501), so is a reset by the
#     pg_monitor member until it is granted EXECUTE; a reset empties the
#     view and moves stats_reset.
#   - Restarted with pylibmc_pg.cluster_stats_max = 10: 24 distinct entries
#     leave 10, the most used survives, mc_cluster_stats_info counts the
#     14 evicted.
set -euo pipefail

# shellcheck source=tools/lib/common.sh
source "${PMC_COMMON:-$(dirname "$0")/../../tools/lib/common.sh}"
# shellcheck source=test/lib/tap.sh
source "$(dirname "$0")/../lib/tap.sh"

tap_plan 29

PSQL="$PG_BINDIR/psql"
DIR=$(mktemp -d /tmp/pmc-cluster-stats.XXXXXX)
chmod 0755 "$DIR"
chown postgres "$DIR"
DATA="$DIR/pgdata"
LOG="$DIR/pg.log"
HUNG_NAME="cluster-stats-hung-$$"
HUNG_PID=

cleanup() {
	if [[ -n "$HUNG_PID" ]]; then
		kill -CONT "$HUNG_PID" 2>/dev/null || true
		pmc_mc_stop "$HUNG_NAME" || true
	fi
	if [[ -f "$DATA/postmaster.pid" ]]; then
		(cd "$DIR" && runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$DATA" -w -t 30 stop -m fast) >/dev/null 2>&1 || true
	fi
	if ((T_FAILS == 0)); then rm -rf "$DIR"; else echo "# kept $DIR (server log: $LOG)"; fi
}
trap cleanup EXIT

diag() { printf '# %s\n' "$*"; }

# ---------- the cluster ----------

PORT=$(pmc_free_port)
pmc_throwaway_initdb "$DIR" "$DATA" "$PORT"
cat >>"$DATA/postgresql.conf" <<EOF
shared_preload_libraries = 'pylibmc_pg'
pylibmc_pg.servers = '$PMC_TCP'
EOF
pg_start() {
	(cd "$DIR" && runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 "$@") >/dev/null 2>&1 || {
		sed 's/^/#   /' "$LOG" | tail -5
		echo "Bail out! the throwaway cluster did not $1"
		exit 1
	}
}
pg_start start

# sql DB USER SQL...: run the statements (psql -c each) in one session;
# stdout and stderr, SQLSTATEs shown
sql() {
	local db=$1 user=$2
	shift 2
	local -a cmds=()
	local c
	for c in "$@"; do cmds+=(-c "$c"); done
	"$PSQL" -X -q -At -v VERBOSITY=verbose -h "$DIR" -p "$PORT" -U "$user" -d "$db" "${cmds[@]}" 2>&1 || true
}
su() { sql cst_a postgres "$@"; }

for db in cst_a cst_b; do
	sql postgres postgres "CREATE DATABASE $db" >/dev/null
	sql "$db" postgres "CREATE EXTENSION pylibmc_pg" >/dev/null
done
sql postgres postgres "CREATE ROLE cst_r1 LOGIN" "CREATE ROLE cst_r2 LOGIN" \
	"CREATE ROLE cst_plain LOGIN" "CREATE ROLE cst_mon LOGIN IN ROLE pg_monitor" >/dev/null

HUNG=$(pmc_mc_start "$HUNG_NAME" -m 16) || { echo "Bail out! cannot start memcached"; exit 1; }
HUNG_PID=$(pmc_mc_pid "$HUNG_NAME")
diag "tcp $PMC_TCP, refused $PMC_DOWN, hung $HUNG (pid $HUNG_PID)"

# ---------- known traffic: two databases, two roles ----------

# cst_a as cst_r1: 3 stored sets, 4 hits and 2 misses
out=$(sql cst_a cst_r1 \
	"SELECT mc_set('cst:a' || i, 'value-' || i) FROM generate_series(1, 3) i" \
	"SELECT count(mc_get(k)) FROM unnest(ARRAY['cst:a1', 'cst:a2', 'cst:a3', 'cst:a1', 'cst:no1', 'cst:no2']) k" \
	"SELECT operation || ' ' || bytes_sent || ' ' || bytes_received FROM mc_client_stats() ORDER BY 1")
is "$(sed -n 4p <<<"$out")" 4 "cst_a/cst_r1: 4 of 6 gets hit"
OWN_A1=$(tail -n 2 <<<"$out")
# cst_b as cst_r2: 2 hits, 3 misses
out=$(sql cst_b cst_r2 \
	"SELECT count(mc_get(k)) FROM unnest(ARRAY['cst:a2', 'cst:a3', 'cst:no1', 'cst:no2', 'cst:no3']) k" \
	"SELECT operation || ' ' || bytes_sent || ' ' || bytes_received FROM mc_client_stats() ORDER BY 1")
is "$(head -n 1 <<<"$out")" 2 "cst_b/cst_r2: 2 of 5 gets hit"
OWN_B2=$(tail -n 1 <<<"$out")
# cst_b as cst_r1 (SET ROLE after the superuser's settings): 4 gets and
# 1 set to a refused server, on_error = ignore
out=$(sql cst_b postgres "SET pylibmc_pg.servers = '$PMC_DOWN'" "SET pylibmc_pg.on_error = ignore" \
	"SET ROLE cst_r1" \
	"SELECT count(mc_get('cst:e' || i)) FROM generate_series(1, 4) i" "SELECT mc_set('cst:e', 'x')")
is "$out" $'0\nf' "cst_b/cst_r1: gets and a set to a refused server fail quietly"

# failed commit-time deletes: 5 keys (cst_a, cst_r2), then 3 (cst_b, cst_r1)
kill -STOP "$HUNG_PID"
dels() { # DB ROLE N
	sql "$1" postgres "SET pylibmc_pg.servers = '$HUNG'" \
		"SET pylibmc_pg.behaviors = 'connect_timeout=300, _poll_timeout=300'" "SET ROLE $2" \
		"BEGIN" "SELECT count(mc_delete_on_commit('cst:d' || i)) FROM generate_series(1, $3) i" "COMMIT"
}
out=$(dels cst_a cst_r2 5)
like "$out" "WARNING:  08[0-9A-Z]{3}: could not delete 5 of 5 keys queued by mc_delete_on_commit" \
	"cst_a/cst_r2: 5 commit-time deletes to a hung server fail (WARNING)"
out=$(dels cst_b cst_r1 3)
like "$out" "could not delete 3 of 3 keys" "cst_b/cst_r1: 3 more fail"
kill -CONT "$HUNG_PID"

# two sessions at once (cst_a, cst_r2): 500 hits each
sql cst_a cst_r2 "SELECT count(mc_get('cst:a1')) FROM generate_series(1, 500)" >"$DIR/par1" &
p1=$!
sql cst_a cst_r2 "SELECT count(mc_get('cst:a1')) FROM generate_series(1, 500)" >"$DIR/par2" &
p2=$!
wait "$p1" "$p2"
is "$(cat "$DIR/par1" "$DIR/par2" | tr '\n' ' ')" "500 500 " "two concurrent sessions hit 500 times each"

# every writing backend has exited before the counters are read
gone=0
for _ in $(seq 100); do
	n=$(su "SELECT count(*) FROM pg_stat_activity WHERE usename IN ('cst_r1', 'cst_r2') OR (usename = 'postgres' AND pid <> pg_backend_pid() AND backend_type = 'client backend')")
	if [[ $n == 0 ]]; then gone=1; break; fi
	sleep 0.1
done
ok $((1 - gone)) "the sessions that made the traffic have ended"

# ---------- a third session reads them ----------

NAMES="CASE server WHEN '$PMC_TCP' THEN 'tcp' WHEN '$PMC_DOWN' THEN 'refused' WHEN '$HUNG' THEN 'hung' ELSE server END"
ROWS="SELECT concat_ws(' ', datname, rolname, $NAMES, operation, calls, hits, misses, errors)
FROM mc_cluster_stats ORDER BY datname, rolname, operation, server"
got=$(sql cst_b cst_mon "$ROWS")
want="cst_a cst_r1 tcp get 6 4 2 0
cst_a cst_r1 tcp set 3 3 0 0
cst_a cst_r2 hung delete_on_commit 5 0 0 5
cst_a cst_r2 tcp get 1000 1000 0 0
cst_b cst_r1 hung delete_on_commit 3 0 0 3
cst_b cst_r1 refused get 4 0 0 4
cst_b cst_r1 refused set 1 0 0 1
cst_b cst_r2 tcp get 5 2 3 0"
is "$got" "$want" "a pg_monitor member reads exactly those calls, hits, misses and errors per database, role, server and operation"
[[ "$got" == "$want" ]] || sed 's/^/#   /' <<<"$got"

own() { # DB ROLE OP: operation bytes_sent bytes_received, as mc_client_stats shows them
	sql cst_a cst_mon "SELECT concat_ws(' ', operation, bytes_sent, bytes_received) FROM mc_cluster_stats
		WHERE datname = '$1' AND rolname = '$2' AND operation = '$3'"
}
is "$(own cst_a cst_r1 get; own cst_a cst_r1 set)" "$OWN_A1" "... the bytes sent and received that the backend's own mc_client_stats() counted (cst_a/cst_r1)"
is "$(own cst_b cst_r2 get)" "$OWN_B2" "... (cst_b/cst_r2)"
is "$(sql cst_a cst_mon "SELECT bool_and(total_time_ms >= 0 AND min_time_ms >= 0 AND min_time_ms <= max_time_ms
		AND mean_time_ms BETWEEN min_time_ms - 1e-9 AND max_time_ms + 1e-9
		AND abs(mean_time_ms - total_time_ms / calls) < 1e-9 AND dbid IS NOT NULL AND userid IS NOT NULL)
	FROM mc_cluster_stats")" t "times: min <= mean <= max, mean = total / calls"
is "$(sql cst_a cst_mon "SELECT round(sum(total_time_ms)) > 0 FROM mc_cluster_stats WHERE server = '$PMC_DOWN' OR operation = 'get'")" t \
	"... and time is counted"
is "$(sql cst_a cst_mon "SELECT sum(errors) FROM mc_cluster_stats WHERE operation = 'delete_on_commit'")" 8 \
	"the stale-entry alarm: sum(errors) for delete_on_commit is 8"
is "$(sql cst_a cst_mon "SELECT evicted FROM mc_cluster_stats_info")" 0 "nothing was evicted"

# ---------- privileges and reset ----------

like "$(sql cst_a cst_plain "SELECT count(*) FROM mc_cluster_stats")" \
	"^ERROR:  42501: permission denied for view mc_cluster_stats" "a role without pg_monitor cannot read the view (42501)"
like "$(sql cst_a cst_plain "SELECT * FROM mc_cluster_stats()")" \
	"^ERROR:  42501: permission denied for function mc_cluster_stats" "... nor call the function"
like "$(sql cst_a cst_plain "SELECT * FROM mc_cluster_stats_info")" \
	"^ERROR:  42501: permission denied for view mc_cluster_stats_info" "... nor read the info view"
like "$(sql cst_a cst_mon "SELECT mc_cluster_stats_reset()")" \
	"^ERROR:  42501: permission denied for function mc_cluster_stats_reset" "a pg_monitor member cannot reset"
is "$(sql cst_a cst_mon "SELECT count(*) FROM mc_cluster_stats")" 8 "... so the counters are still there"

before=$(su "SELECT stats_reset FROM mc_cluster_stats_info")
su "GRANT EXECUTE ON FUNCTION mc_cluster_stats_reset() TO cst_mon" >/dev/null
out=$(sql cst_a cst_mon "SELECT mc_cluster_stats_reset()" "SELECT count(*) FROM mc_cluster_stats" \
	"SELECT evicted || ' ' || (stats_reset > '$before') FROM mc_cluster_stats_info")
is "$out" $'\n0\n0 true' "granted EXECUTE, it resets: the view is empty, stats_reset moves on"
# after the reset the counting starts again from 0 (the backends' cached entries are dropped)
out=$(sql cst_b cst_r2 "SELECT mc_get('cst:a1')" "SELECT mc_get('cst:a1')")
is "$(sql cst_a cst_mon "SELECT concat_ws(' ', datname, rolname, calls, hits) FROM mc_cluster_stats")" \
	"cst_b cst_r2 2 2" "counting starts again after the reset"

# ---------- eviction: pylibmc_pg.cluster_stats_max = 10 ----------

echo "pylibmc_pg.cluster_stats_max = 10" >>"$DATA/postgresql.conf"
pg_start restart
is "$(su "SHOW pylibmc_pg.cluster_stats_max")" 10 "restarted with pylibmc_pg.cluster_stats_max = 10"
is "$(su "SELECT count(*) FROM mc_cluster_stats")" 0 "the counters do not outlive the server"
# 12 operations as postgres (get first and 50 times: the most used), then
# the same 12 as cst_r1 (the last statement's mc_gets is its get): 24 entries
OPS=("SELECT mc_set('cst:x', 1)" "SELECT mc_add('cst:y', 1)" "SELECT mc_replace('cst:x', 2)"
	"SELECT mc_append('cst:x', '0')" "SELECT mc_prepend('cst:x', '1')" "SELECT mc_incr('cst:x')"
	"SELECT mc_decr('cst:x')" "SELECT mc_touch('cst:x', 60)" "SELECT mc_delete('cst:y')"
	"SELECT count(*) FROM mc_get_multi(ARRAY['cst:x'])" "SELECT mc_cas('cst:x', 'v', (mc_gets('cst:x')).cas)")
out=$(sql cst_a postgres "SELECT count(mc_get('cst:a1')) FROM generate_series(1, 50)" "${OPS[@]}")
is "$(tr '\n' ' ' <<<"$out")" "50 t t t t t 121 120 t t 1 t " "12 operations as postgres"
out=$(sql cst_a postgres "SET ROLE cst_r1" "${OPS[@]}")
is "$(tr '\n' ' ' <<<"$out")" "t t t t t 121 120 t t 1 t " "the same 12 as cst_r1 (each once: an evicted entry is not made again)"
is "$(su "SELECT count(*) FROM mc_cluster_stats")" 10 "24 distinct entries leave 10"
is "$(su "SELECT evicted FROM mc_cluster_stats_info")" 14 "mc_cluster_stats_info counts the 14 evicted"
between "$(su "SELECT calls FROM mc_cluster_stats WHERE rolname = 'postgres' AND operation = 'get'")" 50 51 \
	"the most used entry (postgres' 50 gets, and mc_gets) was not evicted"
is "$(su "SELECT mc_cluster_stats_reset()" "SELECT evicted FROM mc_cluster_stats_info")" $'\n0' "a reset sets the eviction count back to 0"

tap_done
