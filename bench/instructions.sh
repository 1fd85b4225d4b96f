#!/usr/bin/env bash
#
# bench/instructions.sh: instructions per call, counted by callgrind, for
# mc_get, mc_set and mc_get_multi against pgmemcache's memcache_get,
# memcache_set and memcache_get_multi.
#
#   bench/instructions.sh            (or BENCH_CASES=instructions bench/run.sh)
#
# Each case is one `postgres --single` backend (a private initdb'd data
# directory, so no other session runs in it) under
# `valgrind --tool=callgrind --toggle-collect=FUNCTION`: only instructions
# executed inside the SQL-callable C function and what it calls are
# counted (inclusive), over INSTR_CALLS calls in one statement, divided by
# INSTR_CALLS.  Before the statement, another function of the same
# extension opens the connection and writes the keys, so no connect is
# counted; the first call's own set-up (a type lookup, fn_extra) is, spread
# over the calls (a few instructions per call at 20,000).  Same input, same
# count: the figures move only by the few instructions a poll() that finds
# the reply not yet there adds.
#
# get: one 100-byte value; set: the same value; get_multi: INSTR_KEYS
# keys of 100 bytes, all hits.  ASCII and binary protocol for both
# (pgmemcache with pgmemcache.default_behavior=BINARY_PROTOCOL:0 for ASCII).
# mc_cached hits against mc_get hits of the same key, text and jsonb (the
# as_type forms), both protocols: instructions-cached.csv.
# pylibmc_pg as installed by default (not in shared_preload_libraries); one
# more row counts the ASCII mc_get with it preloaded, where each call is also
# added to the cluster-wide counters.
#
# Writes INSTR_OUT (default bench/results): instructions.md, instructions.csv,
# instructions-cached.csv.
#
# Environment: INSTR_CALLS=20000, INSTR_KEYS=10, INSTR_OUT=DIR, INSTR_KEEP=1
# (keep each callgrind.FUNCTION.PROTOCOL file in INSTR_OUT, for
# callgrind_annotate --inclusive=yes); PMC_SKIP_APT=1,
# PMC_SKIP_BUILD=1 as for tools/test.sh.  Reuses the environment when PGHOST
# and PMC_TCP are set (inside bench/run.sh or a sourced env.sh).
set -euo pipefail

# awk: th(N) writes N with thousands separators (12,345), for the tables
AWK_THOUSANDS='function th(n,  s) { s = ""; while (n >= 1000) { s = sprintf(",%03d", n % 1000) s; n = int(n / 1000) } return n s }'

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tools/lib/common.sh
source "$BENCH_DIR/../tools/lib/common.sh"

CALLS=${INSTR_CALLS:-20000}
NKEYS=${INSTR_KEYS:-10}
OUT=${INSTR_OUT:-$BENCH_DIR/results}
IWORK=""

command -v valgrind >/dev/null || pmc_die "valgrind is missing (Debian package valgrind)"

instr_cleanup() {
	if [[ -n "$IWORK" && -d "$IWORK" ]]; then
		case "$IWORK" in /tmp/pmc-instr.??????) rm -rf "$IWORK" ;; esac
	fi
	IWORK=""
}
# shellcheck disable=SC2317 # called by the harness's EXIT trap
instr_exit_hook() {
	instr_cleanup
	return "$1"
}

if [[ -n "${PGHOST:-}" && -n "${PMC_TCP:-}" ]]; then
	PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
	trap 'instr_cleanup' EXIT
else
	pmc_install_traps instr_exit_hook
	pmc_setup tcp
fi

IWORK=$(mktemp -d /tmp/pmc-instr.XXXXXX)
chmod 755 "$IWORK"
mkdir -p "$OUT"
ILOG="$IWORK/instr.log"
: >"$ILOG"
chown postgres "$IWORK" "$ILOG"

pmc_step "instructions: initdb of a private data directory for postgres --single"
runuser -u postgres -- "$PG_BINDIR/initdb" -D "$IWORK/data" -A trust -E UTF8 --locale=C.UTF-8 >>"$ILOG" 2>&1 ||
	pmc_die "initdb failed" "$ILOG"

# single DB SQL [OPTIONS...]: run SQL (one statement per line) in a
# postgres --single backend, output to the log
single() {
	local db=$1 sql=$2
	shift 2
	runuser -u postgres -- "$PG_BINDIR/postgres" --single -D "$IWORK/data" "$@" "$db" \
		<<<"$sql" >>"$ILOG" 2>&1 || pmc_die "postgres --single failed" "$ILOG"
}
single postgres "CREATE DATABASE ipmc
CREATE DATABASE ipgm"
single ipmc "CREATE EXTENSION pylibmc_pg"
single ipgm "CREATE EXTENSION pgmemcache"

V100=$(printf 'v%.0s' $(seq 1 100))
pmc_keys() { # PREFIX: a text[] literal of NKEYS keys
	local i s="{"
	for ((i = 0; i < NKEYS; i++)); do s+="$( ((i)) && echo ,)$1$i"; done
	echo "$s}"
}

# count FUNCTION DB SQL OPTIONS...: instructions per call of FUNCTION
count() {
	local fn=$1 db=$2 sql=$3 out
	shift 3
	out="$IWORK/cg.$fn.$RANDOM"
	runuser -u postgres -- valgrind --tool=callgrind --callgrind-out-file="$out" \
		--toggle-collect="$fn" --dump-instr=no --compress-strings=no \
		"$PG_BINDIR/postgres" --single -D "$IWORK/data" "$@" "$db" \
		<<<"$sql" >>"$ILOG" 2>&1 || pmc_die "callgrind run of $fn failed" "$ILOG"
	callgrind_annotate "$out" 2>>"$ILOG" | awk -v n="$CALLS" '/PROGRAM TOTALS/ { gsub(",", "", $1); printf "%d\n", $1 / n; exit }'
	if [[ -n "${INSTR_KEEP:-}" ]]; then cp "$out" "$OUT/callgrind.$fn.$proto"; fi
	rm -f "$out"
}

# the default installation: not in shared_preload_libraries (the
# cluster-wide counters off); one more row below counts mc_get preloaded
PMC_OPT=(-c "pylibmc_pg.servers=$PMC_TCP")
# proto_opts ascii|binary: popt and gopt, the backend options of each extension
proto_opts() {
	local bin=off
	local -a pgmb=(-c pgmemcache.default_behavior=BINARY_PROTOCOL:0)
	[[ $1 == ascii ]] || bin=on pgmb=()
	popt=("${PMC_OPT[@]}" -c "pylibmc_pg.binary_protocol=$bin")
	gopt=(-c "pgmemcache.default_servers=$PMC_TCP" "${pgmb[@]}")
}
CSV="$OUT/instructions.csv"
echo "operation,protocol,pylibmc_pg,pgmemcache" >"$CSV"
for proto in ascii binary; do
	proto_opts "$proto"
	pk=$(pmc_keys "instr.pmc.m") gk=$(pmc_keys "instr.pgm.m")
	pmc_step "instructions: $proto, $CALLS calls each"

	a=$(count pylibmc_pg_get ipmc "SELECT mc_set('instr.pmc.v', '$V100')
SELECT count(mc_get('instr.pmc.v')) FROM generate_series(1, $CALLS)" "${popt[@]}")
	b=$(count memcache_get ipgm "SELECT memcache_set('instr.pgm.v', '$V100'::text)
SELECT count(memcache_get('instr.pgm.v'::text)) FROM generate_series(1, $CALLS)" "${gopt[@]}")
	echo "mc_get 100 B,$proto,$a,$b" >>"$CSV"
	[[ $proto == ascii ]] && pgm_ascii_get=$b

	a=$(count pylibmc_pg_set ipmc "SELECT mc_get('instr.pmc.v')
SELECT count(mc_set('instr.pmc.s', '$V100'::text)) FROM generate_series(1, $CALLS)" "${popt[@]}")
	b=$(count memcache_set ipgm "SELECT memcache_get('instr.pgm.v'::text)
SELECT count(memcache_set('instr.pgm.s'::text, '$V100'::text)) FROM generate_series(1, $CALLS)" "${gopt[@]}")
	echo "mc_set 100 B,$proto,$a,$b" >>"$CSV"

	a=$(count pylibmc_pg_get_multi ipmc "SELECT count(mc_set(k, '$V100')) FROM unnest('$pk'::text[]) k
SELECT count(*) FROM generate_series(1, $CALLS) g, LATERAL mc_get_multi(CASE WHEN g > 0 THEN '$pk'::text[] END) m" "${popt[@]}")
	b=$(count memcache_get_multi ipgm "SELECT count(memcache_set(k, '$V100'::text)) FROM unnest('$gk'::text[]) k
SELECT count(*) FROM generate_series(1, $CALLS) g, LATERAL memcache_get_multi(CASE WHEN g > 0 THEN '$gk'::text[] END) m" "${gopt[@]}")
	echo "mc_get_multi $NKEYS x 100 B,$proto,$a,$b" >>"$CSV"
done
# mc_cached hits against mc_get hits of the same key, text and jsonb (the
# as_type forms): the query and its arguments are given, as an application
# would, but only read on a miss
CCSV="$OUT/instructions-cached.csv"
echo "operation,protocol,mc_get,mc_cached" >"$CCSV"
JV='{"a": "'$(printf 'j%.0s' $(seq 1 90))'"}'
CQ="'SELECT v FROM items WHERE id = \$1', ARRAY['1']"
single ipmc "CREATE TABLE items (id int PRIMARY KEY, v text NOT NULL)
INSERT INTO items VALUES (1, 'item 1')" "${PMC_OPT[@]}"
for proto in ascii binary; do
	proto_opts "$proto"
	pmc_step "instructions: mc_cached against mc_get, $proto"
	cset="SELECT mc_set('instr.pmc.v', '$V100')
SELECT mc_set('instr.pmc.j', '$JV'::jsonb)"
	a=$(count pylibmc_pg_get ipmc "$cset
SELECT count(mc_get('instr.pmc.v')) FROM generate_series(1, $CALLS)" "${popt[@]}")
	b=$(count pylibmc_pg_cached ipmc "$cset
SELECT count(mc_cached('instr.pmc.v', $CQ)) FROM generate_series(1, $CALLS)" "${popt[@]}")
	echo "hit 100 B text,$proto,$a,$b" >>"$CCSV"
	a=$(count pylibmc_pg_get ipmc "$cset
SELECT count(mc_get('instr.pmc.j', NULL::jsonb)) FROM generate_series(1, $CALLS)" "${popt[@]}")
	b=$(count pylibmc_pg_cached ipmc "$cset
SELECT count(mc_cached('instr.pmc.j', NULL::jsonb, $CQ)) FROM generate_series(1, $CALLS)" "${popt[@]}")
	echo "hit 100 B jsonb (as_type),$proto,$a,$b" >>"$CCSV"
done
# the same ASCII mc_get with pylibmc_pg in shared_preload_libraries: every
# call also counted in the cluster-wide counters (mc_cluster_stats)
proto_opts ascii
a=$(count pylibmc_pg_get ipmc "SELECT mc_set('instr.pmc.v', '$V100')
SELECT count(mc_get('instr.pmc.v')) FROM generate_series(1, $CALLS)" -c shared_preload_libraries=pylibmc_pg "${popt[@]}")
echo "mc_get 100 B preloaded (cluster-wide counters),ascii,$a,$pgm_ascii_get" >>"$CSV"
# every call must have hit: the log holds the counts the statements returned
hits=$(grep -c "count = \"$((CALLS * NKEYS))\"\|count = \"$CALLS\"" "$ILOG" || true)
((hits == 21)) || pmc_die "expected 21 statements of $CALLS calls that all hit, found $hits" "$ILOG"

# Syscalls per call (strace -c -f on postgres --single, no valgrind): the
# same statements at CALLS and 2 x CALLS calls, the difference / CALLS, so
# start-up and connection syscalls cancel out.  "name xN" per syscall.
syscalls() { # DB SQL-WITH-@N@ OPTIONS...
	local db=$1 sql=$2 n out a b
	shift 2
	for n in "$CALLS" $((CALLS * 2)); do
		out="$IWORK/st.$n"
		strace -f -c -o "$out" runuser -u postgres -- "$PG_BINDIR/postgres" --single -D "$IWORK/data" "$@" "$db" \
			<<<"${sql//@N@/$n}" >>"$ILOG" 2>&1 || pmc_die "strace run failed" "$ILOG"
	done
	awk -v n="$CALLS" '
		FNR == 1 { f++ }
		$NF ~ /^[a-z_0-9]+$/ && $(NF - 1) ~ /^[0-9]+$/ && $NF != "total" && $NF != "syscall" {
			calls = ($(NF - 2) ~ /^[0-9]+$/ && NF == 6) ? $(NF - 2) : $(NF - 1)
			c[f, $NF] = calls; names[$NF] = 1
		}
		END {
			for (s in names) { d = (c[2, s] - c[1, s]) / n; if (d >= 0.05) { printf "%s%s x%.1f", sep, s, d; sep = ", "; t += d } }
			printf "|%.1f\n", t
		}' "$IWORK/st.$CALLS" "$IWORK/st.$((CALLS * 2))"
}
SCSV="$OUT/syscalls.csv"
echo "operation,protocol,client,per_call,syscalls" >"$SCSV"
for proto in ascii binary; do
	proto_opts "$proto"
	r=$(syscalls ipmc "SELECT mc_set('instr.pmc.v', '$V100')
SELECT count(mc_get('instr.pmc.v')) FROM generate_series(1, @N@)" "${popt[@]}")
	echo "mc_get 100 B,$proto,pylibmc_pg,${r#*|},\"${r%|*}\"" >>"$SCSV"
	r=$(syscalls ipgm "SELECT memcache_set('instr.pgm.v', '$V100'::text)
SELECT count(memcache_get('instr.pgm.v'::text)) FROM generate_series(1, @N@)" "${gopt[@]}")
	echo "mc_get 100 B,$proto,pgmemcache,${r#*|},\"${r%|*}\"" >>"$SCSV"
done

{
	echo "## Instructions per call (callgrind)"
	echo
	echo "valgrind --tool=callgrind --toggle-collect=FUNCTION on postgres --single, $CALLS calls in one statement,"
	echo "instructions inside the SQL-callable C function (inclusive) per call; memcached $(memcached -V | awk '{ print $2 }') over TCP;"
	echo "checkout $(git -C "$BENCH_DIR/.." rev-parse --short HEAD 2>/dev/null || echo unknown); $(date -u '+%F %H:%M UTC'). Command: bench/instructions.sh"
	echo
	echo "| operation | protocol | pylibmc_pg | pgmemcache | ratio |"
	echo "|---|---|---:|---:|---:|"
	tail -n +2 "$CSV" | awk -F, "$AWK_THOUSANDS"'
		{ printf "| %s | %s | %s | %s | %.2fx |\n", $1, $2, th($3), th($4), $3 / $4 }'
	echo
	echo "mc_cached hits against mc_get hits of the same key (the query and its arguments given, read only on a miss):"
	echo
	echo "| hit | protocol | mc_get | mc_cached | ratio |"
	echo "|---|---|---:|---:|---:|"
	tail -n +2 "$CCSV" | awk -F, "$AWK_THOUSANDS"'
		{ printf "| %s | %s | %s | %s | %.3fx |\n", $1, $2, th($3), th($4), $4 / $3 }'
	echo
	echo "Syscalls per call (strace -c -f on postgres --single, ($((CALLS * 2)) calls - $CALLS calls) / $CALLS):"
	echo
	echo "| operation | protocol | client | syscalls per call | which |"
	echo "|---|---|---|---:|---|"
	tail -n +2 "$SCSV" | awk -F, '{ w = $0; sub(/^[^"]*"/, "", w); sub(/"$/, "", w); printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, w }'
} >"$OUT/instructions.md"
pmc_step "instructions: $OUT/instructions.md"
cat "$OUT/instructions.md"
