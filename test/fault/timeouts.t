#!/usr/bin/env bash
#
# test/fault/timeouts.t: no call waits past the configured timeouts.
#
# Wall time is measured around a whole psql run (backend start included):
#   - a server that refuses connections (PMC_DOWN): ERROR in < 1 s;
#   - a server that accepts but never answers (a private memcached, SIGSTOPped):
#     ERROR in < 2 s with the defaults (_poll_timeout 1000 ms), for reads,
#     writes, counters and multi-gets (append and touch, which read the
#     key first, included: one timeout, one WARNING); in < 0.8 s with
#     _poll_timeout=300;
#   - a server whose SYNs go unanswered (a listener with a full backlog that
#     never accepts): ERROR in 0.9..2 s with the defaults (connect_timeout
#     1000 ms), in < 0.8 s with connect_timeout=300;
#   - keyless operations (get_multi, mc_stats, flush_all) over several
#     servers, some SIGSTOPped: the ERROR names the stopped ones.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=test/fault/lib.sh
source test/fault/lib.sh

tap_plan 28
fault_db pmc_fault_timeouts

# timed SETTINGS_SQL SQL: run both in one fresh session; sets OUT and MS.
timed() {
	local t0 t1
	t0=$(now_ms)
	OUT=$(q "$1" "$2")
	t1=$(now_ms)
	MS=$((t1 - t0))
}

# ---- a server that refuses connections ----
timed "SET pylibmc_pg.servers = '$PMC_DOWN'" "SELECT mc_get('to:k')"
between "$MS" 0 999 "get from a refusing server returns within 1 s (${MS} ms)"
like "$OUT" "ERROR:  could not get key \"to:k\" on memcached server $PMC_DOWN" \
	"... as an ERROR naming the server"
timed "SET pylibmc_pg.servers = '$PMC_DOWN'" "SELECT mc_set('to:k', 'v')"
between "$MS" 0 999 "set to a refusing server returns within 1 s (${MS} ms)"
like "$OUT" "ERROR:  could not set key \"to:k\" on memcached server $PMC_DOWN" \
	"... as an ERROR naming the server"
timed "SET pylibmc_pg.servers = '$PMC_DOWN'" "SELECT * FROM mc_get_multi(ARRAY['to:a', 'to:b'])"
between "$MS" 0 999 "get_multi from a refusing server returns within 1 s (${MS} ms)"
like "$OUT" "ERROR:  could not get several keys" "... as an ERROR"

# ---- a server that accepts but never answers ----
mc_private STOPPED fault-timeouts-stopped -m 16 || { echo "Bail out! cannot start memcached"; exit 1; }
q "SET pylibmc_pg.servers = '$STOPPED'" "SELECT mc_set('to:k', 'v')" >/dev/null
kill -STOP "$(pmc_mc_pid fault-timeouts-stopped)"

timed "SET pylibmc_pg.servers = '$STOPPED'" "SELECT mc_get('to:k')"
between "$MS" 0 1999 "get from a stopped server returns within 2 s (${MS} ms)"
like "$OUT" "ERROR:  could not get key \"to:k\" on memcached server $STOPPED" \
	"... as an ERROR naming the server"
like "$OUT" "DETAIL:  libmemcached: A TIMEOUT OCCURRED" "... with the timeout in DETAIL"
timed "SET pylibmc_pg.servers = '$STOPPED'" "SELECT mc_set('to:big', repeat('x', 900000))"
between "$MS" 0 1999 "a 900 kB set to a stopped server returns within 2 s (${MS} ms)"
like "$OUT" "ERROR:  could not set key \"to:big\"" "... as an ERROR"
timed "SET pylibmc_pg.servers = '$STOPPED'" "SELECT * FROM mc_get_multi(ARRAY['to:a', 'to:b', 'to:c'])"
between "$MS" 0 1999 "get_multi from a stopped server returns within 2 s (${MS} ms)"
timed "SET pylibmc_pg.servers = '$STOPPED'" "SELECT mc_incr('to:n')"
between "$MS" 0 1999 "incr on a stopped server returns within 2 s (${MS} ms)"
timed "SET pylibmc_pg.servers = '$STOPPED'" "SELECT mc_delete('to:k')"
between "$MS" 0 1999 "delete on a stopped server returns within 2 s (${MS} ms)"
# the default is what bounds the waits above: it is not much shorter either
between "$MS" 900 1999 "the default poll timeout is about 1 s (${MS} ms)"
# append and touch read the key first (a tombstone is an absent key, issue
# 24.6): that read is their only wait, its failure reported once as theirs
for call in "mc_append('to:k', 'x')|append to" "mc_touch('to:k', 60)|touch"; do
	timed "SET pylibmc_pg.servers = '$STOPPED'; SET pylibmc_pg.on_error = 'warning'" "SELECT ${call%|*}"
	between "$MS" 0 1999 "${call%|*} on a stopped server returns within 2 s: one timeout (${MS} ms)"
	is "$(grep -c "WARNING:  could not ${call#*|} key \"to:k\" on memcached server $STOPPED" <<<"$OUT")" 1 \
		"... with one WARNING, naming the call and the server"
done

timed "SET pylibmc_pg.servers = '$STOPPED'; SET pylibmc_pg.behaviors = '_poll_timeout=300'" \
	"SELECT mc_get('to:k')"
between "$MS" 0 799 "with _poll_timeout=300 a get returns within 0.8 s (${MS} ms)"
like "$OUT" "A TIMEOUT OCCURRED" "... still as a timeout ERROR"
timed "SET pylibmc_pg.servers = '$STOPPED'; SET pylibmc_pg.behaviors = '_poll_timeout=300'" \
	"SELECT * FROM mc_get_multi(ARRAY['to:a', 'to:b', 'to:c'])"
between "$MS" 0 799 "with _poll_timeout=300 a get_multi returns within 0.8 s (${MS} ms)"

# ---- keyless operations over several servers name the ones that failed ----
mc_private LIVE fault-timeouts-live -m 16 || { echo "Bail out! cannot start memcached"; exit 1; }
mc_private STOPPED2 fault-timeouts-stopped2 -m 16 || { echo "Bail out! cannot start memcached"; exit 1; }
OUT=$(q "SET pylibmc_pg.servers = '$LIVE,$STOPPED'" \
	"SELECT count(*) FROM mc_get_multi(ARRAY(SELECT 'to:m' || i FROM generate_series(1, 50) i))")
like "$OUT" "ERROR:  could not get several keys on memcached server $STOPPED"$'\n' \
	"get_multi over a live and a stopped server: the ERROR names the stopped one"
OUT=$(q "SET pylibmc_pg.servers = '$LIVE,$STOPPED'" "SELECT count(*) FROM mc_stats()")
like "$OUT" "ERROR:  could not read statistics on memcached server $STOPPED"$'\n' \
	"mc_stats over a live and a stopped server: the ERROR names the stopped one"
kill -STOP "$(pmc_mc_pid fault-timeouts-stopped2)"
OUT=$(q "SET pylibmc_pg.servers = '$STOPPED,$LIVE,$STOPPED2'" "SELECT mc_flush_all()")
like "$OUT" "ERROR:  could not flush all keys on memcached servers $STOPPED, $STOPPED2"$'\n' \
	"flush_all with two of three servers stopped: the ERROR names both"
kill -CONT "$(pmc_mc_pid fault-timeouts-stopped2)"
kill -CONT "$(pmc_mc_pid fault-timeouts-stopped)"

# ---- a server that never completes the TCP handshake ----
# listen(0) and two connections that are never accepted fill the accept
# queue: the kernel then drops further SYNs, so connect() itself waits.
coproc BLACKHOLE {
	exec "$PMC_PYTHON" -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(0)
held = []
for _ in range(3):
    c = socket.socket()
    c.settimeout(0.3)
    try:
        c.connect(s.getsockname())
    except OSError:
        pass
    held.append(c)
print(s.getsockname()[1], flush=True)
sys.stdin.read()
'
}
read -r -t 10 -u "${BLACKHOLE[0]}" BH_PORT || BH_PORT=""
timed "SET pylibmc_pg.servers = '127.0.0.1:$BH_PORT'" "SELECT mc_get('to:k')"
between "$MS" 900 1999 "connect to an unanswering host gives up after about 1 s by default (${MS} ms)"
like "$OUT" "ERROR:  could not get key \"to:k\" on memcached server 127.0.0.1:$BH_PORT" "... as an ERROR naming the server"
timed "SET pylibmc_pg.servers = '127.0.0.1:$BH_PORT'; SET pylibmc_pg.behaviors = 'connect_timeout=300'" \
	"SELECT mc_get('to:k')"
between "$MS" 0 799 "with connect_timeout=300 it gives up within 0.8 s (${MS} ms)"
exec {BLACKHOLE[1]}>&-
kill "$BLACKHOLE_PID" 2>/dev/null
wait "$BLACKHOLE_PID" 2>/dev/null

tap_done
