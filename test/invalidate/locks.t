#!/usr/bin/env bash
#
# test/invalidate/locks.t: the commit-time send happens after the
# transaction's locks are released (issue 14.3).
#
# Writer A updates a row (mc_invalidate queues its key for a memcached that
# is SIGSTOPped: the connection is accepted, nothing is answered, so the
# barrier waits the whole poll timeout, 3 s here).  Writer B updates the
# same row and waits on A's row lock; its own keys go to a healthy server.
# B must finish while A's COMMIT still waits on the stopped server; before
# the fix, B finished only when A's COMMIT returned.  A's COMMIT still
# warns and commits, and still applies what it can before it returns.
set -euo pipefail

# shellcheck source=test/fault/lib.sh
source "$(dirname "$0")/../fault/lib.sh"

echo "1..7"

fault_db pmc_inval_locks
mc_private STOPPED inval_locks -m 16
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pmc-locks.XXXXXX")
trap 'kill -CONT "$(pmc_mc_pid inval_locks 2>/dev/null)" 2>/dev/null || true; rm -rf "$WORK"; fault__cleanup' EXIT

q "CREATE TABLE lk (id int PRIMARY KEY, v int);
   INSERT INTO lk VALUES (1, 0);
   CREATE TRIGGER lk_cache AFTER INSERT OR UPDATE OR DELETE ON lk
     FOR EACH ROW EXECUTE FUNCTION mc_invalidate('lk:{id}');" >/dev/null

kill -STOP "$(pmc_mc_pid inval_locks)"

(
	PGOPTIONS="-c pylibmc_pg.servers=$STOPPED -c pylibmc_pg.behaviors=_poll_timeout=3000" \
		"$PG_BINDIR/psql" -X -At -d "$FAULT_DB" >"$WORK/a.out" 2>&1 <<'EOF'
BEGIN;
UPDATE lk SET v = v + 1 WHERE id = 1;
SELECT pg_sleep(1.5);
COMMIT;
EOF
	date +%s%N >"$WORK/a.end"
) &
A_PID=$!

# B starts once A holds the row lock (A is in its pg_sleep) and waits on it
for _ in $(seq 1 100); do
	[[ "$(q "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(1.5);'")" == 1 ]] && break
	sleep 0.05
done
(
	PGOPTIONS="-c pylibmc_pg.servers=$PMC_TCP" \
		"$PG_BINDIR/psql" -X -At -d "$FAULT_DB" -c "UPDATE lk SET v = v + 10 WHERE id = 1" >"$WORK/b.out" 2>&1
	date +%s%N >"$WORK/b.end"
) &
B_PID=$!

sleep 0.3
is "$(q "SELECT wait_event_type FROM pg_stat_activity WHERE query LIKE 'UPDATE lk SET v = v + 10%'")" "Lock" \
	"the second writer waits on the first one's row lock"
wait "$B_PID" || true
wait "$A_PID" || true
kill -CONT "$(pmc_mc_pid inval_locks)"

a_end=$(($(cat "$WORK/a.end") / 1000000))
b_end=$(($(cat "$WORK/b.end") / 1000000))
diag "B finished $((a_end - b_end)) ms before A's COMMIT returned"
between "$((a_end - b_end))" 1500 100000 \
	"the second writer finishes while the first COMMIT still waits on the stopped server (>= 1.5 s before it returns)"
like "$(cat "$WORK/b.out")" "^UPDATE 1$" "the second writer's UPDATE succeeded"
like "$(cat "$WORK/a.out")" "WARNING:  could not delete 1 of 1 keys queued by mc_delete_on_commit" \
	"the first COMMIT warns that its delete is not known to be applied"
like "$(cat "$WORK/a.out")" "COMMIT" "the first transaction committed"
is "$(q "SELECT v FROM lk WHERE id = 1")" "11" "both updates are in the row"

# and the send still happens before COMMIT returns: a healthy server, a
# reader right after COMMIT sees no key
bad=0
for _ in 1 2 3 4 5; do
	q "SET pylibmc_pg.servers = '$PMC_TCP'" "SELECT mc_set('lk:1', 'cached')" >/dev/null
	PGOPTIONS="-c pylibmc_pg.servers=$PMC_TCP" \
		"$PG_BINDIR/psql" -X -q -At -d "$FAULT_DB" -c "UPDATE lk SET v = v + 1 WHERE id = 1" >/dev/null 2>&1
	[[ "$(PGOPTIONS="-c pylibmc_pg.servers=$PMC_TCP" "$PG_BINDIR/psql" -X -At -d "$FAULT_DB" \
		-c "SELECT coalesce(mc_get('lk:1'), 'gone')")" == gone ]] || bad=$((bad + 1))
done
is "$bad" "0" "the deletes are applied when COMMIT returns (5 tries)"

tap_done
