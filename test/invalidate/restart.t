#!/usr/bin/env bash
#
# test/invalidate/restart.t: the first commit-time batch after a memcached
# restart deletes its keys (issue 24, point 3).
#
# One psql session sends a batch (so the batch clients hold connections),
# the servers are restarted, the session stores the keys again (its main
# client reconnects: a set is retried once on a connection the server
# closed), then queues them with mc_delete_on_commit and commits.  The
# batch's connections are the ones the old servers closed: before the fix
# the commit said "WARNING: could not delete N of N keys ... CONNECTION
# FAILURE" and the keys stayed cached.  Now no WARNING, every key gone, and
# the next transaction is right too.  ASCII and binary, one server and
# two (both restarted, or only one), with and without
# pylibmc_pg.invalidation_hold (tombstone sets).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=test/fault/lib.sh
source test/fault/lib.sh

tap_plan 30
fault_db pmc_inval_restart
mc_private A inval-restart-a -m 16 || { echo "Bail out! cannot start memcached"; exit 1; }
mc_private B inval-restart-b -m 16 || { echo "Bail out! cannot start memcached"; exit 1; }

sess_start
N=20
KEYS="array(SELECT 'rs:' || i FROM generate_series(1, $N) i)"
STORE="SELECT count(*) FILTER (WHERE NOT mc_set('rs:' || i, 'v' || i)) FROM generate_series(1, $N) i"
QUEUE="SELECT count(*) FROM (SELECT mc_delete_on_commit('rs:' || i) FROM generate_series(1, $N) i) d"
LEFT="SELECT count(*) FROM mc_get_multi($KEYS)"

# store_until_served: the main client stores every key (it may take a
# retry_timeout after the restart)
store_until_served() {
	local _ out
	for _ in $(seq 1 40); do
		out=$(sess "$STORE")
		[[ $out == 0 ]] && return 0
		sleep 0.1
	done
	diag "could not store the keys again: $out"
	return 1
}

# round LABEL SERVERS BINARY HOLD RESTART...: prime, restart, store, queue, commit
round() {
	local label=$1 servers=$2 binary=$3 hold=$4 out name
	shift 4
	sess "SET pylibmc_pg.servers = '$servers'; SET pylibmc_pg.binary_protocol = $binary; SET pylibmc_pg.invalidation_hold = $hold" >/dev/null
	# prime: a batch before the restart, so the batch clients are connected
	sess "$STORE" >/dev/null
	out=$(sess "BEGIN; $QUEUE; COMMIT; $LEFT")
	[[ $out == *$'\n'0 ]] || diag "$label: the batch before the restart: $out"
	for name in "$@"; do pmc_mc_restart "$name" >/dev/null || { echo "Bail out! cannot restart $name"; exit 1; }; done
	store_until_served
	out=$(sess "BEGIN; $QUEUE; COMMIT")
	unlike "$out" "WARNING" "$label: the first batch after the restart commits without a WARNING"
	is "$(sess "$LEFT")" 0 "$label: ... and every key is gone"
	sess "$STORE" >/dev/null
	out=$(sess "BEGIN; $QUEUE; COMMIT; $LEFT")
	is "$out" $'20\n0' "$label: the next batch too"
}

round "ASCII, one server" "$A" off 0 inval-restart-a
round "binary, one server" "$A" on 0 inval-restart-a
round "ASCII, one server, hold" "$A" off 30 inval-restart-a
round "binary, one server, hold" "$A" on 30 inval-restart-a
round "ASCII, two servers, both restarted" "$A,$B" off 0 inval-restart-a inval-restart-b
round "binary, two servers, both restarted" "$A,$B" on 0 inval-restart-a inval-restart-b
round "ASCII, two servers, one restarted" "$A,$B" off 0 inval-restart-b
round "binary, two servers, one restarted" "$A,$B" on 0 inval-restart-b
round "ASCII, two servers, hold" "$A,$B" off 30 inval-restart-a inval-restart-b
round "binary, two servers, hold" "$A,$B" on 30 inval-restart-a inval-restart-b
tap_done
