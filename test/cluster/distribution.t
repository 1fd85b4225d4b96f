#!/usr/bin/env bash
#
# test/cluster/distribution.t: several servers, libmemcached's distribution
# through pylibmc_pg.behaviors, on private memcacheds (the shared fleet stays
# intact).  Keys are counted per server exactly: each server alone is asked
# for all the keys with one get_multi.
#
#   - modula (the default): 3000 keys within 10% of even;
#   - ketama=true: within 10% of even, and the placement is exactly
#     pylibmc's: pylibmc with the same servers and behaviors reads every key
#     SQL wrote.  Ketama's continuum points come from the "host:port"
#     strings, so its spread over three servers is a property of their
#     names: about 8% (one standard deviation) per server, from name set to
#     name set.  With random ports, 10% failed for about a quarter of the
#     port triples.  So the four servers here have fixed names,
#     127.77.0.1-4 on port 41211 (or 41311 if that is taken: both sets were
#     checked with libmemcached's memcached_generate_hash to spread within
#     10%: 41211 by 5.2% and weights by 8.3%, 41311 by 8.6% and 2.6%), and
#     the test is deterministic;
#   - one server down, on_error=ignore: exactly that server's keys are lost,
#     every other read is served, with no WARNING; on_error=error names it;
#   - remove_failed=1 (with retry_timeout=1, dead_timeout=60, pylibmc's
#     failover recipe): writes re-route to the live servers once libmemcached
#     ejects the dead one (after failure_limit = 5 failed retries), what
#     they wrote reads back, and mc_delete_on_commit deletes it at commit;
#   - weights host:port:weight with ketama_weighted=true: shares within 10%
#     of 1:2:3, placement exactly pylibmc's;
#   - a fourth server remaps between 15% and 35% of the keys, and exactly
#     those the fourth server now owns.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=test/fault/lib.sh
source test/fault/lib.sh

tap_plan 29
fault_db pmc_cluster_distribution
# start_fixed PORT: the four servers on 127.77.0.1-4:PORT; false if one
# cannot start (the port is taken), with those already started stopped
start_fixed() {
	local i
	for i in 1 2 3 4; do
		PMC_MC_HOST=127.77.0.$i PMC_MC_PORT=$1 mc_private "C$i" "cluster-dist-$i" -m 16 2>/dev/null && continue
		for ((i = i - 1; i >= 1; i--)); do pmc_mc_stop "cluster-dist-$i" >/dev/null 2>&1; done
		return 1
	done
}
start_fixed 41211 || start_fixed 41311 || { echo "Bail out! cannot start memcached on 127.77.0.1-4:41211 or :41311"; exit 1; }
echo "# servers: $C1 $C2 $C3 $C4"
THREE="$C1,$C2,$C3"
N=3000

# keys PREFIX: the SQL array of PREFIX1..PREFIX$N
keys() { echo "ARRAY(SELECT '$1' || i FROM generate_series(1, $N) i)"; }

# count_on ADDR PREFIX: how many of the keys that server holds
count_on() {
	q "SET pylibmc_pg.servers = '$1'" "SELECT count(*) FROM mc_get_multi($(keys "$2"))"
}

# write SERVERS BEHAVIORS PREFIX: set PREFIX<i> = i for every i; prints the
# number stored
write() {
	q "SET pylibmc_pg.servers = '$1'" "SET pylibmc_pg.behaviors = '$2'" \
		"SELECT count(*) FILTER (WHERE mc_set('$3' || i, i)) FROM generate_series(1, $N) i"
}

# pylibmc_reads SERVERS BEHAVIORS_PY PREFIX: how many keys pylibmc reads
# back with the right value
pylibmc_reads() {
	"$PMC_PYTHON" - "$1" "$2" "$3" "$N" <<'PY'
import sys, json, pylibmc
servers, behaviors, prefix, n = sys.argv[1].split(","), json.loads(sys.argv[2]), sys.argv[3], int(sys.argv[4])
c = pylibmc.Client(servers, behaviors=behaviors)
keys = ["%s%d" % (prefix, i) for i in range(1, n + 1)]
got = c.get_multi(keys)
print(sum(1 for i, k in enumerate(keys, 1) if got.get(k) == i))
PY
}

# ---- modula ----
is "$(write "$THREE" "" dm:)" "$N" "modula: $N keys stored on three servers"
total=0
for i in 1 2 3; do
	addr_var="C$i"
	n=$(count_on "${!addr_var}" dm:)
	between "$n" 900 1100 "modula: server $i holds $n keys (within 10% of 1000)"
	total=$((total + ${n:-0}))
done
is "$total" "$N" "modula: each key is on exactly one server"

# ---- ketama ----
is "$(write "$THREE" "ketama=true" dk:)" "$N" "ketama: $N keys stored"
total=0
declare -A KCOUNT
for i in 1 2 3; do
	addr_var="C$i"
	n=$(count_on "${!addr_var}" dk:)
	KCOUNT[$i]=$n
	between "$n" 900 1100 "ketama: server $i holds $n keys (within 10% of 1000)"
	total=$((total + ${n:-0}))
done
is "$total" "$N" "ketama: each key is on exactly one server"
is "$(pylibmc_reads "$THREE" '{"ketama": true}' dk:)" "$N" \
	"ketama: pylibmc with the same servers finds every key where SQL put it"

# ---- one server down ----
victim_key=$(q "SET pylibmc_pg.servers = '$C2'" "SELECT key FROM mc_get_multi($(keys dk:)) LIMIT 1")
pmc_mc_stop cluster-dist-2
out=$(q "SET pylibmc_pg.servers = '$THREE'" "SET pylibmc_pg.behaviors = 'ketama=true'" \
	"SET pylibmc_pg.on_error = 'ignore'" \
	"SELECT count(*) FILTER (WHERE v = i::text), count(*) FILTER (WHERE v <> i::text)
	   FROM (SELECT i, mc_get('dk:' || i) AS v FROM generate_series(1, $N) i) s")
is "$out" "$((N - ${KCOUNT[2]:-0}))|0" \
	"server 2 down, on_error=ignore: exactly its ${KCOUNT[2]:-?} keys are lost, the rest read right, no WARNING"
out=$(q "SET pylibmc_pg.servers = '$THREE'" "SET pylibmc_pg.behaviors = 'ketama=true'" \
	"SET pylibmc_pg.on_error = 'warning'" \
	"SELECT count(*) FROM mc_get_multi($(keys dk:))")
is "$(grep -c "^WARNING:  could not get several keys on memcached server $C2\$" <<<"$out")|$(tail -n 1 <<<"$out")" \
	"1|$((N - ${KCOUNT[2]:-0}))" \
	"server 2 down, on_error=warning: get_multi returns the other servers' keys and a WARNING naming it"
out=$(q "SET pylibmc_pg.servers = '$THREE'" "SET pylibmc_pg.behaviors = 'ketama=true'" \
	"SELECT count(*) FROM mc_get_multi($(keys dk:))" 2>&1 | head -1)
like "$out" "^ERROR:  could not get several keys on memcached server $C2\$" \
	"server 2 down, on_error=error: get_multi is an ERROR naming it"
out=$(q "SET pylibmc_pg.servers = '$THREE'" "SET pylibmc_pg.behaviors = 'ketama=true'" \
	"SELECT mc_get('$victim_key')")
like "$out" "ERROR:  could not get key \"$victim_key\" on memcached server $C2" \
	"server 2 down, on_error=error: a key it owned is an ERROR naming it"

# ---- remove_failed: writes re-route ----
sess_start
sess "SET pylibmc_pg.servers = '$THREE'; SET pylibmc_pg.behaviors = 'ketama=true, remove_failed=1, retry_timeout=1, dead_timeout=60'; SET pylibmc_pg.on_error = 'ignore'" >/dev/null
first=$(sess "SELECT count(*) FILTER (WHERE mc_set('dr:0:' || i, i)) FROM generate_series(1, 100) i")
between "$first" 1 99 "remove_failed: at first the dead server's share of 100 writes fails ($first stored)"
rerouted="" t0=$(now_ms)
for r in $(seq 1 40); do
	n=$(sess "SELECT count(*) FILTER (WHERE mc_set('dr:$r:' || i, i)) FROM generate_series(1, 100) i")
	if [[ $n == 100 ]]; then rerouted=$r; break; fi
	sleep 0.5
done
ok "$([[ -n $rerouted ]]; echo $?)" "remove_failed: writes re-route to the live servers (after $(( $(now_ms) - t0 )) ms)"
is "$(sess "SELECT count(*) FROM mc_get_multi(ARRAY(SELECT 'dr:${rerouted:-x}:' || i FROM generate_series(1, 100) i))")" 100 \
	"remove_failed: the re-routed keys read back"
# The commit-time batch goes through a second client that has not seen the
# failure yet: keys it would route to the dead server go through the main one.
out=$(sess "BEGIN; SELECT count(mc_delete_on_commit('dr:${rerouted:-x}:' || i)) FROM generate_series(1, 100) i; COMMIT")
unlike "$out" "WARNING" "remove_failed: mc_delete_on_commit of the re-routed keys commits without a WARNING"
is "$(sess "SELECT count(*) FROM mc_get_multi(ARRAY(SELECT 'dr:${rerouted:-x}:' || i FROM generate_series(1, 100) i))")" 0 \
	"remove_failed: ... and deletes every one of them where it was written"
sess_stop
pmc_mc_restart cluster-dist-2 || { echo "Bail out! cannot restart memcached"; exit 1; }

# ---- weights ----
W="$C1:1,$C2:2,$C3:3"
is "$(write "$W" "ketama=true, ketama_weighted=true" dw:)" "$N" "weights 1:2:3: $N keys stored"
for i in 1 2 3; do
	addr_var="C$i"
	n=$(count_on "${!addr_var}" dw:)
	want=$((N * i / 6))
	between "$n" $((want * 9 / 10)) $((want * 11 / 10)) "weights: server $i (weight $i) holds $n keys (within 10% of $want)"
done
is "$(pylibmc_reads "$W" '{"ketama": true, "ketama_weighted": true}' dw:)" "$N" \
	"weights: pylibmc with the same weights finds every key where SQL put it"

# ---- a fourth server ----
is "$(write "$THREE" "ketama=true" da:)" "$N" "ketama: $N keys stored on three servers"
out=$(q "SET pylibmc_pg.servers = '$THREE,$C4'" "SET pylibmc_pg.behaviors = 'ketama=true'" \
	"SELECT count(*) FILTER (WHERE v IS NULL), count(*) FILTER (WHERE v <> i::text)
	   FROM (SELECT i, mc_get('da:' || i) AS v FROM generate_series(1, $N) i) s")
moved=${out%%|*}
between "$moved" $((N * 15 / 100)) $((N * 35 / 100)) "a fourth server remaps $moved of $N keys (15%..35%)"
is "${out#*|}" 0 "... and every key still found reads right"
q "SET pylibmc_pg.servers = '$THREE,$C4'" "SET pylibmc_pg.behaviors = 'ketama=true'" \
	"SELECT count(*) FROM generate_series(1, $N) i WHERE mc_get('da:' || i) IS NULL AND mc_set('da:' || i, i)" >/dev/null
is "$(count_on "$C4" da:)" "$moved" "... exactly the keys the fourth server now owns"

tap_done
