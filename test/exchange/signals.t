#!/usr/bin/env bash
#
# test/exchange/signals.t: issue 12, point 1.  No call waits past the
# configured timeouts, whatever signals arrive meanwhile.
#
# A private memcached is SIGSTOPped (it accepts, never answers).  One
# session calls it while other sessions send statement_timeout, cancels
# (pg_cancel_backend), SIGHUPs (pg_reload_conf signals every backend) and
# SIGUSR1s (NOTIFY to the listening session) at different moments of the
# call.  Each call must return within its configured timeouts
# (connect_timeout + _poll_timeout) + statement_timeout + 1.5 s; a cancel
# that arrives during the call takes effect when it returns (the statement
# ends in ERROR 57014, or in the call's own connection ERROR; under
# on_error = 'ignore' it must be 57014, not a NULL).  After SIGCONT the
# same session reads the right values (no reply left on a socket).
#
# libmemcached 1.1.4 subtracts the elapsed time again at each EINTR, so
# the second signal makes the poll timeout negative: an infinite poll().
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=test/exchange/lib.sh
source test/exchange/lib.sh

tap_plan 49
fault_db pmc_exch_signals
trap 'kill -CONT "${MCPID:-0}" 2>/dev/null; exchange__cleanup' EXIT
mc_private ADDR exch-signals -m 16 || { echo "Bail out! cannot start memcached"; exit 1; }
MCPID=$(pmc_mc_pid exch-signals)

sess_start_verbose
TARGET_PID=$(sess "SELECT pg_backend_pid()")
sess "LISTEN exch" >/dev/null

# settings SQL: reset the session to the private server plus SQL
settings() {
	sess "RESET ALL; SET pylibmc_pg.servers = '$ADDR'; $1" >/dev/null
}

# served: the session reads sg:k3 again (sess_reads, lib.sh)
served() { sess_reads sg:k3 v3; }

# scenario LABEL MIN_MS MAX_MS SQL EVENTS_SQL WANT_ERE: stop the server,
# send SQL with the signaller running EVENTS_SQL, check the time (MIN_MS
# > 0: a timeout must not come early either) and the outcome, wake the
# server, check the session reads right values
scenario() {
	local label=$1 min=$2 limit=$3 sql=$4 ev=$5 want=$6 t0 rc
	served >/dev/null
	sess "SELECT mc_set('sg:k1', 'v1') AND mc_set('sg:k2', 'v2') AND mc_set('sg:k3', 'v3')" >/dev/null
	mc_stop "$MCPID"
	sess_send "$sql"
	t0=$(now_ms)
	signaller "$ev"
	OUT=$(sess_wait 12)
	rc=$?
	MS=$(($(now_ms) - t0))
	if ((rc != 0)); then
		diag "$label: still waiting after 12 s; SIGCONT"
		kill -CONT "$MCPID"
		OUT+=$'\n'$(sess_wait 60)
		MS=$(($(now_ms) - t0))
		diag "$label: ended ${MS} ms after it started, once the server woke"
	fi
	signaller_wait
	between "$MS" 0 "$limit" "$label: returns within ${limit} ms (${MS} ms)"
	if ((min > 0)); then
		between "$MS" "$min" 999999 "$label: ... and its timeout is not cut short by the signals (>= ${min} ms)"
	fi
	like "$OUT" "$want" "$label: ends as it should"
	kill -CONT "$MCPID"
	sleep 0.3 # the server answers the stale requests now
	served >/dev/null
	is "$(sess "SELECT mc_get('sg:k2')")" v2 "$label: then the session reads k2 right"
	is "$(sess "SELECT string_agg(key || '=' || value, ',' ORDER BY key) FROM mc_get_multi(ARRAY['sg:k1', 'sg:k2', 'sg:k3'])")" \
		"sg:k1=v1,sg:k2=v2,sg:k3=v3" "$label: and a get_multi reads all three right"
}

CANCELLED='ERROR:  (57014|08[0-9A-Z]{3}): '
ONLY_CANCEL='ERROR:  57014: '
TIMEOUT_ERR='ERROR:  08[0-9A-Z]{3}: could not'

# ---- defaults (connect_timeout 1 s, _poll_timeout 1 s) ----
# the issue's repro: statement_timeout 400ms, one cancel at 0.7 s
settings "SET statement_timeout = '400ms'"
scenario "repro (statement_timeout 400ms, cancel at 0.7 s)" 0 $((1000 + 1000 + 400 + 1500)) \
	"SELECT mc_get('sg:x')" "$(events "0.7:cancel")" "$CANCELLED"
# two signals whose elapsed times add up past the timeout: poll(-N)
settings ""
scenario "two SIGHUPs (0.3 s, 0.8 s), no cancel" 900 $((1000 + 1000 + 1500)) \
	"SELECT mc_get('sg:x')" "$(events "0.3:reload 0.8:reload")" "$TIMEOUT_ERR"
settings ""
scenario "a SIGHUP at 0.3 s, a cancel at 0.8 s" 0 $((1000 + 1000 + 1500)) \
	"SELECT mc_get('sg:x')" "$(events "0.3:reload 0.8:cancel")" "$CANCELLED"

# ---- short timeouts, many signals at different moments ----
T='connect_timeout=500, _poll_timeout=500'
settings "SET pylibmc_pg.behaviors = '$T'; SET statement_timeout = '400ms'"
scenario "statement_timeout + reloads + notifies + cancel" 0 $((500 + 500 + 400 + 1500)) \
	"SELECT mc_get('sg:x')" "$(events "0.05:reload 0.15:notify 0.3:reload 0.45:reload 0.6:cancel 0.7:notify 0.9:reload 1.2:reload 1.6:reload")" \
	"$CANCELLED"
settings "SET pylibmc_pg.behaviors = '$T'"
scenario "SIGHUP every 40 ms for 3 s, no cancel" 450 $((500 + 500 + 1500)) \
	"SELECT mc_get('sg:x')" "$(storm 3 40)" "$TIMEOUT_ERR"
settings "SET pylibmc_pg.behaviors = '$T'"
scenario "two SIGUSR1s (NOTIFY), then a cancel" 0 $((500 + 500 + 1500)) \
	"SELECT mc_get('sg:x')" "$(events "0.1:notify 0.3:notify 0.42:cancel")" "$CANCELLED"
settings "SET pylibmc_pg.behaviors = '$T'; SET pylibmc_pg.on_error = 'ignore'"
scenario "on_error=ignore: a cancel during the call cancels (57014, not NULL)" 0 $((500 + 500 + 1500)) \
	"SELECT mc_get('sg:x') IS NULL AS got_null" "$(events "0.1:reload 0.3:cancel")" "$ONLY_CANCEL"
settings "SET pylibmc_pg.behaviors = '$T'; SET statement_timeout = '300ms'"
scenario "get_multi, statement_timeout + reloads" 0 $((500 + 500 + 300 + 1500)) \
	"SELECT count(*) FROM mc_get_multi(ARRAY['sg:k1', 'sg:k2', 'sg:x'])" \
	"$(events "0.05:reload 0.35:reload 0.45:reload")" "$CANCELLED"
settings "SET pylibmc_pg.behaviors = '$T'"
scenario "set of 600 kB, two SIGHUPs then a cancel" 0 $((500 + 500 + 1500)) \
	"SELECT mc_set('sg:big', repeat('x', 600000))" "$(events "0.1:reload 0.3:reload 0.42:cancel")" "$CANCELLED"
settings "SET pylibmc_pg.behaviors = '$T'; SET pylibmc_pg.binary_protocol = on; SET statement_timeout = '400ms'"
scenario "binary get, statement_timeout + reloads + cancel" 0 $((500 + 500 + 400 + 1500)) \
	"SELECT mc_get('sg:x')" "$(events "0.05:reload 0.2:notify 0.35:cancel")" "$CANCELLED"
settings "SET pylibmc_pg.behaviors = '$T'; SET pylibmc_pg.binary_protocol = on"
scenario "binary incr, two SIGHUPs (0.1 s, 0.35 s)" 450 $((500 + 500 + 1500)) \
	"SELECT mc_incr('sg:n')" "$(events "0.1:reload 0.35:reload")" "$TIMEOUT_ERR"

is "$(sess "SELECT pg_backend_pid()")" "$TARGET_PID" "all of it in one backend"
is "$(sess "SELECT 1")" 1 "the session still answers"

sess_stop
tap_done
