#!/usr/bin/env bash
#
# test/proxy/twemproxy.t: every call twemproxy supports works through it,
# and the ones it does not support fail at once with an error that says so.
#
# Debian's nutcracker (twemproxy 0.5.0) is started on loopback in front of
# two private memcacheds (ketama), ASCII protocol (twemproxy does not speak
# the binary one).  What is stored through the proxy is checked on the
# memcacheds behind it, so the proxy really was in the path.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=test/fault/lib.sh
source test/fault/lib.sh

tap_plan 33
fault_db pmc_proxy

command -v nutcracker >/dev/null || {
	echo "Bail out! nutcracker is not installed (Debian package nutcracker)"
	exit 1
}
mc_private B1 proxy-b1 -m 16 || { echo "Bail out! cannot start memcached"; exit 1; }
mc_private B2 proxy-b2 -m 16 || { echo "Bail out! cannot start memcached"; exit 1; }

PROXY_DIR="$PMC_SCRATCH/fleet/twemproxy"
mkdir -p "$PROXY_DIR"
PROXY_PORT=$(pmc_free_port)
STATS_PORT=$(pmc_free_port)
cat >"$PROXY_DIR/nutcracker.yml" <<EOF
pool:
  listen: 127.0.0.1:$PROXY_PORT
  hash: fnv1a_64
  distribution: ketama
  timeout: 1000
  auto_eject_hosts: false
  servers:
   - $B1:1 b1
   - $B2:1 b2
EOF
nutcracker -c "$PROXY_DIR/nutcracker.yml" -s "$STATS_PORT" -o "$PROXY_DIR/nutcracker.log" &
PROXY_PID=$!
stop_proxy() {
	kill "$PROXY_PID" 2>/dev/null
	wait "$PROXY_PID" 2>/dev/null
	fault__cleanup
}
trap stop_proxy EXIT
pmc_wait_until 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PROXY_PORT" 2>/dev/null || {
	echo "Bail out! nutcracker did not start (log: $PROXY_DIR/nutcracker.log)"
	exit 1
}
PROXY="127.0.0.1:$PROXY_PORT"

# p SQL...: in one session through the proxy
p() { q "SET pylibmc_pg.servers = '$PROXY'" "$@"; }
# on_backends KEY: how many of the two memcacheds hold KEY, and its value
on_backends() {
	q "SET pylibmc_pg.servers = '$B1'" "SELECT coalesce(mc_get('$1'), '-')" |
		paste -sd' ' - | tr -d '\n'
	printf ' '
	q "SET pylibmc_pg.servers = '$B2'" "SELECT coalesce(mc_get('$1'), '-')" |
		paste -sd' ' - | tr -d '\n'
}

# ---- reads and writes ----
is "$(p "SELECT mc_set('px:a', 'alpha'), mc_get('px:a')")" "t|alpha" "set and get through the proxy"
out=$(on_backends px:a)
like "$out" "^(alpha -|- alpha)$" "... the value is on exactly one memcached behind it ($out)"
is "$(p "SELECT (mc_gets('px:a')).value")" "alpha" "gets"
is "$(p "SELECT mc_cas('px:a', 'beta', (mc_gets('px:a')).cas), mc_get('px:a')")" "t|beta" \
	"cas with the token gets returned"
is "$(p "SELECT mc_cas('px:a', 'gamma', 1), mc_get('px:a')")" "f|beta" "cas with a stale token is false"
is "$(p "SELECT mc_add('px:a', 'x'), mc_add('px:new', 'n'), mc_get('px:new')")" "f|t|n" "add"
is "$(p "SELECT mc_replace('px:a', 'r'), mc_replace('px:none', 'x'), mc_get('px:a')")" "t|f|r" "replace"
is "$(p "SELECT mc_append('px:a', 's'), mc_prepend('px:a', 'p'), mc_get('px:a')")" "t|t|prs" \
	"append and prepend"
is "$(p "SELECT mc_set('px:j', '{\"a\": 1}'::jsonb), mc_get('px:j', NULL::jsonb)")" 't|{"a": 1}' \
	"typed values keep their flags through the proxy"
is "$(p "SELECT mc_touch('px:a', 100), mc_touch('px:none', 100)")" "t|f" "touch"
is "$(p "SELECT mc_delete('px:a'), mc_delete('px:a'), mc_get('px:a') IS NULL")" "t|f|t" "delete"

# ---- counters ----
is "$(p "SELECT mc_set('px:n', 10), mc_incr('px:n', 5), mc_decr('px:n', 3)")" "t|15|12" "incr and decr"
is "$(p "SELECT mc_incr('px:nn'), mc_incr('px:nn', 1, 7), mc_incr('px:nn', 1, 7)")" "|7|8" \
	"incr without initial on a missing key is NULL; with initial it creates it"
is "$(p "SELECT mc_decr('px:nd', 1, 3), mc_decr('px:nd', 5, 3)")" "3|0" "decr with initial"

# ---- several keys ----
is "$(p "SELECT mc_set_multi('{\"m1\": 1, \"m2\": \"two\", \"m3\": true}'::jsonb, 0, 'px:')")" "{}" \
	"set_multi with a prefix stores every key"
is "$(p "SELECT string_agg(key || '=' || value, ',' ORDER BY key)
           FROM mc_get_multi(ARRAY['m1', 'm2', 'm3', 'm4'], 'px:')")" "m1=1,m2=two,m3=1" \
	"get_multi with a prefix returns the keys found, without the prefix"
b1=$(q "SET pylibmc_pg.servers = '$B1'" "SELECT count(*) FROM mc_get_multi(ARRAY['m1', 'm2', 'm3'], 'px:')")
b2=$(q "SET pylibmc_pg.servers = '$B2'" "SELECT count(*) FROM mc_get_multi(ARRAY['m1', 'm2', 'm3'], 'px:')")
is "$((b1 + b2))" "3" "... and the proxy spread them over its memcacheds ($b1 + $b2)"
is "$(p "SELECT mc_set_multi(ARRAY['px:k1', 'px:k2'], ARRAY[1, 2]::bigint[]),
               mc_get('px:k1', NULL::bigint) + mc_get('px:k2', NULL::bigint)")" "{}|3" "set_multi with arrays"
is "$(p "SELECT mc_delete_multi(ARRAY['k1', 'k2'], 0, 'px:'), mc_delete_multi(ARRAY['k1'], 0, 'px:')")" "t|f" \
	"delete_multi"
is "$(p "SELECT count(*) FROM mc_get_multi(ARRAY(SELECT 'px:none' || i FROM generate_series(1, 500) i))")" "0" \
	"get_multi of 500 missing keys"

# ---- invalidation at commit: quiet deletes and the barrier through the proxy ----
out=$(p "SELECT mc_set('px:inv' || i, 'v') FROM generate_series(1, 300) i" >/dev/null
	p "BEGIN" "SELECT mc_delete_on_commit('px:inv' || i) FROM generate_series(1, 300) i" "COMMIT" \
		"SELECT count(*) FROM mc_get_multi(ARRAY(SELECT 'px:inv' || i FROM generate_series(1, 300) i))")
is "$(tail -n 1 <<<"$out")" "0" "mc_delete_on_commit of 300 keys: all gone when COMMIT returns"
unlike "$out" "WARNING|ERROR" "... without a WARNING"
out=$(p "SELECT mc_set('px:inv1', 'v')" "BEGIN" "SELECT mc_delete_on_commit('px:inv1')" "ROLLBACK" \
	"SELECT mc_get('px:inv1')")
is "$(tail -n 1 <<<"$out")" "v" "a rolled-back mc_delete_on_commit deletes nothing"
q "CREATE TABLE px_users (id int PRIMARY KEY, name text)" \
	"CREATE TRIGGER px_inv AFTER INSERT OR UPDATE OR DELETE ON px_users
	   FOR EACH ROW EXECUTE FUNCTION mc_invalidate('px:user:{id}')" \
	"INSERT INTO px_users VALUES (1, 'ann')" >/dev/null
out=$(p "SELECT mc_set('px:user:1', 'ann')" "UPDATE px_users SET name = 'bea' WHERE id = 1" \
	"SELECT mc_get('px:user:1') IS NULL")
is "$(tail -n 1 <<<"$out")" "t" "the mc_invalidate trigger empties the cached row at commit"

# ---- what twemproxy does not support fails at once, saying so ----
t0=$(now_ms)
out=$(p "SELECT count(*) FROM mc_stats()")
ms=$(($(now_ms) - t0))
like "$out" "ERROR:  memcached server $PROXY returned no statistics" "mc_stats() through the proxy is an ERROR"
like "$out" "HINT:  .*twemproxy" "... whose hint names proxies"
like "$(q '\set VERBOSITY verbose' "SET pylibmc_pg.servers = '$PROXY'" "SELECT 1 FROM mc_stats()")" \
	"ERROR:  0A000: " "... SQLSTATE 0A000 (feature not supported)"
between "$ms" 0 1500 "... at once (${ms} ms)"
t0=$(now_ms)
out=$(p "SELECT mc_flush_all()")
ms=$(($(now_ms) - t0))
like "$out" "ERROR:  memcached server $PROXY closed the connection instead of answering flush_all" \
	"mc_flush_all() through the proxy is an ERROR that says the server did not answer"
like "$out" "HINT:  .*twemproxy" "... whose hint names proxies"
between "$ms" 0 1500 "... at once (${ms} ms)"
is "$(p "SELECT mc_get('px:m2')")" "two" "the flush_all did not reach the memcacheds behind the proxy"
is "$(q "SET pylibmc_pg.servers = '$PROXY'" "SET pylibmc_pg.on_error = 'ignore'" \
	"SELECT mc_flush_all()" 2>&1 | head -n 1)" \
	"ERROR:  memcached server $PROXY closed the connection instead of answering flush_all" \
	"... an ERROR even with on_error = 'ignore' (not a failure that could be a miss)"

tap_done
