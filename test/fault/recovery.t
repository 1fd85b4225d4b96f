#!/usr/bin/env bash
#
# test/fault/recovery.t: one psql session lives through server failures.
#
# Recovery: a private memcached is killed (the session gets a connection
# ERROR naming it) and restarted on the same port; the same session is served
# again within retry_timeout (2 s by default) plus one poll, without
# mc_disconnect_all.  The same after a SIGSTOP/SIGCONT.
#
# Cancellation never leaves a reply for the next call to misread: with
# k1 = 'v1', k2 = 'v2', k3 = 'v3' stored, the server is SIGSTOPped, a get
# (or get_multi) of k1 is cancelled (statement_timeout, or pg_cancel_backend
# from another session), the server is SIGCONTed and answers the old request
# on the old socket; the next get of k2 in the same session must say 'v2'.
# Done in ASCII and binary, with on_error error and ignore, and once with
# the server waking up while libmemcached is still waiting (the reply is
# read, then the cancel lands).  libmemcached's waits cannot be interrupted:
# a cancelled statement ends when the poll times out, which is bounded.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=test/fault/lib.sh
source test/fault/lib.sh

tap_plan 50
fault_db pmc_fault_recovery
mc_private ADDR fault-recovery -m 16 || { echo "Bail out! cannot start memcached"; exit 1; }

sess_start
PID=$(sess "SELECT pg_backend_pid()")
sess "SET pylibmc_pg.servers = '$ADDR'" >/dev/null

# ---- kill and restart ----
is "$(sess "SELECT mc_set('rc:k', 'before')")" t "the session stores a value"
pmc_mc_stop fault-recovery
out=$(sess "SELECT mc_get('rc:k')")
like "$out" "ERROR:  could not get key \"rc:k\" on memcached server $ADDR" \
	"with the server killed, a get is an ERROR naming it"
pmc_mc_restart fault-recovery || { echo "Bail out! cannot restart memcached"; exit 1; }
t0=$(now_ms)
served=""
for _ in $(seq 1 40); do
	out=$(sess "SELECT mc_set('rc:k', 'after')")
	if [[ $out == t ]]; then served=$(now_ms); break; fi
	sleep 0.1
done
is "${served:+served}" served "after a restart on the same port the same session is served again"
between $(( ${served:-999999} - t0 )) 0 3200 "... within retry_timeout (2 s) + a poll ($(( ${served:-999999} - t0 )) ms)"
is "$(sess "SELECT mc_get('rc:k')")" after "... and reads what it wrote"
is "$(sess "SELECT pg_backend_pid()")" "$PID" "... in the same backend"

# ---- SIGSTOP, then SIGCONT ----
kill -STOP "$(pmc_mc_pid fault-recovery)"
out=$(sess "SELECT mc_get('rc:k')")
like "$out" "A TIMEOUT OCCURRED" "with the server stopped, a get times out"
kill -CONT "$(pmc_mc_pid fault-recovery)"
t0=$(now_ms)
served=""
for _ in $(seq 1 40); do
	out=$(sess "SELECT mc_get('rc:k')")
	if [[ $out == after ]]; then served=$(now_ms); break; fi
	sleep 0.1
done
is "${served:+served}" served "after SIGCONT the session reads again"
between $(( ${served:-999999} - t0 )) 0 3200 "... within retry_timeout + a poll ($(( ${served:-999999} - t0 )) ms)"

# ---- cancellation ----
# prepare: store k1..k3 with the current protocol
store() {
	sess "SELECT mc_set('rc:k1', 'v1') AND mc_set('rc:k2', 'v2') AND mc_set('rc:k3', 'v3')"
}
# wait_served: the session reads k3 (after a failure marked the server dead)
wait_served() {
	local _ out
	for _ in $(seq 1 40); do
		out=$(sess "SELECT mc_get('rc:k3')")
		[[ $out == v3 ]] && return 0
		sleep 0.1
	done
	return 1
}

# cancel_case LABEL SETTINGS CANCELLED_SQL: the statement_timeout case.
cancel_case() {
	local label=$1 settings=$2 sql=$3 out t0 t1
	is "$(sess "RESET ALL; SET pylibmc_pg.servers = '$ADDR'; $settings")" "" "$label: settings accepted"
	wait_served >/dev/null
	is "$(store)" t "$label: k1, k2, k3 stored"
	kill -STOP "$(pmc_mc_pid fault-recovery)"
	t0=$(now_ms)
	out=$(sess "SET statement_timeout = 300; $sql; RESET statement_timeout")
	t1=$(now_ms)
	like "$out" "ERROR:  (canceling statement due to statement timeout|could not get)" \
		"$label: the cancelled statement ends with an ERROR"
	between $((t1 - t0)) 0 1999 "$label: ... within the poll timeout ($((t1 - t0)) ms)"
	kill -CONT "$(pmc_mc_pid fault-recovery)"
	sleep 0.2 # the server answers the stale request now
	wait_served >/dev/null
	is "$(sess "SELECT mc_get('rc:k2')")" v2 "$label: the next get of k2 says v2, not the stale reply"
	is "$(sess "SELECT string_agg(key || '=' || value, ',' ORDER BY key) FROM mc_get_multi(ARRAY['rc:k1', 'rc:k2', 'rc:k3'])")" \
		"rc:k1=v1,rc:k2=v2,rc:k3=v3" "$label: a get_multi after it reads the right values"
}

cancel_case "ascii get" "" "SELECT mc_get('rc:k1')"
cancel_case "ascii get_multi" "" "SELECT * FROM mc_get_multi(ARRAY['rc:k1', 'rc:k3'])"
cancel_case "binary get" "SET pylibmc_pg.binary_protocol = on" "SELECT mc_get('rc:k1')"
cancel_case "binary get_multi" "SET pylibmc_pg.binary_protocol = on" "SELECT * FROM mc_get_multi(ARRAY['rc:k1', 'rc:k3'])"
cancel_case "ignore mode get" "SET pylibmc_pg.on_error = ignore" "SELECT mc_get('rc:k1')"

# wait_active: the session's backend is running the statement just sent
wait_active() {
	local _
	for _ in $(seq 1 50); do
		[[ $(q "SELECT state FROM pg_stat_activity WHERE pid = $PID AND query LIKE '%rc:k1%'") == active ]] && return 0
		sleep 0.05
	done
	return 1
}

# pg_cancel_backend from another session, the server waking up while
# libmemcached still waits (poll timeout 3 s): the reply to k1 is read (or
# the call fails), the cancel lands; k2 must then read v2.
for proto in off on; do
	is "$(sess "RESET ALL; SET pylibmc_pg.servers = '$ADDR'; SET pylibmc_pg.binary_protocol = $proto; SET pylibmc_pg.behaviors = '_poll_timeout=3000'")" "" \
		"binary=$proto: settings accepted"
	wait_served >/dev/null
	store >/dev/null
	MCPID=$(pmc_mc_pid fault-recovery)
	kill -STOP "$MCPID"
	st1=$(cut -d' ' -f3 "/proc/$MCPID/stat")
	sess_send "SELECT mc_get('rc:k1')"
	wait_active
	st2=$(cut -d' ' -f3 "/proc/$MCPID/stat")
	sleep 0.2
	cancelled=$(q "SELECT pg_cancel_backend($PID)")
	st3=$(cut -d' ' -f3 "/proc/$MCPID/stat")
	sleep 0.3
	kill -CONT "$MCPID"
	out=$(sess_wait 10)
	[[ $out == *ERROR* ]] || diag "memcached $MCPID state after SIGSTOP: $st1, when active: $st2, at cancel: $st3"
	is "$cancelled" t "binary=$proto: pg_cancel_backend reaches the waiting backend"
	like "$out" "ERROR:  canceling statement due to user request" "binary=$proto: the get ends cancelled once the server answers"
	is "$(sess "SELECT mc_get('rc:k2')")" v2 "binary=$proto: the next get of k2 says v2"
done

# the same with the cancel arriving and the server staying stopped past the
# poll timeout; only then woken up
sess "RESET ALL; SET pylibmc_pg.servers = '$ADDR'" >/dev/null
wait_served >/dev/null
store >/dev/null
MCPID=$(pmc_mc_pid fault-recovery)
kill -STOP "$MCPID"
st1=$(cut -d' ' -f3 "/proc/$MCPID/stat")
sess_send "SELECT * FROM mc_get_multi(ARRAY['rc:k1', 'rc:k3'])"
wait_active
sleep 0.2
q "SELECT pg_cancel_backend($PID)" >/dev/null
out=$(sess_wait 10)
st2=$(cut -d' ' -f3 "/proc/$MCPID/stat")
kill -CONT "$MCPID"
like "$out" "ERROR:  (canceling statement due to user request|could not get)" "a cancelled get_multi on a stopped server ends"
[[ $out == *ERROR* ]] || diag "memcached $MCPID state after SIGSTOP: $st1, after the statement: $st2"
sleep 0.2
wait_served >/dev/null
is "$(sess "SELECT mc_get('rc:k2')")" v2 "... and the next get of k2 says v2"
is "$(sess "SELECT pg_backend_pid()")" "$PID" "all of it in one backend"

sess_stop
tap_done
