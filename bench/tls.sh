#!/usr/bin/env bash
#
# bench/tls.sh: what TLS through a client-side stunnel4 tunnel costs a get
# and a set, side by side with plain TCP (doc/operations.md, "Encryption in
# transit (stunnel)").
#
#   bench/tls.sh
#
# Two memcached 1.6 with the same settings (-m 64 -t 4): one plain, one with
# TLS (-Z, a certificate of a CA made here, test/tls/lib.sh), reached through
# stunnel4 in client mode with the chain and the host name verified. In one
# backend, rounds interleaved (plain, tunnel, plain, tunnel, ...):
#   - get: BENCH_N mc_get of a 100-byte text value in one statement, the
#     time per call (the statement's time / BENCH_N)
#   - set: the same with mc_set
#   - connect: BENCH_CONNECTS times mc_disconnect_all() then mc_get(): a new
#     connection per call (through the tunnel: a new TLS session between
#     stunnel and memcached)
#   - pgbench: one client, `SELECT mc_get(...)` per transaction (-M
#     prepared), BENCH_SECS seconds: what an application sees per statement
# The medians go to BENCH_OUT/tls.md (default bench/results).
#
# Uses the installed extension and the harness's throwaway set-up
# (tools/lib/common.sh), or the environment of ./tools/test.sh / env.sh
# when PGHOST and PMC_TCP are set. Runs as root (memcached runs as
# memcache). Environment: BENCH_N=20000, BENCH_CONNECTS=500, BENCH_SECS=5,
# BENCH_PAIRS=5, BENCH_OUT; PMC_SKIP_APT=1, PMC_SKIP_BUILD=1, PMC_KEEP=1 as
# for tools/test.sh.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tools/lib/common.sh
source "$BENCH_DIR/../tools/lib/common.sh"
# shellcheck source=test/tls/lib.sh
source "$BENCH_DIR/../test/tls/lib.sh"
PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}

N=${BENCH_N:-20000}
CONNECTS=${BENCH_CONNECTS:-500}
SECS=${BENCH_SECS:-5}
PAIRS=${BENCH_PAIRS:-5}
OUT=${BENCH_OUT:-$BENCH_DIR/results}/tls.md
PSQL=("$PG_BINDIR/psql" -X -q -At -v ON_ERROR_STOP=1)
DB=bench_tls

bench_tls_cleanup() {
	tls_stop_all
	pmc_mc_stop bench-plain >/dev/null 2>&1 || true
	"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
}
# on exit: stop our servers, then (our own set-up) the harness's, keeping the status
OWN_SETUP=0
bench_tls_exit() {
	local rc=$?
	set +e
	bench_tls_cleanup
	if ((OWN_SETUP)); then
		(exit "$rc")
		pmc__on_exit
	fi
	exit "$rc"
}
if [[ -z "${PGHOST:-}" || -z "${PMC_TCP:-}" ]]; then
	OWN_SETUP=1
	pmc_install_traps
	trap bench_tls_exit EXIT
	pmc_setup tcp
else
	trap bench_tls_exit EXIT
fi
tls_dir "$PMC_SCRATCH/bench-tls"

tls_ca ca
tls_cert server ca mc.bench.test
PLAIN=$(pmc_mc_start bench-plain -m 64 -t 4)
TLS_MC=$(tls_memcached mc server -m 64 -t 4)
TUN=$(tls_tunnel tun "$TLS_MC" ca mc.bench.test)
echo "plain memcached $PLAIN; memcached -Z $TLS_MC behind stunnel4 at $TUN"

"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" >/dev/null
"${PSQL[@]}" -d "$DB" -c "CREATE EXTENSION pylibmc_pg" >/dev/null

# per_call SERVERS SQL: µs per call of SQL run $N times in one statement
per_call() {
	"${PSQL[@]}" -d "$DB" -c "SET pylibmc_pg.servers = '$1'" -c "SELECT mc_set('bench.tls', repeat('x', 100))" \
		-c "SELECT mc_get('bench.tls')" -c BEGIN \
		-c "SELECT count($2) FROM generate_series(1, $N) i" \
		-c "SELECT round((extract(epoch FROM clock_timestamp() - now()) * 1e6 / $N)::numeric, 2)" -c COMMIT | tail -1
}

# per_connect SERVERS: µs per get on a new connection
per_connect() {
	"${PSQL[@]}" -d "$DB" -c "SET pylibmc_pg.servers = '$1'" -c "SELECT mc_get('bench.tls')" -c BEGIN \
		-c "DO \$\$ BEGIN FOR i IN 1..$CONNECTS LOOP PERFORM mc_disconnect_all(); PERFORM mc_get('bench.tls'); END LOOP; END \$\$" \
		-c "SELECT round((extract(epoch FROM clock_timestamp() - now()) * 1e6 / $CONNECTS)::numeric, 2)" -c COMMIT | tail -1
}

# per_statement SERVERS: µs per pgbench transaction (one mc_get)
per_statement() {
	echo "SELECT mc_get('bench.tls');" >"$TLS_DIR/get.sql"
	PGOPTIONS="-c pylibmc_pg.servers=$1" "$PG_BINDIR/pgbench" -n -M prepared -c 1 -T "$SECS" -f "$TLS_DIR/get.sql" "$DB" \
		>"$TLS_DIR/pgbench.log" 2>&1 || { cat "$TLS_DIR/pgbench.log" >&2; return 1; }
	sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$TLS_DIR/pgbench.log" | awk '{ printf "%.2f\n", 1e6 / $1 }'
}

declare -A R=()
for round in $(seq 1 "$PAIRS"); do
	for via in plain tunnel; do
		if [[ $via == plain ]]; then s=$PLAIN; else s=$TUN; fi
		R[get-$via]+="$(per_call "$s" "mc_get('bench.tls')") "
		R[set-$via]+="$(per_call "$s" "mc_set('bench.tls', repeat('x', 100))") "
		R[connect-$via]+="$(per_connect "$s") "
		R[statement-$via]+="$(per_statement "$s") "
		echo "round $round $via: get ${R[get-$via]##* } set ... (so far: get ${R[get-$via]}| set ${R[set-$via]}| connect ${R[connect-$via]}| statement ${R[statement-$via]})"
	done
done

median() { tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
row() {
	local what=$1 label=$2 p t
	p=$(median "${R[$what-plain]}")
	t=$(median "${R[$what-tunnel]}")
	printf '| %s | %s | %s | %s | %s |\n' "$label" "$p" "$t" \
		"$(awk -v p="$p" -v t="$t" 'BEGIN { printf "%+.2f", t - p }')" \
		"$(awk -v p="$p" -v t="$t" 'BEGIN { printf "%.2fx", t / p }')"
}

mkdir -p "$(dirname "$OUT")"
{
	echo "# TLS through stunnel4 against plain TCP"
	echo
	echo "\`bench/tls.sh\`, $(date -u '+%Y-%m-%d'), $(nproc) cores (shared with other work), memcached $(memcached -V | awk '{print $2}')," \
		"$(stunnel4 -version 2>&1 | grep -m1 '^stunnel' | awk '{print "stunnel " $2}'), $(openssl version | awk '{print "OpenSSL " $2}')," \
		"PostgreSQL $("${PSQL[@]}" -d "$DB" -c 'SHOW server_version' | awk '{print $1}'). Medians of $PAIRS interleaved rounds;"
	echo "a 100-byte text value; one backend, one connection per server; everything on loopback."
	echo
	echo "| µs per call | plain TCP | stunnel + TLS | difference | ratio |"
	echo "|---|---|---|---|---|"
	row get "mc_get, $N in one statement"
	row set "mc_set, $N in one statement"
	row connect "mc_get on a new connection (mc_disconnect_all() first), $CONNECTS times"
	row statement "one \`SELECT mc_get(...)\` per transaction, pgbench -M prepared, 1 client, ${SECS} s"
	echo
	echo "Every round (µs):"
	echo
	for k in get set connect statement; do
		echo "- $k: plain ${R[$k-plain]% }; tunnel ${R[$k-tunnel]% }"
	done
} >"$OUT"
cat "$OUT"
