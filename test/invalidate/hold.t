#!/usr/bin/env bash
#
# test/invalidate/hold.t: pylibmc_pg.invalidation_hold closes the
# cache-aside race that a commit-time delete leaves open (issue 14.4).
#
# The workload (pgbench, as in the issue): 50 rows; 8 readers that, on a
# miss, read the row, wait 2 ms as an application would, and fill with
# mc_add; 2 writers updating random rows through mc_invalidate.  Afterwards
# the cached values that differ from their row are counted.
#   - without a hold the count is above 0 (a reader that read the old row
#     before the commit fills the cache after the delete);
#   - with a hold of 3 s (longer than any reader's latency) it is 0, run
#     after run;
#   - pylibmc sees the tombstone as the issue says: get() None, get_multi
#     the key with None, add() refused, set() overwrites.
set -euo pipefail

# shellcheck source=test/fault/lib.sh
source "$(dirname "$0")/../fault/lib.sh"

RUN_S=${PMC_HOLD_RUN_S:-8}
echo "1..8"

fault_db pmc_inval_hold
mc_private MC inval_hold -m 64
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pmc-hold.XXXXXX")
trap 'rm -rf "$WORK"; fault__cleanup' EXIT

q "CREATE TABLE item (id int PRIMARY KEY, val int NOT NULL);
   INSERT INTO item SELECT g, 0 FROM generate_series(1, 50) g;
   CREATE TRIGGER item_cache AFTER INSERT OR UPDATE OR DELETE ON item
     FOR EACH ROW EXECUTE FUNCTION mc_invalidate('hold:item:{id}');
   CREATE FUNCTION read_item(k int) RETURNS int LANGUAGE plpgsql AS \$\$
   DECLARE v int;
   BEGIN
     v := mc_get('hold:item:' || k, NULL::bigint);
     IF v IS NULL THEN
       SELECT val INTO v FROM item WHERE id = k;
       PERFORM pg_sleep(0.002);
       PERFORM mc_add('hold:item:' || k, v::bigint, 300);
     END IF;
     RETURN v;
   END \$\$;
   CREATE FUNCTION stale_entries() RETURNS bigint LANGUAGE sql AS \$\$
     SELECT count(*) FROM item i
     JOIN mc_get_multi(array(SELECT 'hold:item:' || id FROM item), NULL::bigint) c
       ON c.key = 'hold:item:' || i.id
     WHERE c.value IS DISTINCT FROM i.val \$\$;" >/dev/null

printf '\\set k random(1, 50)\nSELECT read_item(:k);\n' >"$WORK/reader.sql"
printf '\\set k random(1, 50)\nUPDATE item SET val = val + 1 WHERE id = :k;\n' >"$WORK/writer.sql"

# workload HOLD: one run; prints the stale entries left afterwards
workload() {
	local hold=$1
	PGOPTIONS="-c pylibmc_pg.servers=$MC" \
		"$PG_BINDIR/psql" -X -q -At -d "$FAULT_DB" -c "SELECT mc_flush_all()" >/dev/null
	PGOPTIONS="-c pylibmc_pg.servers=$MC" \
		"$PG_BINDIR/pgbench" -n -c 8 -j 2 -T "$RUN_S" -f "$WORK/reader.sql" "$FAULT_DB" >"$WORK/readers.log" 2>&1 &
	local readers=$!
	PGOPTIONS="-c pylibmc_pg.servers=$MC -c pylibmc_pg.invalidation_hold=$hold" \
		"$PG_BINDIR/pgbench" -n -c 2 -j 1 -T "$RUN_S" -f "$WORK/writer.sql" "$FAULT_DB" >"$WORK/writers.log" 2>&1 &
	local writers=$!
	wait "$readers" || { sed 's/^/#   /' "$WORK/readers.log"; return 1; }
	wait "$writers" || { sed 's/^/#   /' "$WORK/writers.log"; return 1; }
	diag "hold $hold s: readers $(grep -o 'tps = [0-9.]*' "$WORK/readers.log" | head -1), writers $(grep -o 'tps = [0-9.]*' "$WORK/writers.log" | head -1)" >&2
	PGOPTIONS="-c pylibmc_pg.servers=$MC" "$PG_BINDIR/psql" -X -q -At -d "$FAULT_DB" -c "SELECT stale_entries()"
}

stale=$(workload 0)
diag "without a hold: $stale stale entries after ${RUN_S} s"
between "$stale" 1 50 "without a hold, late fills leave stale entries (the race the hold closes)"

for run in 1 2 3; do
	stale=$(workload 3)
	diag "hold 3 s, run $run: $stale stale entries"
	is "$stale" "0" "with a 3 s hold, run $run: no stale entry"
done

# what pylibmc sees
q "SET pylibmc_pg.servers = '$MC'" "SET pylibmc_pg.invalidation_hold = 30" \
	"SELECT mc_set('hold:py', 'cached')" "SELECT mc_delete_on_commit('hold:py')" >/dev/null
out=$("$PMC_PYTHON" - "$MC" <<'EOF'
import sys
import pylibmc
c = pylibmc.Client([sys.argv[1]])
print(repr(c.get("hold:py")))
print(repr(c.get_multi(["hold:py"])))
print(repr(c.add("hold:py", "late")))
print(repr(c.set("hold:py", "fresh")), repr(c.get("hold:py")))
EOF
)
readarray -t py <<<"$out"
is "${py[0]:-}" "None" "pylibmc get() of a held key returns None"
is "${py[1]:-}" "{'hold:py': None}" "pylibmc get_multi() returns the held key with None"
is "${py[2]:-}" "False" "pylibmc add() of a held key fails"
is "$(q "SET pylibmc_pg.servers = '$MC'" "SELECT mc_get('hold:py')") ${py[3]:-}" "fresh True 'fresh'" \
	"pylibmc set() overwrites the tombstone, and mc_get reads the new value"

tap_done
