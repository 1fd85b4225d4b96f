#!/usr/bin/env bash
#
# test/exchange/hostile.t: no reply crashes the backend.
#
# libmemcached 1.1.4, unpatched, crashes the backend (and with it every
# session of the cluster) on three replies, each sent here by the scripted
# peer (test/lib/mcpeer.py) in answer to a get:
#   - long-key: an ASCII VALUE line whose key is 300 bytes, copied with no
#     bound into the result's 251-byte key buffer ("free(): invalid
#     pointer" on the first call, a segfault on the second);
#   - bin-keylen-400: a binary GETK reply with a 400-byte key, read into the
#     same buffer, over the client's allocator pointers;
#   - version-bare: "VERSION" with no number, which 1.1.4 hands to strtol()
#     as a NULL pointer.
# The patched copy (patches/libmemcached 0001 to 0004) refuses each of them:
# every call is an ERROR of class 08 (08P01: the reply broke the protocol),
# never a value and never a miss, twice in the same session, in both
# protocols where the reply is one of theirs, for mc_get and mc_get_multi;
# no backend crashes, the postmaster does not restart, no "free()" or
# "corrupted" line reaches the server log, and an idle session stays
# connected.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=test/exchange/lib.sh
source test/exchange/lib.sh

tap_plan 26
fault_db pmc_exch_hostile
trap 'exchange__cleanup' EXIT

START=$(q "SELECT pg_postmaster_start_time()")
LOGOFF=$(pg_log_offset)
sess_start
IDLE_PID=$(sess "SELECT pg_backend_pid()")

# twice PEER PROTO SQL: one session runs SQL twice (the second call is the
# one that crashed 1.1.4 after the first had corrupted its heap)
twice() {
	"$PG_BINDIR/psql" -X -q -At -d "$FAULT_DB" -v VERBOSITY=verbose \
		-c "SET pylibmc_pg.servers = '$1'" -c "SET pylibmc_pg.binary_protocol = $2" \
		-c "SELECT $3" -c "SELECT $3" -c "SELECT 'alive'" 2>&1
}

# errors_only OUT: the lines that are neither an ERROR nor its detail
errors_only() {
	grep -v '^\(ERROR\|DETAIL\|HINT\|LOCATION\|CONTEXT\):' <<<"$1"
}

# check MODE PROTO LABEL SQL
check() {
	local mode=$1 proto=$2 label=$3 sql=$4 out n
	peer_start PEER "$mode" || {
		echo "Bail out! cannot start the scripted peer"
		exit 1
	}
	out=$(twice "$PEER" "$proto" "$sql")
	n=$(grep -c '^ERROR:  08P01: ' <<<"$out")
	is "$n" 2 "$label: both calls are ERROR 08P01"
	is "$(errors_only "$out")" alive "$label: ... no value and no miss, and the session goes on"
	still_up "$label"
	peer_stop
}

check long-key off "ASCII VALUE line with a 300-byte key, mc_get" "mc_get('k')"
check long-key off "ASCII VALUE line with a 300-byte key, mc_get_multi" "count(*) FROM mc_get_multi(ARRAY['k', 'j'])"
check version-bare off "ASCII VERSION without a number, mc_get" "mc_get('k')"
check version-bare off "ASCII VERSION without a number, mc_get_multi" "count(*) FROM mc_get_multi(ARRAY['k', 'j'])"
check bin-keylen-400 on "binary GETK with a 400-byte key, mc_get" "mc_get('k')"
check bin-keylen-400 on "binary GETK with a 400-byte key, mc_get_multi" "count(*) FROM mc_get_multi(ARRAY['k', 'j'])"

is "$(sess "SELECT 1")" 1 "the idle session answers at the end"
is "$(q "SELECT pg_postmaster_start_time()")" "$START" "the postmaster never restarted"
tap_done
