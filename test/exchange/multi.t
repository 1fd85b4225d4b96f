#!/usr/bin/env bash
#
# test/exchange/multi.t: issue 12, points 2 and 4.  Multi-key calls.
#
# Point 2: mc_delete_multi and mc_set_multi (both forms) of 150,000 keys
# under statement_timeout = '300ms' are cancelled (57014) within 2 s
# (interrupts serviced between keys).  On a SIGSTOPped server with
# on_error = 'ignore' (and 'warning'), 10 keys cost about one timeout, not
# ten: a server that failed once in a call costs no further timeouts in
# that call (bound: 2.5 x _poll_timeout, measured inside the session).
#
# Point 4: mc_get_multi over servers = 'live, down' (nothing listens on
# down) with ten keys stored, spread over both: on_error = 'error' is an
# ERROR of class 08 naming the down server (host:port); 'warning' gives the
# rows of the live server and a WARNING; 'ignore' the same rows, no
# WARNING.  In both protocols.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=test/exchange/lib.sh
source test/exchange/lib.sh

tap_plan 29
fault_db pmc_exch_multi
trap 'kill -CONT "${MCPID:-0}" 2>/dev/null; exchange__cleanup' EXIT

# exch_ms(sql): run sql, return the milliseconds it took
q "CREATE FUNCTION exch_ms(sql text) RETURNS int LANGUAGE plpgsql AS \$\$
DECLARE t timestamptz := clock_timestamp();
BEGIN EXECUTE sql; RETURN (extract(epoch FROM clock_timestamp() - t) * 1000)::int; END \$\$" >/dev/null

# ---- point 2: 150,000 keys under statement_timeout 300ms ----
KEYS="ARRAY(SELECT 'mw:' || i FROM generate_series(1, 150000) i)"
for expr in "mc_delete_multi($KEYS)" \
	"mc_set_multi((SELECT jsonb_object_agg('mw:' || i, i) FROM generate_series(1, 150000) i))" \
	"mc_set_multi($KEYS, ARRAY(SELECT 'v' || i FROM generate_series(1, 150000) i))"; do
	name=${expr%%(*}
	[[ $expr == *jsonb_object_agg* ]] && name+=" (jsonb)"
	[[ $expr == *"ARRAY(SELECT 'v'"* ]] && name+=" (arrays)"
	t0=$(now_ms)
	out=$(qv "SET pylibmc_pg.servers = '$PMC_TCP'" "SET statement_timeout = '300ms'" "SELECT $expr IS NOT NULL")
	ms=$(($(now_ms) - t0))
	between "$ms" 0 2000 "$name of 150,000 keys with statement_timeout 300ms returns within 2 s (${ms} ms)"
	like "$out" "ERROR:  57014: " "... cancelled (57014)"
done

# ---- point 2: one timeout per failed server, not per key ----
mc_private STOPPED exch-multi-stopped -m 16 || { echo "Bail out! cannot start memcached"; exit 1; }
MCPID=$(pmc_mc_pid exch-multi-stopped)
mc_stop "$MCPID"
POLL=500
TEN="ARRAY(SELECT ''mw:'' || i FROM generate_series(1, 10) i)"
for mode in ignore warning; do
	for expr in "mc_delete_multi($TEN)" "mc_set_multi($TEN, ARRAY(SELECT ''v'' || i FROM generate_series(1, 10) i))" \
		"mc_set_multi((SELECT jsonb_object_agg(''mw:'' || i, i) FROM generate_series(1, 10) i))"; do
		out=$(q "SET pylibmc_pg.servers = '$STOPPED'" "SET pylibmc_pg.behaviors = 'connect_timeout=$POLL, _poll_timeout=$POLL'" \
			"SET pylibmc_pg.on_error = '$mode'" "SET client_min_messages = error" \
			"SELECT exch_ms('SELECT $expr')")
		name=${expr%%(*}
		[[ $expr == *jsonb_object_agg* ]] && name+=" (jsonb)"
		[[ $expr == *"''v''"* ]] && name+=" (arrays)"
		between "${out:-x}" 0 $((POLL * 5 / 2)) \
			"on_error=$mode: $name of 10 keys on a stopped server costs about one timeout (${out} ms, _poll_timeout $POLL)"
	done
done
kill -CONT "$MCPID"

# ---- point 4: get_multi over a live and a down server ----
LIVE=$PMC_TCP
DOWN=$PMC_DOWN
GM="ARRAY(SELECT 'gm:' || i FROM generate_series(1, 10) i)"
stored=$(q "SET pylibmc_pg.servers = '$LIVE, $DOWN'" "SET pylibmc_pg.on_error = 'ignore'" \
	"SELECT string_agg(k, ',' ORDER BY k) FROM (SELECT 'gm:' || i AS k FROM generate_series(1, 10) i) s WHERE mc_set(k, 'v')")
n=$(tr ',' '\n' <<<"$stored" | grep -c .)
between "$n" 1 9 "ten keys over live and down: $n of them map to the live server and are stored"

for proto in off on; do
	base=(-c "SET pylibmc_pg.servers = '$LIVE, $DOWN'" -c "SET pylibmc_pg.binary_protocol = $proto")
	run() {
		"$PG_BINDIR/psql" -X -q -At -d "$FAULT_DB" -v VERBOSITY=verbose "${base[@]}" \
			-c "SET pylibmc_pg.on_error = '$1'" \
			-c "SELECT string_agg(key, ',' ORDER BY key) FROM mc_get_multi($GM)" 2>&1
	}
	out=$(run error)
	like "$out" "ERROR:  08[0-9A-Z]{3}: " "binary=$proto, on_error=error: get_multi with a server down is an ERROR of class 08"
	like "$out" "ERROR:  .*$DOWN" "binary=$proto, on_error=error: ... naming the down server $DOWN"
	unlike "$out" "^gm:" "binary=$proto, on_error=error: ... and no partial rows"
	out=$(run warning)
	rows=$(grep -v '^\(WARNING\|DETAIL\|HINT\|LOCATION\|ERROR\):' <<<"$out")
	is "$rows" "$stored" "binary=$proto, on_error=warning: the rows of the live server"
	like "$out" "WARNING:  08[0-9A-Z]{3}: " "binary=$proto, on_error=warning: ... and a WARNING of class 08"
	like "$out" "WARNING:  .*$DOWN" "binary=$proto, on_error=warning: ... naming the down server"
	out=$(run ignore)
	rows=$(grep -v '^\(WARNING\|DETAIL\|HINT\|LOCATION\|ERROR\):' <<<"$out")
	is "$rows" "$stored" "binary=$proto, on_error=ignore: the rows of the live server"
	unlike "$out" "WARNING" "binary=$proto, on_error=ignore: ... and no WARNING"
done

tap_done
