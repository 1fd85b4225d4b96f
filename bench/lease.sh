#!/usr/bin/env bash
#
# bench/lease.sh: what leases cost and save, side by side.
#   1. hits: the TPS of mc_cached on a cached key against a plain mc_get of
#      it (pgbench, one client, interleaved A B A B ..., the median), over
#      both protocols;
#   2. round trips: the requests a backend sends to memcached (its send
#      syscalls, counted with strace as test/exchange/packets.t does) for a
#      hit and a miss, mc_cached against mc_get and mc_get + mc_add;
#   3. the herd: 32 sessions started together on one missing key whose
#      query takes 100 ms, the query's executions with mc_cached and with
#      mc_get + query + mc_add (counted by the query itself, in memcached).
#
#   bench/lease.sh
#
# Uses the environment of ./tools/test.sh or a sourced dev env.sh (PGHOST,
# PG_BINDIR, PMC_TCP) with the extension installed, or else makes the
# harness's throwaway set-up (tools/lib/common.sh: build, install, one
# memcached, a scratch cluster) and tears it down at the end; on the shared
# machine run it under the test lock:
#   flock /tmp/pmc-test.lock env PMC_SKIP_APT=1 bench/lease.sh
# Writes BENCH_OUT/lease.md (default: a temporary file, printed).
#
# Environment: BENCH_SECS=5, BENCH_PAIRS=3, BENCH_HERD=32, BENCH_HERD_ROUNDS=3.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tools/lib/common.sh
source "$BENCH_DIR/../tools/lib/common.sh"
if [[ -z "${PGHOST:-}" || -z "${PMC_TCP:-}" ]]; then
	pmc_install_traps
	pmc_setup tcp
fi
PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
command -v strace >/dev/null || { echo "strace is missing (Debian package strace)" >&2; exit 1; }

SECS=${BENCH_SECS:-5}
PAIRS=${BENCH_PAIRS:-3}
HERD=${BENCH_HERD:-32}
HERD_ROUNDS=${BENCH_HERD_ROUNDS:-3}
PSQL=("$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1)
DB=bench_lease
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pmc-bench-lease.XXXXXX")
chmod 0755 "$WORK"
OUT=${BENCH_OUT:-$WORK}/lease.md
mkdir -p "$(dirname "$OUT")"

"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" >/dev/null
export PGOPTIONS="-c pylibmc_pg.servers=$PMC_TCP"
"${PSQL[@]}" -d "$DB" >/dev/null <<'EOF'
CREATE EXTENSION pylibmc_pg;
CREATE TABLE items (id int PRIMARY KEY, v text NOT NULL);
INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 1000) g;
CREATE FUNCTION herd_plain() RETURNS text LANGUAGE plpgsql AS $$
DECLARE v text;
BEGIN
  v := mc_get('herd:plain');
  IF v IS NULL THEN
    SELECT i.v INTO v FROM items i, pg_sleep(0.1), mc_incr('herd:runs') WHERE id = 1;
    PERFORM mc_add('herd:plain', v);
  END IF;
  RETURN v;
END $$;
VACUUM ANALYZE;
EOF

median() { tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# ---- 1. hits ----
printf '\\set k random(1, 1000)\nSELECT mc_get(%s || :k);\n' "'bl:'" >"$WORK/get.sql"
printf '\\set k random(1, 1000)\nSELECT mc_cached(%s || :k, %s, ARRAY[:k]::text[]);\n' "'bl:'" \
	"'SELECT v FROM items WHERE id = \$1'" >"$WORK/cached.sql"
declare -A HIT=()
for proto in off on; do
	export PGOPTIONS="-c pylibmc_pg.servers=$PMC_TCP -c pylibmc_pg.binary_protocol=$proto"
	"${PSQL[@]}" -d "$DB" -c "SELECT mc_flush_all()" \
		-c "SELECT count(mc_cached('bl:' || id, 'SELECT v FROM items WHERE id = \$1', ARRAY[id::text])) FROM items" >/dev/null
	for round in $(seq 1 "$PAIRS"); do
		declare -A pair=()
		for v in get cached; do
			tps=$("$PG_BINDIR/pgbench" -n -M prepared -c 1 -T "$SECS" -f "$WORK/$v.sql" "$DB" 2>&1 |
				sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1)
			HIT[$proto.$v]+="$tps "
			pair[$v]=$tps
			echo "binary_protocol=$proto round $round: $v hit $tps tps"
		done
		HIT[$proto.ratio]+="$(awk -v a="${pair[cached]}" -v b="${pair[get]}" 'BEGIN { printf "%.3f", a / b }') "
	done
done

# ---- 2. round trips, counted with strace ----
# traced PROTO SQL: the send syscalls that carry a memcached request while
# SQL runs in a session of its own (the backend's replies to psql carry none)
traced() {
	local proto=$1 sql=$2 trace="$WORK/trace"
	: >"$trace"
	PGOPTIONS="-c pylibmc_pg.servers=$PMC_TCP -c pylibmc_pg.binary_protocol=$proto" \
		"${PSQL[@]}" -At -d "$DB" >/dev/null <<EOF
SELECT pg_backend_pid() AS pid \gset
\setenv BENCH_BACKEND :pid
SELECT mc_get('warm-up') IS NULL;
\! (strace -qq -e trace=sendto,sendmsg,write,writev -s 8 -o $trace -p \$BENCH_BACKEND 2>/dev/null & echo \$! >$trace.pid); sleep 0.5
$sql
\! sleep 0.2; kill \$(cat $trace.pid); sleep 0.2
EOF
	if [[ $proto == on ]]; then
		grep -cE '^(sendto|sendmsg|write|writev)\(.*"\\200' "$trace" || true
	else
		grep -cE '^(sendto|sendmsg|write|writev)\(.*"(get|gets|add|cas|set|delete) ' "$trace" || true
	fi
}
declare -A RT=()
for proto in off on; do
	export PGOPTIONS="-c pylibmc_pg.servers=$PMC_TCP -c pylibmc_pg.binary_protocol=$proto"
	"${PSQL[@]}" -d "$DB" -c "SELECT mc_flush_all()" \
		-c "SELECT count(mc_set('rt:hit' || g, 'v')) FROM generate_series(1, 10) g" >/dev/null
	RT[$proto.get_hit]=$(traced $proto "SELECT count(mc_get('rt:hit' || g)) FROM generate_series(1, 10) g;")
	RT[$proto.cached_hit]=$(traced $proto "SELECT count(mc_cached('rt:hit' || g, 'SELECT 1')) FROM generate_series(1, 10) g;")
	RT[$proto.get_add_miss]=$(traced $proto "SELECT count(*) FROM generate_series(1, 10) g WHERE mc_get('rt:a' || g) IS NULL AND mc_add('rt:a' || g, 'v');")
	RT[$proto.cached_miss]=$(traced $proto "SELECT count(mc_cached('rt:c' || g, 'SELECT ''v''')) FROM generate_series(1, 10) g;")
	echo "binary_protocol=$proto requests for 10 calls: get hit ${RT[$proto.get_hit]}, cached hit ${RT[$proto.cached_hit]}, get+add miss ${RT[$proto.get_add_miss]}, cached miss ${RT[$proto.cached_miss]}"
done

# ---- 3. the herd ----
# herd CALL: HERD sessions released together run CALL; the query's runs
herd() {
	local call=$1 i
	export PGOPTIONS="-c pylibmc_pg.servers=$PMC_TCP -c pylibmc_pg.lease_wait=5000"
	"${PSQL[@]}" -d "$DB" -c "SELECT mc_flush_all()" -c "SELECT mc_set('herd:runs', 0::bigint)" >/dev/null
	"${PSQL[@]}" -d "$DB" -c "SELECT pg_advisory_lock(4242), pg_sleep(1.5)" >/dev/null &
	local gate=$!
	sleep 0.5
	local pids=()
	for ((i = 0; i < HERD; i++)); do
		"${PSQL[@]}" -At -d "$DB" -c "SELECT pg_advisory_lock_shared(4242), pg_advisory_unlock_shared(4242)" \
			-c "$call" >"$WORK/herd.$i" 2>&1 &
		pids+=($!)
	done
	wait "$gate" "${pids[@]}"
	local ok
	ok=$(cat "$WORK"/herd.* | grep -c '^item 1$' || true)
	[[ $ok == "$HERD" ]] || echo "herd: only $ok of $HERD sessions returned the value" >&2
	"${PSQL[@]}" -At -d "$DB" -c "SELECT mc_get('herd:runs')"
}
HERD_CACHED="" HERD_PLAIN=""
for round in $(seq 1 "$HERD_ROUNDS"); do
	c=$(herd "SELECT mc_cached('herd:c', 'SELECT i.v FROM items i, pg_sleep(0.1), mc_incr(''herd:runs'') WHERE id = \$1', ARRAY['1'])")
	p=$(herd "SELECT herd_plain()")
	HERD_CACHED+="$c " HERD_PLAIN+="$p "
	echo "herd round $round: mc_cached $c runs, mc_get + mc_add $p runs"
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
{
	echo "# Leases: bench/lease.sh"
	echo
	echo "PostgreSQL $("$PG_BINDIR/postgres" --version | awk '{print $3}'), memcached on TCP loopback, $(nproc) cores (shared);"
	echo "pgbench one client, prepared statements (the SQL text of the two calls differs: parsing is not what is"
	echo "compared), ${SECS} s runs interleaved (mc_get, then mc_cached: one pair), $PAIRS pairs."
	echo
	echo "## Hits: mc_cached against mc_get (1000 cached keys, random)"
	echo
	echo "| protocol | mc_get TPS (median) | mc_cached TPS (median) | ratio of each pair | median ratio |"
	echo "|---|---|---|---|---|"
	for proto in off on; do
		g=$(median "${HIT[$proto.get]}") c=$(median "${HIT[$proto.cached]}")
		echo "| $([[ $proto == on ]] && echo binary || echo ASCII) | $g | $c | ${HIT[$proto.ratio]}| $(median "${HIT[$proto.ratio]}") |"
	done
	echo
	echo "## Requests to memcached for 10 calls (strace, the backend's sends)"
	echo
	echo "| protocol | mc_get hit | mc_cached hit | mc_get + mc_add miss | mc_cached miss |"
	echo "|---|---|---|---|---|"
	for proto in off on; do
		echo "| $([[ $proto == on ]] && echo binary || echo ASCII) | ${RT[$proto.get_hit]} | ${RT[$proto.cached_hit]} | ${RT[$proto.get_add_miss]} | ${RT[$proto.cached_miss]} |"
	done
	echo
	echo "## The herd: $HERD sessions on one missing key, a 100 ms query"
	echo
	echo "| | the query's executions, per round |"
	echo "|---|---|"
	echo "| mc_cached | $HERD_CACHED|"
	echo "| mc_get + query + mc_add | $HERD_PLAIN|"
} >"$OUT"
"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
cat "$OUT"
