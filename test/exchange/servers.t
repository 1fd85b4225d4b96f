#!/usr/bin/env bash
#
# test/exchange/servers.t: issue 12, points 7 and 9.  Server state.
#
# 7: binary protocol without credentials, two servers, one SIGSTOPped:
#    after the first call (which may wait for the stopped one), each mc_get
#    of a key that maps to the healthy server takes < 300 ms (measured in
#    the session, several keys): the SASL probe runs once per connection,
#    a dead server does not tax calls to live ones.
# 9: memcached restarted (stopped, started on the same port) while a
#    session is idle: the next mc_get / mc_set of that session under
#    on_error = 'error' succeeds (the closed connection is reopened once
#    before a failure is reported), in both protocols.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=test/exchange/lib.sh
source test/exchange/lib.sh

tap_plan 19
fault_db pmc_exch_servers
trap 'kill -CONT "${BPID:-0}" 2>/dev/null; exchange__cleanup' EXIT

q "CREATE FUNCTION exch_ms(sql text) RETURNS int LANGUAGE plpgsql AS \$\$
DECLARE t timestamptz := clock_timestamp();
BEGIN EXECUTE sql; RETURN (extract(epoch FROM clock_timestamp() - t) * 1000)::int; END \$\$" >/dev/null

# ---- 7: a stopped server does not tax calls to the live one ----
mc_private A exch-servers-a -m 16 || { echo "Bail out! cannot start memcached"; exit 1; }
mc_private B exch-servers-b -m 16 || { echo "Bail out! cannot start memcached"; exit 1; }
BPID=$(pmc_mc_pid exch-servers-b)
q "SET pylibmc_pg.servers = '$A, $B'" "SET pylibmc_pg.binary_protocol = on" \
	"SELECT bool_and(mc_set('sv:' || i, 'v' || i)) FROM generate_series(1, 20) i" >/dev/null
on_a=$(q "SET pylibmc_pg.servers = '$A'" "SELECT string_agg('sv:' || i, ' ') FROM generate_series(1, 20) i WHERE mc_get('sv:' || i) IS NOT NULL")
read -r -a keys_a <<<"$on_a"
between "${#keys_a[@]}" 6 19 "of 20 keys over two servers, ${#keys_a[@]} map to the first one"
mc_stop "$BPID"
sess_start_verbose
sess "SET pylibmc_pg.servers = '$A, $B'; SET pylibmc_pg.binary_protocol = on" >/dev/null
tsess "SELECT mc_get('${keys_a[0]}')" 30
diag "the first call, with $B stopped: ${MS} ms: ${OUT//$'\n'/ | }"
times=() right=0
for i in 1 2 3 4 5; do
	k=${keys_a[i]:-sv:none}
	times+=("$(sess "SELECT exch_ms('SELECT mc_get(''$k'')')" 30)")
	[[ $(sess "SELECT mc_get('$k')" 30) == "v${k#sv:}" ]] && right=$((right + 1))
done
diag "mc_get of keys on $A with $B stopped: ${times[*]} ms"
for t in "${times[@]}"; do
	between "${t:-x}" 0 299 "binary, $B stopped: an mc_get of a key on $A takes < 300 ms (${t} ms)"
done
is "$right" 5 "... and reads its value"
kill -CONT "$BPID"
sess_stop

# ---- 9: the first call after a restart succeeds ----
mc_private C exch-servers-c -m 16 || { echo "Bail out! cannot start memcached"; exit 1; }
sess_start_verbose
for proto in off on; do
	sess "RESET ALL; SET pylibmc_pg.servers = '$C'; SET pylibmc_pg.binary_protocol = $proto; SET pylibmc_pg.on_error = 'error'" >/dev/null
	is "$(sess "SELECT mc_set('rs:k', 'before')")" t "binary=$proto: the session stores a value"
	pmc_mc_restart exch-servers-c || { echo "Bail out! cannot restart memcached"; exit 1; }
	out=$(sess "SELECT coalesce(mc_get('rs:k'), 'MISS')")
	is "$out" MISS "binary=$proto: after a restart while the session was idle, its next mc_get succeeds (a miss)"
	is "$(sess "SELECT mc_set('rs:k', 'after')")" t "binary=$proto: ... and an mc_set succeeds"
	pmc_mc_restart exch-servers-c || { echo "Bail out! cannot restart memcached"; exit 1; }
	out=$(sess "SELECT mc_set('rs:k', 'again')")
	is "$out" t "binary=$proto: after another restart, the first call (mc_set) succeeds"
	is "$(sess "SELECT mc_get('rs:k')")" again "binary=$proto: ... and the value reads back"
	pmc_mc_restart exch-servers-c || { echo "Bail out! cannot restart memcached"; exit 1; }
	out=$(sess "SELECT count(*) FROM mc_get_multi(ARRAY['rs:k', 'rs:j'])")
	is "$out" 0 "binary=$proto: after another restart, the first call (mc_get_multi) succeeds"
done
sess_stop

tap_done
