#!/usr/bin/env bash
#
# test/fault/on_error.t: pylibmc_pg.on_error against an unreachable server.
#
#   error (default)  every operation raises an 08xxx ERROR naming host:port
#   warning          reads give NULL / no rows, writes false, set_multi all
#                    its keys, each with a WARNING naming the server; the
#                    transaction goes on
#   ignore           the same results, no WARNING
# and bad input (a key with a space, an empty or too long key, a negative
# ttl, a cas token 0, a negative delta) is an ERROR in every mode, before
# any server is asked.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=test/fault/lib.sh
source test/fault/lib.sh

# operation and the value it gives with warning/ignore (psql -At form)
OPS=(
	"mc_get('oe:k') IS NULL|t"
	"mc_get('oe:k', NULL::integer) IS NULL|t"
	"mc_set('oe:k', 'v')|f"
	"mc_add('oe:k', 42)|f"
	"mc_replace('oe:k', true)|f"
	"mc_append('oe:k', 'x')|f"
	"mc_cas('oe:k', 'v', 12345)|f"
	"mc_delete('oe:k')|f"
	"mc_touch('oe:k', 10)|f"
	"mc_incr('oe:n') IS NULL|t"
	"mc_decr('oe:n', 1, 5) IS NULL|t"
	"(SELECT count(*) FROM mc_get_multi(ARRAY['oe:a', 'oe:b']))|0"
	"(SELECT row(value, cas)::text FROM mc_gets('oe:k'))|(,)"
	"mc_set_multi('{\"oe:a\": 1, \"oe:b\": \"x\"}'::jsonb)::text|{oe:a,oe:b}"
	"mc_delete_multi(ARRAY['oe:a', 'oe:b'])|f"
	"(SELECT row(value, flags)::text FROM mc_get_raw('oe:k'))|(,)"
	"mc_set_raw('oe:k', '\\x00'::bytea, 0)|f"
)
BAD=(
	"mc_get('oe:a b')|22023"
	"mc_set('oe:a b', 'v')|22023"
	"mc_get('')|22023"
	"mc_get(repeat('x', 251))|22001"
	"mc_set('oe:k', 'v', -1)|22023"
	"mc_cas('oe:k', 'v', 0)|22023"
	"mc_incr('oe:n', -1)|22023"
	"(SELECT count(*) FROM mc_get_multi(ARRAY['oe:a', 'oe:b c']))|22023"
)

tap_plan $((2 * ${#OPS[@]} + 2 * ${#OPS[@]} + ${#OPS[@]} + 3 * ${#BAD[@]} + 5))
fault_db pmc_fault_on_error

# run MODE EXPR: SELECT EXPR against the down server in that mode; verbose
# errors (SQLSTATE shown).
run() {
	"$PG_BINDIR/psql" -X -q -At -d "$FAULT_DB" -v VERBOSITY=verbose \
		-c "SET pylibmc_pg.servers = '$PMC_DOWN'" -c "SET pylibmc_pg.on_error = '$1'" \
		-c "SELECT $2" 2>&1
}

for mode in error warning ignore; do
	for op in "${OPS[@]}"; do
		expr=${op%|*} want=${op##*|}
		out=$(run "$mode" "$expr")
		result=$(grep -Ev '^(WARNING|ERROR|DETAIL|HINT|LOCATION):' <<<"$out")
		warnings=$(grep -c '^WARNING:' <<<"$out")
		case $mode in
		error)
			like "$out" "^ERROR:  08[0-9A-Z]{3}: could not .* on memcached server $PMC_DOWN" \
				"error: $expr raises a connection ERROR naming $PMC_DOWN"
			is "$result" "" "error: ... and returns nothing"
			;;
		warning)
			is "$result" "$want" "warning: $expr gives $want"
			if ((warnings >= 1)) && grep -q "^WARNING:  08[0-9A-Z]\{3\}: could not .* on memcached server $PMC_DOWN" <<<"$out"; then
				ok 0 "warning: ... with a WARNING naming the server"
			else
				ok 1 "warning: ... with a WARNING naming the server"
				diag "$out"
			fi
			;;
		ignore)
			is "$result|$warnings" "$want|0" "ignore: $expr gives $want without a WARNING"
			;;
		esac
	done
done

for mode in error warning ignore; do
	for b in "${BAD[@]}"; do
		expr=${b%|*} code=${b##*|}
		out=$(run "$mode" "$expr")
		like "$out" "^ERROR:  $code: " "$mode: bad input $expr is ERROR $code"
	done
done

# warning keeps the transaction going; error aborts it
for mode in warning error; do
	out=$("$PG_BINDIR/psql" -X -q -At -d "$FAULT_DB" 2>&1 <<SQL
SET pylibmc_pg.servers = '$PMC_DOWN';
SET pylibmc_pg.on_error = '$mode';
CREATE TEMP TABLE oe_t (v text);
BEGIN;
INSERT INTO oe_t SELECT coalesce(mc_get('oe:k'), 'miss');
COMMIT;
SELECT 'rows', count(*), min(v) FROM oe_t;
SQL
)
	if [[ $mode == warning ]]; then
		like "$out" "rows\|1\|miss" "warning: a transaction reading from a down server commits, the read a miss"
	else
		like "$out" "rows\|0\|" "error: ... is rolled back"
	fi
done

# a server that accepts and never answers, in warning mode: a miss, in time
mc_private STOPPED fault-on-error-stopped -m 16 || { echo "Bail out! cannot start memcached"; exit 1; }
kill -STOP "$(pmc_mc_pid fault-on-error-stopped)"
t0=$(now_ms)
out=$("$PG_BINDIR/psql" -X -q -At -d "$FAULT_DB" \
	-c "SET pylibmc_pg.servers = '$STOPPED'" -c "SET pylibmc_pg.on_error = 'warning'" \
	-c "SELECT coalesce(mc_get('oe:k'), 'miss')" 2>&1)
t1=$(now_ms)
kill -CONT "$(pmc_mc_pid fault-on-error-stopped)"
is "$(grep -x miss <<<"$out")" miss "warning: a get from a stopped server is a miss"
like "$out" "WARNING:  could not get key \"oe:k\" on memcached server $STOPPED" "... with a WARNING naming the server"
between $((t1 - t0)) 0 1999 "... within 2 s ($((t1 - t0)) ms)"

tap_done
