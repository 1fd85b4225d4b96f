#!/usr/bin/env bash
#
# test/exchange/peer.t: issue 12, point 5.  Nothing a server sends can
# abort the backend or be returned as a value it did not store.
#
# A scripted peer (test/lib/mcpeer.py, on 127.0.0.1, started and killed
# here) stands in for a wrong service or a broken proxy:
#   - every request answered with VALUE k 0 5\r\nab\r\nEND\r\n (a length
#     that lies): mc_get('k') is ERROR 08P01, never a value (on_error =
#     'warning': NULL and a WARNING, never the value); mc_get_multi is an
#     ERROR; mc_set('k', 'x') is ERROR 08P01 and does not abort the
#     backend: no crash in the server log, the postmaster did not restart
#     (pg_postmaster_start_time() unchanged) and a second, idle session is
#     still connected and answers;
#   - ERROR, and SERVER_ERROR out of memory, to a get: an ERROR (08P01 for
#     ERROR, a server failure of class 08 for SERVER_ERROR; unpatched
#     libmemcached 1.1.4 made them a miss, patches/libmemcached/0004), never
#     a value, no crash; ERROR to a set: an ERROR of class 08;
#   - binary replies to a get whose key length, extras length or body
#     length lies: an ERROR of class 08, never a value, no crash;
#   - two VALUE lines for one key (issue 24.8): mc_get_multi gives one row
#     per key asked, never two; the second value is ERROR 08P01 (on_error
#     = 'warning': the first value's row and a WARNING 08P01).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=test/exchange/lib.sh
source test/exchange/lib.sh

tap_plan 48
fault_db pmc_exch_peer
trap 'exchange__cleanup' EXIT

START=$(q "SELECT pg_postmaster_start_time()")
LOGOFF=$(pg_log_offset)
sess_start
IDLE_PID=$(sess "SELECT pg_backend_pid()")

# call PEER PROTO ON_ERROR SQL: one fresh session, SQLSTATEs shown
call() {
	"$PG_BINDIR/psql" -X -q -At -d "$FAULT_DB" -v VERBOSITY=verbose \
		-c "SET pylibmc_pg.servers = '$1'" -c "SET pylibmc_pg.binary_protocol = $2" \
		-c "SET pylibmc_pg.on_error = '$3'" -c "SELECT $4" 2>&1
}

# result_rows OUT: what psql printed that is not a message
result_rows() {
	grep -v '^\(ERROR\|WARNING\|DETAIL\|HINT\|LOCATION\|CONTEXT\):' <<<"$1"
}

# ---- a length that lies ----
peer_start PEER lying-value || { echo "Bail out! cannot start the scripted peer"; exit 1; }
out=$(call "$PEER" off error "mc_get('k')")
like "$out" "^ERROR:  08P01: " "lying length: mc_get('k') is ERROR 08P01"
is "$(result_rows "$out")" "" "lying length: ... and no value is returned"
still_up "lying length, get"
out=$(call "$PEER" off warning "coalesce(mc_get('k'), 'MISS')")
is "$(result_rows "$out")" MISS "lying length, on_error=warning: mc_get('k') is NULL, not the bogus value"
like "$out" "WARNING:  08P01: " "lying length, on_error=warning: ... with a WARNING 08P01"
out=$(call "$PEER" off error "count(*) FROM mc_get_multi(ARRAY['k', 'j'])")
like "$out" "^ERROR:  08[0-9A-Z]{3}: " "lying length: mc_get_multi is an ERROR of class 08"
still_up "lying length, get_multi"
out=$(call "$PEER" off error "mc_set('k', 'x')")
like "$out" "^ERROR:  08P01: " "lying length: mc_set('k', 'x') is ERROR 08P01"
unlike "$out" "server closed the connection|terminated abnormally" "lying length: ... and the backend survives it"
still_up "lying length, set"
out=$(call "$PEER" off ignore "mc_set('k', 'x')")
is "$(result_rows "$out")" f "lying length, on_error=ignore: mc_set('k', 'x') is false"
still_up "lying length, set under ignore"
peer_stop

# ---- ERROR and SERVER_ERROR to a get ----
peer_start PEER error || { echo "Bail out! cannot start the scripted peer"; exit 1; }
out=$(call "$PEER" off error "coalesce(mc_get('k'), 'MISS')")
like "$out" "^ERROR:  08P01: " "ERROR reply: mc_get('k') is ERROR 08P01, not a miss"
is "$(result_rows "$out")" "" "ERROR reply: ... no value and no miss"
unlike "$out" "server closed the connection|terminated abnormally|ab" "ERROR reply: ... never a value, and the backend survives"
out=$(call "$PEER" off error "mc_set('k', 'x')")
like "$out" "^ERROR:  08[0-9A-Z]{3}: " "ERROR reply: mc_set('k', 'x') is an ERROR of class 08"
still_up "ERROR reply"
peer_stop
peer_start PEER server-error || { echo "Bail out! cannot start the scripted peer"; exit 1; }
out=$(call "$PEER" off error "coalesce(mc_get('k'), 'MISS')")
like "$out" "^ERROR:  08[0-9A-Z]{3}: " "SERVER_ERROR out of memory reply: mc_get('k') is an ERROR of class 08, not a miss"
is "$(result_rows "$out")" "" "SERVER_ERROR reply: ... no value and no miss"
unlike "$out" "server closed the connection|terminated abnormally" "SERVER_ERROR reply: ... and the backend survives"
out=$(call "$PEER" off error "count(*) FROM mc_get_multi(ARRAY['k', 'j'])")
like "$out" "^ERROR:  08[0-9A-Z]{3}: " "SERVER_ERROR reply: mc_get_multi is an ERROR of class 08"
is "$(result_rows "$out")" "" "SERVER_ERROR reply: ... and returns no row"
still_up "SERVER_ERROR reply"
peer_stop

# ---- binary replies whose lengths lie ----
for mode in bin-keylen-lie bin-extlen-lie bin-body-lie; do
	peer_start PEER "$mode" || { echo "Bail out! cannot start the scripted peer"; exit 1; }
	out=$(call "$PEER" on error "coalesce(mc_get('k'), 'MISS')")
	like "$out" "^ERROR:  08[0-9A-Z]{3}: " "$mode: binary mc_get('k') is an ERROR of class 08"
	is "$(result_rows "$out")" "" "$mode: ... never a value or a miss"
	still_up "$mode"
	peer_stop
done

# ---- two values for one key ----
peer_start PEER dup-value || { echo "Bail out! cannot start the scripted peer"; exit 1; }
out=$(call "$PEER" off error "key || '=' || value FROM mc_get_multi(ARRAY['k', 'j'])")
like "$out" "^ERROR:  08P01: " "two values for one key: mc_get_multi is ERROR 08P01"
is "$(result_rows "$out")" "" "two values for one key: ... and returns no row"
out=$(call "$PEER" off warning "key || '=' || value FROM mc_get_multi(ARRAY['k', 'j'])")
is "$(result_rows "$out")" "k=a" "two values for one key, on_error=warning: one row for the key, the first value"
like "$out" "WARNING:  08P01: " "two values for one key, on_error=warning: ... with a WARNING 08P01"
still_up "two values for one key"
peer_stop

is "$(sess "SELECT 1")" 1 "the idle session answers at the end"
tap_done
