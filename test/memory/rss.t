#!/usr/bin/env bash
#
# test/memory/rss.t: no memory growth per call in a long-lived backend.
#
# One psql session (one backend) on a private memcached; after a warm-up of
# 10,000 mc_get and 1,000 mc_get_multi calls, the backend's VmRSS
# (/proc/<pg_backend_pid>/status, read as root) is taken as the baseline;
# then 200,000 mc_get calls (hits), 100,000 mc_get_multi calls of 100 keys
# (hits) and 100,000 mc_get misses, each phase followed by a VmRSS reading:
# each phase may grow it by less than 1 MB (a leak of 8 bytes per call would
# show as 1.6 MB).  PMC_RSS_GETS and PMC_RSS_MULTIS change the counts; the
# full run (PMC_RSS_GETS=1000000 test/memory/rss.t, about 55 s) is kept out
# of the default to hold the suite's time down: 1,000,000 gets took 38 s.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=test/fault/lib.sh
source test/fault/lib.sh

GETS=${PMC_RSS_GETS:-200000}
MULTIS=${PMC_RSS_MULTIS:-100000}
tap_plan 6
fault_db pmc_memory_rss
mc_private ADDR memory-rss -m 32 || { echo "Bail out! cannot start memcached"; exit 1; }

sess_start
PID=$(sess "SELECT pg_backend_pid()")
# jit off: a costly query would load LLVM (50 MB of mappings) into the backend
sess "SET pylibmc_pg.servers = '$ADDR'; SET jit = off" >/dev/null

# rss_kb: VmRSS of the session's backend, in kB
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$PID/status"; }
anon_kb() { awk '/^RssAnon:/ {print $2}' "/proc/$PID/status"; }

# generate_series in the target list streams its rows (in FROM it would
# materialize them, and that memory is the executor's, not ours); the CASE
# makes mc_get_multi run again for every row instead of being rescanned
GET_SQL="SELECT count(mc_get('rss:k')) FROM (SELECT generate_series(1, %d) AS i) g"
MULTI_SQL="WITH k AS (SELECT array_agg('rss:' || j) AS a FROM generate_series(1, 100) j)
SELECT count(*) FROM k, (SELECT generate_series(1, %d) AS i) g, LATERAL mc_get_multi(CASE WHEN i > 0 THEN k.a END) m"
MISS_SQL="SELECT count(mc_get('rss:missing')) FROM (SELECT generate_series(1, %d) AS i) g"

is "$(sess "SELECT mc_set('rss:k', repeat('x', 100)) AND
	(SELECT bool_and(mc_set('rss:' || j, md5(j::text))) FROM generate_series(1, 100) j)")" t \
	"values stored"
# warm-up: caches, the client, first allocations
sess "$(printf "$GET_SQL" 10000)" >/dev/null
sess "$(printf "$MULTI_SQL" 1000)" >/dev/null
sess "$(printf "$MISS_SQL" 10000)" >/dev/null
base=$(rss_kb) base_anon=$(anon_kb)
diag "baseline VmRSS ${base} kB (RssAnon ${base_anon} kB), backend $PID"

t0=$(now_ms)
is "$(sess "$(printf "$GET_SQL" "$GETS")" 600)" "$GETS" "$GETS mc_get calls return the value"
t1=$(now_ms)
after_get=$(rss_kb)
between $((after_get - base)) -100000 1023 \
	"VmRSS after $GETS gets: ${after_get} kB, growth $((after_get - base)) kB < 1 MB ($((t1 - t0)) ms, RssAnon $(anon_kb) kB)"

t0=$(now_ms)
is "$(sess "$(printf "$MULTI_SQL" "$MULTIS")" 600)" "$((MULTIS * 100))" "$MULTIS get_multi calls of 100 keys return every row"
t1=$(now_ms)
after_multi=$(rss_kb)
between $((after_multi - after_get)) -100000 1023 \
	"VmRSS after $MULTIS get_multis: ${after_multi} kB, growth $((after_multi - after_get)) kB < 1 MB ($((t1 - t0)) ms, RssAnon $(anon_kb) kB)"

sess "$(printf "$MISS_SQL" "$MULTIS")" 600 >/dev/null
after_miss=$(rss_kb)
between $((after_miss - after_multi)) -100000 1023 \
	"VmRSS after $MULTIS misses: ${after_miss} kB, growth $((after_miss - after_multi)) kB < 1 MB"
sess_stop
tap_done
