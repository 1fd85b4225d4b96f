#!/usr/bin/env bash
#
# test/invalidate/connections.t: how many connections a backend keeps to
# one memcached server (issue 24.8; README "Operations notes" sizes
# memcached's -c from it).
#
# A private memcached, so that every established connection to it is this
# test's.  One session commits invalidations under six namespaces in turn
# (SET LOCAL pylibmc_pg.namespace, then mc_delete_on_commit), in the text
# protocol, then in the binary protocol; between its transactions, the
# backend holds at most two connections to the server (its client, and the
# commit-time batch's client of the last configuration used).  One
# transaction that queues keys under six namespaces opens more while it
# commits; they are closed again when it ends.
set -euo pipefail

# shellcheck source=test/fault/lib.sh
source "$(dirname "$0")/../fault/lib.sh"

tap_plan 8

fault_db pmc_inval_conns
mc_private MC inval-conns -m 16 || { echo "Bail out! cannot start a private memcached"; exit 1; }
PORT=${MC##*:}

# conns: established connections to the private server (its side)
conns() { ss -Htn state established "( sport = :$PORT )" | wc -l; }

sess_start
sess "SET pylibmc_pg.servers = '$MC'" >/dev/null
is "$(sess "SELECT mc_set('c:k', 'v')")" t "the session reaches the private server"
is "$(conns)" 1 "one connection for the session's client"

# six transactions, one namespace each
six_namespaces() {
	local i
	for i in 1 2 3 4 5 6; do
		sess "BEGIN; SET LOCAL pylibmc_pg.namespace = 'ns$i:'; SELECT mc_set('k', 'v'); SELECT mc_delete_on_commit('k'); COMMIT" >/dev/null
	done
}
six_namespaces
n=$(conns)
diag "text protocol, after six transactions under six namespaces: $n connections"
between "$n" 1 2 "text protocol: at most two connections between transactions, after six namespaces"
is "$(sess "SELECT count(*) FROM generate_series(1, 6) i WHERE mc_get('ns' || i || ':k') IS NULL")" 6 \
	"every namespace's key was deleted at its commit"

sess "SET pylibmc_pg.binary_protocol = on" >/dev/null
six_namespaces
n=$(conns)
diag "binary protocol, after six transactions under six namespaces: $n connections"
between "$n" 1 2 "binary protocol: at most two connections between transactions, after six namespaces"
sess "RESET pylibmc_pg.binary_protocol" >/dev/null

# one transaction, six namespaces: more while it commits, fewer after
out=$(sess "BEGIN;
SELECT count(*) FROM generate_series(1, 6) i,
  LATERAL (SELECT set_config('pylibmc_pg.namespace', 'ns' || i || ':', true)) s,
  LATERAL (SELECT mc_delete_on_commit('k')) d;
COMMIT")
is "$out" 6 "six keys queued under six namespaces in one transaction"
n=$(conns)
diag "after one transaction under six namespaces: $n connections"
between "$n" 1 2 "after it, at most two connections"
is "$(sess "SELECT mc_set('c:k', 'again')")" t "the session still works"

sess_stop
tap_done
