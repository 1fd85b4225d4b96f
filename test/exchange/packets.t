#!/usr/bin/env bash
#
# test/exchange/packets.t: issue 15, point 2.  What a single-key read puts
# on the wire, counted with strace on the backend (its send syscalls that
# carry a memcached request; the backend's replies to psql carry none):
#   - binary protocol: mc_get of a key sends one packet per call (one GETK,
#     not GETKQ then NOOP), for a hit and for a miss, and the values and
#     misses are right;
#   - ASCII protocol: mc_get sends "get" (CAS parsing is off: no "gets"),
#     mc_gets sends "gets" and returns a token, and the mc_get after it
#     sends "get" again; mc_behaviors() still shows cas = 1;
#   - binary mc_gets still returns a token (its GETKQ path);
#   - a GETK answered with another key's value (a scripted peer: a
#     connection out of step) is an ERROR 08P01, never that value.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=test/exchange/lib.sh
source test/exchange/lib.sh

tap_plan 14
command -v strace >/dev/null || { echo "Bail out! strace is missing (Debian package strace)"; exit 1; }

fault_db pmc_exch_packets
trap 'packets_cleanup' EXIT
STRACE_PID=""
packets_cleanup() {
	if [[ -n "$STRACE_PID" ]]; then
		kill "$STRACE_PID" 2>/dev/null || true
		wait "$STRACE_PID" 2>/dev/null || true
	fi
	rm -f "${TRACE:-}" "${TRACE:-}.err"
	exchange__cleanup
}
mc_private ADDR exch-packets -m 16 || { echo "Bail out! cannot start memcached"; exit 1; }
TRACE=$(mktemp /tmp/pmc-packets.XXXXXX)

sess_start
BPID=$(sess "SET pylibmc_pg.servers = '$ADDR'; SELECT pg_backend_pid()")
[[ "$BPID" =~ ^[0-9]+$ ]] || { echo "Bail out! no backend pid: $BPID"; exit 1; }

# traced SQL: run SQL in the session under strace; sets OUT (its output)
# and leaves the trace in $TRACE
traced() {
	: >"$TRACE"
	strace -qq -e trace=sendto,sendmsg,write,writev -s 8 -o "$TRACE" -p "$BPID" 2>"$TRACE.err" &
	STRACE_PID=$!
	# attached once the backend's next syscall can be seen: poke it
	local i
	for ((i = 0; i < 50; i++)); do
		[[ -r /proc/$BPID/status ]] && grep -q "^TracerPid:[[:space:]]*[1-9]" "/proc/$BPID/status" && break
		sleep 0.1
	done
	OUT=$(sess "$1")
	kill "$STRACE_PID" 2>/dev/null
	wait "$STRACE_PID" 2>/dev/null
	STRACE_PID=""
}
# sends PATTERN: how many traced send syscalls' data starts with PATTERN
# (as strace prints it: \200 is the binary protocol's request magic)
sends() {
	grep -cE "^(sendto|sendmsg|write|writev)\(.*\"$1" "$TRACE"
}

# ---- binary ----
sess "SET pylibmc_pg.binary_protocol = on; SELECT mc_set('pk.hit', 'value'); SELECT mc_delete('pk.miss')" >/dev/null
traced "SELECT string_agg(coalesce(mc_get('pk.hit'), 'NULL'), ',') FROM generate_series(1, 10)"
is "$OUT" "value,value,value,value,value,value,value,value,value,value" "binary: 10 gets of a key read its value"
is "$(sends '\\200')" 10 "binary: 10 gets of a present key send 10 packets (one GETK each)"
traced "SELECT count(*) FROM generate_series(1, 10) WHERE mc_get('pk.miss') IS NULL"
is "$OUT" 10 "binary: 10 gets of a missing key are 10 misses"
is "$(sends '\\200')" 10 "binary: 10 gets of a missing key send 10 packets"
OUT=$(sess "SELECT (mc_gets('pk.hit')).cas IS NOT NULL, (mc_gets('pk.hit')).value")
is "$OUT" "t|value" "binary: mc_gets returns the value and a token"
OUT=$(sess "SELECT octet_length(value), flags FROM mc_get_raw('pk.hit')")
is "$OUT" "5|16" "binary: mc_get_raw reads the stored bytes and flags"

# ---- ASCII ----
sess "SET pylibmc_pg.binary_protocol = off" >/dev/null
traced "SELECT count(mc_get('pk.hit')) FROM generate_series(1, 5)"
is "$OUT" 5 "ascii: 5 gets read the value"
is "$(sends 'get ')|$(sends 'gets ')" "5|0" "ascii: mc_get sends get, not gets (no CAS token parsed)"
traced "SELECT (mc_gets('pk.hit')).cas > 0"
is "$OUT" "t" "ascii: mc_gets returns a token"
is "$(sends 'gets ')" 1 "ascii: mc_gets sends gets"
traced "SELECT mc_get('pk.hit')"
is "$(sends 'get ')|$(sends 'gets ')" "1|0" "ascii: the mc_get after an mc_gets sends get again"
is "$(sess "SELECT mc_behaviors()->>'cas'")" 1 "mc_behaviors() shows cas = 1"

# ---- a reply for another key ----
peer_start PEER bin-other-key || { echo "Bail out! cannot start the scripted peer"; exit 1; }
OUT=$(qv "SET pylibmc_pg.servers = '$PEER'" "SET pylibmc_pg.binary_protocol = on" "SELECT mc_get('wanted')")
like "$OUT" "08P01" "binary: a GETK answered for another key is an ERROR 08P01"
unlike "$OUT" "EVIL" "binary: ... and never returns that key's value"
