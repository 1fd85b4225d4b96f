#!/usr/bin/env bash
#
# test/exchange/deadline.t: every call is bounded as a whole, and a cancel,
# statement_timeout or terminate takes effect during a wait.
#
# libmemcached 1.1.4 bounds each poll(), not a request, and the extension
# had to block signals around every call (1.1.4's poll loop mishandles
# EINTR), so:
#   - a server that drips one byte every 0.5 s held mc_get for as long as it
#     dripped (a 40-byte value: 20 s and more), whatever _poll_timeout and
#     statement_timeout said;
#   - mc_get_multi of 100,000 keys to a server that reads nothing (a
#     SIGSTOPped memcached; here the scripted peer's "stall") waited one
#     _poll_timeout per buffer written: 31 s under statement_timeout = 1s;
#   - a cancel or terminate took effect only when the wait ended, one whole
#     _poll_timeout later (5 s here).
# With the patched copy (patches/libmemcached/0005) the guard answers
# libmemcached's wait callback: a request ends about one _poll_timeout after
# its first wait, and a pending cancel or terminate gives it up within
# PMC_WAIT_SLICE_MS (exchange.c), closing its connection.  Each check
# below, timed from the statement's start, would take many seconds on the
# unpatched library; the limits leave room for a loaded 2-core machine.
# After each cancel the same session reads the right value from a real
# memcached that was stopped across the cancel, so no half-read reply
# survives.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=test/exchange/lib.sh
source test/exchange/lib.sh

tap_plan 40
fault_db pmc_exch_deadline
trap 'kill -CONT "${MCPID:-0}" 2>/dev/null; exchange__cleanup' EXIT
mc_private ADDR exch-deadline -m 16 || { echo "Bail out! cannot start memcached"; exit 1; }
MCPID=$(pmc_mc_pid exch-deadline)

sess_start_verbose
TARGET_PID=$(sess "SELECT pg_backend_pid()")

# settings SQL: a clean session state plus SQL
settings() {
	sess "RESET ALL; $1" >/dev/null
}

# timed SQL: run SQL in the session; OUT, MS
timed() {
	local t0
	t0=$(now_ms)
	sess_send "$1"
	OUT=$(sess_wait 60)
	MS=$(($(now_ms) - t0))
}

# ---- a server that drips its reply ----
for proto in off on; do
	peer_start DRIP drip || { echo "Bail out! cannot start the scripted peer"; exit 1; }
	settings "SET pylibmc_pg.servers = '$DRIP'; SET pylibmc_pg.binary_protocol = $proto; SET pylibmc_pg.behaviors = '_poll_timeout=1000'"
	timed "SELECT mc_get('k')"
	between "$MS" 900 2500 "drip, binary=$proto, _poll_timeout 1000: mc_get ends after about one timeout (${MS} ms)"
	like "$OUT" "^ERROR:  08[0-9A-Z]{3}: " "drip, binary=$proto: ... with an ERROR of class 08"
	unlike "$OUT" "dddd" "drip, binary=$proto: ... and no value"
	settings "SET pylibmc_pg.servers = '$DRIP'; SET pylibmc_pg.binary_protocol = $proto; SET pylibmc_pg.behaviors = '_poll_timeout=5000'; SET statement_timeout = '1s'"
	timed "SELECT mc_get('k')"
	between "$MS" 900 1800 "drip, binary=$proto, statement_timeout 1s, _poll_timeout 5000: ends at the statement timeout (${MS} ms)"
	like "$OUT" "^ERROR:  57014: " "drip, binary=$proto: ... as a statement timeout (57014)"
	peer_stop
done

# ---- a multi-get of 100,000 keys to a server that reads nothing ----
for proto in off on; do
	peer_start STALL stall || { echo "Bail out! cannot start the scripted peer"; exit 1; }
	settings "SET pylibmc_pg.servers = '$STALL'; SET pylibmc_pg.binary_protocol = $proto; SET pylibmc_pg.behaviors = '_poll_timeout=1000'"
	timed "SELECT count(*) FROM mc_get_multi(array(SELECT 'multi-key-' || i FROM generate_series(1, 100000) i))"
	between "$MS" 900 3500 "stalled server, binary=$proto: mc_get_multi of 100,000 keys ends after about one timeout (${MS} ms)"
	like "$OUT" "^ERROR:  08[0-9A-Z]{3}: " "stalled server, binary=$proto: ... with an ERROR of class 08"
	settings "SET pylibmc_pg.servers = '$STALL'; SET pylibmc_pg.binary_protocol = $proto; SET pylibmc_pg.behaviors = '_poll_timeout=5000'; SET statement_timeout = '1s'"
	timed "SELECT count(*) FROM mc_get_multi(array(SELECT 'multi-key-' || i FROM generate_series(1, 100000) i))"
	between "$MS" 900 2500 "stalled server, binary=$proto, statement_timeout 1s: mc_get_multi ends at the statement timeout (${MS} ms)"
	like "$OUT" "^ERROR:  57014: " "stalled server, binary=$proto: ... as a statement timeout (57014)"
	peer_stop
done

# ---- a cancel at a random moment of a wait, then the same session reads right ----
# served: the session reads dl:k2 again (sess_reads, lib.sh)
served() { sess_reads dl:k2 v2; }

# cancel_round PROTO SQL LABEL: stop the server, start SQL, cancel it at a
# random moment between 0.1 and 0.9 s, check it ended within 600 ms of the
# cancel and as a cancel, wake the server, check the session reads k1..k3
cancel_round() {
	local proto=$1 sql=$2 label=$3 at_ms t0
	settings "SET pylibmc_pg.servers = '$ADDR'; SET pylibmc_pg.binary_protocol = $proto; SET pylibmc_pg.behaviors = 'connect_timeout=5000, _poll_timeout=5000'"
	served >/dev/null
	sess "SELECT mc_set('dl:k1', 'v1') AND mc_set('dl:k2', 'v2') AND mc_set('dl:k3', 'v3')" >/dev/null
	mc_stop "$MCPID"
	at_ms=$((100 + RANDOM % 800))
	t0=$(now_ms)
	sess_send "$sql"
	signaller "$(events "$(printf '0.%03d' "$at_ms"):cancel")"
	OUT=$(sess_wait 30)
	MS=$(($(now_ms) - t0))
	signaller_wait
	between "$MS" 0 $((at_ms + 600)) "$label: a cancel at ${at_ms} ms ends it at ${MS} ms (not at the 5 s timeout)"
	like "$OUT" "^ERROR:  57014: " "$label: ... as a cancel (57014)"
	kill -CONT "$MCPID"
	served >/dev/null
	is "$(sess "SELECT string_agg(key || '=' || value, ',' ORDER BY key) FROM mc_get_multi(ARRAY['dl:k1', 'dl:k2', 'dl:k3'])")" \
		"dl:k1=v1,dl:k2=v2,dl:k3=v3" "$label: then the same session reads k1..k3 right (nothing half-read)"
}

for proto in off on; do
	cancel_round "$proto" "SELECT mc_get('dl:x')" "binary=$proto, mc_get"
	cancel_round "$proto" "SELECT count(*) FROM mc_get_multi(ARRAY['dl:k1', 'dl:x', 'dl:k3'])" "binary=$proto, mc_get_multi"
	cancel_round "$proto" "SELECT mc_set('dl:big', repeat('x', 600000))" "binary=$proto, mc_set of 600 kB"
done
is "$(sess "SELECT pg_backend_pid()")" "$TARGET_PID" "every round in one backend"

# ---- a terminate during a wait ends the backend at once ----
settings "SET pylibmc_pg.servers = '$ADDR'; SET pylibmc_pg.behaviors = 'connect_timeout=5000, _poll_timeout=5000'"
served >/dev/null
mc_stop "$MCPID"
t0=$(now_ms)
sess_send "SELECT mc_get('dl:x')"
signaller "DO \$\$ BEGIN PERFORM pg_sleep(0.4); PERFORM pg_terminate_backend($TARGET_PID); END \$\$"
OUT=$(sess_wait 30)
MS=$(($(now_ms) - t0))
signaller_wait
kill -CONT "$MCPID"
between "$MS" 0 1200 "a terminate at 0.4 s ends the backend at ${MS} ms (not at the 5 s timeout)"
like "$OUT" "terminating connection due to administrator command|server closed the connection" "... as a terminate"
gone=$(q "SELECT count(*) FROM pg_stat_activity WHERE pid = $TARGET_PID")
is "$gone" 0 "... and the backend is gone"

tap_done
