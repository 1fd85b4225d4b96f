#!/usr/bin/env bash
#
# test/exchange/parallel.t: issue 12, point 8.  No call talks to memcached
# from a parallel worker with settings other than the leader's.
#
# A wrapper labelled PARALLEL SAFE (SQL and PL/pgSQL) around mc_get runs in
# a parallel worker when the query is forced parallel (force_parallel_mode
# on 15, debug_parallel_query on 16+, no setup cost).  The leader has a
# namespace set and has not loaded the library: the worker then cannot
# take over the leader's settings and, today, talks to the built-in
# default 127.0.0.1:11211 with no namespace.  The answer must be the value
# under the leader's namespace, or an ERROR: never a decoy stored under the
# un-namespaced key (on the leader's server, and on a private memcached
# started on 127.0.0.1:11211 when that port is free), and never an ERROR
# about the built-in default server.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=test/exchange/lib.sh
source test/exchange/lib.sh

tap_plan 10
fault_db pmc_exch_parallel
trap 'exchange__cleanup' EXIT

DEF=""
if pmc_port_is_free 11211; then
	PMC_MC_PORT=11211 mc_private DEF exch-parallel-default -m 16 || DEF=""
fi
if [[ -n $DEF ]]; then
	diag "a private memcached stands in for the built-in default server on $DEF"
	q "SET pylibmc_pg.servers = '$DEF'" "SELECT mc_set('pk', 'DECOY-default')" >/dev/null
else
	diag "127.0.0.1:11211 is taken: only the leader's server holds a decoy"
fi
q "SET pylibmc_pg.servers = '$PMC_TCP'" "SELECT mc_set('pk', 'DECOY-no-namespace')" >/dev/null
q "SET pylibmc_pg.servers = '$PMC_TCP'" "SET pylibmc_pg.namespace = 'ns8:'" "SELECT mc_set('pk', 'right')" >/dev/null
q "CREATE FUNCTION w_sql(k text) RETURNS text PARALLEL SAFE LANGUAGE sql AS \$\$SELECT mc_get(k)\$\$" \
	"CREATE FUNCTION w_plpgsql(k text) RETURNS text PARALLEL SAFE LANGUAGE plpgsql AS \$\$BEGIN RETURN mc_get(k); END\$\$" \
	"CREATE TABLE pt AS SELECT 'pk'::text AS k" "ANALYZE pt" >/dev/null

# forced SQL [LOAD_FIRST]: in a fresh session with the leader's namespace
# set and the query forced parallel: the plan, then the result
forced() {
	local -a pre=()
	[[ ${2:-} == load ]] && pre=(-c "SELECT mc_get('warm-up') IS NULL AS loaded")
	"$PG_BINDIR/psql" -X -q -At -d "$FAULT_DB" -v VERBOSITY=verbose \
		-c "SET pylibmc_pg.servers = '$PMC_TCP'" -c "SET pylibmc_pg.namespace = 'ns8:'" \
		-c "SELECT set_config(CASE WHEN current_setting('server_version_num')::int >= 160000 THEN 'debug_parallel_query' ELSE 'force_parallel_mode' END, 'on', false) IS NULL" \
		-c "SET parallel_setup_cost = 0" -c "SET parallel_tuple_cost = 0" \
		-c "SET min_parallel_table_scan_size = 0" -c "SET max_parallel_workers_per_gather = 2" \
		"${pre[@]}" -c "EXPLAIN (COSTS OFF) $1" -c "$1" 2>&1
}

for case in "w_sql|" "w_plpgsql|" "w_plpgsql|load"; do
	fn=${case%|*} load=${case#*|}
	label="$fn${load:+, library loaded in the leader first}"
	out=$(forced "SELECT 'result=' || coalesce($fn(k), 'NULL') FROM pt" "$load")
	like "$out" "Gather" "$label: the query is planned with a Gather (the wrapper runs in a worker)"
	result=$(sed -n 's/^result=//p' <<<"$out")
	if [[ $result == right ]] || { [[ -z $result ]] && [[ $out == *ERROR:* ]]; }; then
		ok 0 "$label: the leader's value ('right') or an ERROR"
	else
		ok 1 "$label: the leader's value ('right') or an ERROR"
		diag "got result '${result}'; output: ${out//$'\n'/ | }"
	fi
	unlike "$out" "127\.0\.0\.1:11211" "$label: nothing about the built-in default server 127.0.0.1:11211"
done
is "$(q "SET pylibmc_pg.servers = '$PMC_TCP'" "SET pylibmc_pg.namespace = 'ns8:'" "SELECT mc_get('pk')")" right \
	"outside a parallel query the leader reads 'right'"

tap_done
