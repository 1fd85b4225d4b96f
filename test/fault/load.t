#!/usr/bin/env bash
#
# test/fault/load.t: pgbench under faults.
#
# pgbench -n -c 2 -T 30 runs gets, get_multis and sets of random keys whose
# value is md5(key), so any wrong value is detected (1 / (random() * 0)::int,
# which the planner cannot fold, raises division_by_zero), with
# pylibmc_pg.on_error = warning, against a private
# memcached that is SIGKILLed at 8 s and restarted at 11 s, then SIGSTOPped
# for 2 s at 18 s.  Asserts: pgbench exits 0, no wrong value, no backend
# crash (no "terminated by signal" in the postgres log), the server was used
# again after its restart, failures were reported as WARNINGs.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=test/fault/lib.sh
source test/fault/lib.sh

DURATION=${PMC_LOAD_SECONDS:-30}
tap_plan 7
fault_db pmc_fault_load
mc_private ADDR fault-load -m 32 || { echo "Bail out! cannot start memcached"; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"; fault__cleanup' EXIT
cat >"$work/script.sql" <<'SQL'
\set a random(1, 2000)
\set b random(1, 2000)
SELECT CASE WHEN v IS NOT NULL AND v <> md5('ld:' || :a) THEN 1 / (random() * 0)::int END FROM (SELECT mc_get('ld:' || :a) AS v) s;
SELECT CASE WHEN count(*) FILTER (WHERE value <> md5(key)) > 0 THEN 1 / (random() * 0)::int END FROM mc_get_multi(ARRAY['ld:' || :a, 'ld:' || :b, 'ld:' || (:a + 1)]);
SELECT mc_set('ld:' || :b, md5('ld:' || :b));
SQL

pglog="$PMC_SCRATCH/pg.log"
log_start=$(stat -c %s "$pglog" 2>/dev/null || echo 0)

PGOPTIONS="-c pylibmc_pg.servers=$ADDR -c pylibmc_pg.on_error=warning" \
	"$PG_BINDIR/pgbench" -n -c 2 -j 2 -T "$DURATION" -f "$work/script.sql" "$FAULT_DB" \
	>"$work/pgbench.out" 2>"$work/pgbench.err" &
bench=$!

sleep 8
kill -KILL "$(pmc_mc_pid fault-load)"
sleep 3
pmc_mc_restart fault-load >/dev/null || diag "restart failed"
sleep 7
kill -STOP "$(pmc_mc_pid fault-load)"
sleep 2
kill -CONT "$(pmc_mc_pid fault-load)"
wait "$bench"
rc=$?

is "$rc" 0 "pgbench exits 0"
txns=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$work/pgbench.out")
between "${txns:-0}" 1000 1000000000 "pgbench processed ${txns:-0} transactions"
is "$(grep -c 'division by zero' "$work/pgbench.err")" 0 "no wrong value was ever read (no division_by_zero)"
is "$(tail -c +"$((log_start + 1))" "$pglog" | grep -c 'terminated by signal')" 0 "no backend crashed (postgres log)"
warnings=$(grep -c '^WARNING:  could not .* on memcached server' "$work/pgbench.err")
between "$warnings" 1 100000000 "the outage was reported as WARNINGs ($warnings)"
sets=$(q "SET pylibmc_pg.servers = '$ADDR'" "SELECT value FROM mc_stats() WHERE name = 'cmd_set'")
between "${sets:-0}" 100 1000000000 "the restarted server was written to again ($sets sets since its restart)"
is "$(q "SET pylibmc_pg.servers = '$ADDR'" "SELECT count(*) FROM generate_series(1, 2000) i WHERE mc_get('ld:' || i) <> md5('ld:' || i)")" 0 \
	"every key left in the server holds md5(key)"
if ((rc != 0)); then
	tail -n 20 "$work/pgbench.err" | sed 's/^/# /'
fi
tap_done
