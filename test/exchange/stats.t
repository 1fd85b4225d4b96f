#!/usr/bin/env bash
#
# test/exchange/stats.t: issue 12, point 10.  mc_client_stats() counts
# every server or network failure as an error, whatever on_error does.
#
#   - an mc_get_multi that could not reach its server (PMC_DOWN) counts an
#     error, not a miss, under on_error 'ignore', 'warning' and 'error';
#     the same with one live and one down server (a partial failure);
#   - a commit-time batch (1000 keys queued by mc_delete_on_commit) to a
#     SIGSTOPped server counts no hit and at least one error for
#     delete_on_commit (the WARNING says none of the keys was deleted).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=test/exchange/lib.sh
source test/exchange/lib.sh

tap_plan 11
fault_db pmc_exch_stats
trap 'kill -CONT "${DPID:-0}" 2>/dev/null; exchange__cleanup' EXIT

STATS="SELECT 'calls=' || sum(calls) || ' hits=' || sum(hits) || ' misses=' || sum(misses) || ' errors=' || sum(errors) FROM mc_client_stats()"

# counts SERVERS MODE OP: the counters of OP after one get_multi in a
# fresh session (its failure, if any, is reported, then the counters read)
counts() {
	"$PG_BINDIR/psql" -X -q -At -d "$FAULT_DB" -c "SET pylibmc_pg.servers = '$1'" \
		-c "SET pylibmc_pg.on_error = '$2'" -c "SET client_min_messages = error" \
		-c "SELECT count(*) FROM mc_get_multi(ARRAY['st:a', 'st:b', 'st:c', 'st:d'])" \
		-c "$STATS WHERE operation = '$3'" 2>/dev/null | tail -n 1
}

for mode in ignore warning error; do
	c=$(counts "$PMC_DOWN" "$mode" get_multi)
	like "$c" "errors=[1-9]" "on_error=$mode: a get_multi from a down server counts an error ($c)"
	like "$c" "misses=0 " "on_error=$mode: ... not a miss"
done
for mode in ignore error; do
	c=$(counts "$PMC_TCP, $PMC_DOWN" "$mode" get_multi)
	like "$c" "errors=[1-9]" "on_error=$mode: a get_multi over a live and a down server counts an error ($c)"
done

# ---- a commit-time batch to a stopped server ----
mc_private D exch-stats-stopped -m 16 || { echo "Bail out! cannot start memcached"; exit 1; }
DPID=$(pmc_mc_pid exch-stats-stopped)
mc_stop "$DPID"
out=$("$PG_BINDIR/psql" -X -q -At -d "$FAULT_DB" -v VERBOSITY=verbose 2>&1 <<SQL
SET pylibmc_pg.servers = '$D';
SET pylibmc_pg.behaviors = 'connect_timeout=500, _poll_timeout=500';
BEGIN;
SELECT count(*) FROM (SELECT mc_delete_on_commit('st:inv:' || i) FROM generate_series(1, 1000) i) s;
COMMIT;
$STATS WHERE operation = 'delete_on_commit';
SQL
)
kill -CONT "$DPID"
like "$out" "WARNING:  08[0-9A-Z]{3}: could not delete 1000 of 1000 keys" "a commit-time batch of 1000 keys to a stopped server warns that none was deleted"
c=$(tail -n 1 <<<"$out")
diag "delete_on_commit counters: $c"
like "$c" "hits=0 " "... and counts no hit ($c)"
like "$c" "errors=[1-9]" "... and counts errors"

tap_done
