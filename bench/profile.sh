#!/usr/bin/env bash
#
# bench/profile.sh: where a backend's time goes, for the cases whose targets
# bench/run.sh does not meet.
#
#   PMC_SKIP_APT=1 bench/profile.sh
#
# For each case, one pgbench client runs `-M prepared -T PROFILE_SECS`; while
# it runs, the backend serving it is
#   - timed from /proc/PID/stat: user and system CPU per transaction;
#   - sampled by `perf record -e cpu-clock -g` (a software clock: this VM has
#     no hardware counters): the kernel's share, pylibmc_pg.so's share, and
#     the symbols with the most samples.
# Cases: SELECT 1; mc_get and pgmemcache's memcache_get of 100 bytes; the two
# get_multi of 100 keys; mc_set of the two 100 KB compressible values of
# bench/run.sh (a repeated phrase, and bench/jsonvalue.py's JSON) with and
# without compression, and mc_get of the JSON one stored each way (the
# profile has a libdeflate column); the 10,000-row UPDATE with no trigger,
# with the mc_invalidate trigger on a constant key (PostgreSQL's per-row
# AFTER trigger cost plus one queued key), and with mc_invalidate on the
# row's key, and the same transaction timed in psql (statement and COMMIT
# apart).
#
# Uses the installed extension and the harness's throwaway set-up, or the
# environment of a sourced dev env.sh (PGHOST and PMC_TCP set).  Writes
# PROFILE_OUT (default bench/results/profile.md).
#
# Environment: PROFILE_SECS=5, PROFILE_OUT=FILE, PMC_SKIP_APT=1,
# PMC_SKIP_BUILD=1, PMC_KEEP=1 as for tools/test.sh.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tools/lib/common.sh
source "$BENCH_DIR/../tools/lib/common.sh"

SECS=${PROFILE_SECS:-5}
OUT=${PROFILE_OUT:-$BENCH_DIR/results/profile.md}
WORK=""

if ! command -v perf >/dev/null 2>&1; then
	[[ "${PMC_SKIP_APT:-0}" == 1 ]] && pmc_die "perf is missing: apt-get install linux-perf"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq linux-perf >/dev/null ||
		pmc_die "could not install linux-perf"
fi

prof_cleanup() {
	if [[ -n "${PGHOST:-}" ]]; then
		"$PG_BINDIR/psql" -X -q -d postgres -c 'DROP DATABASE IF EXISTS prof_pmc' \
			-c 'DROP DATABASE IF EXISTS prof_pgm' >/dev/null 2>&1 || true
	fi
	if [[ -n "$WORK" && -d "$WORK" ]]; then
		case "$WORK" in /tmp/pmc-profile.??????) rm -rf "$WORK" ;; esac
	fi
	WORK=""
}
# shellcheck disable=SC2317 # called by the harness's EXIT trap
prof_exit_hook() {
	prof_cleanup
	return "$1"
}

if [[ -n "${PGHOST:-}" && -n "${PMC_TCP:-}" ]]; then
	PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
	trap 'prof_cleanup' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	pmc_step "profile: reusing the environment (PGHOST=$PGHOST, tcp $PMC_TCP)"
else
	pmc_install_traps prof_exit_hook
	pmc_setup tcp
fi
WORK=$(mktemp -d /tmp/pmc-profile.XXXXXX)
chmod 755 "$WORK"
LOG="$WORK/profile.log"
python3 "$BENCH_DIR/jsonvalue.py" 102400 >"$WORK/vj" || pmc_die "bench/jsonvalue.py failed"
VJ=$(<"$WORK/vj")
PSQL=("$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1)

"${PSQL[@]}" -d postgres -c 'DROP DATABASE IF EXISTS prof_pmc' -c 'DROP DATABASE IF EXISTS prof_pgm' \
	-c 'CREATE DATABASE prof_pmc' -c 'CREATE DATABASE prof_pgm' >>"$LOG" 2>&1 ||
	pmc_die "could not create the databases" "$LOG"
PMC_OPTS="-c pylibmc_pg.servers=$PMC_TCP"
PGM_OPTS="-c pgmemcache.default_servers=$PMC_TCP -c pgmemcache.default_behavior=BINARY_PROTOCOL:0"
PGOPTIONS="$PMC_OPTS" "${PSQL[@]}" -d prof_pmc -v vj="$VJ" >>"$LOG" 2>&1 <<-'EOF' || pmc_die "could not prepare prof_pmc" "$LOG"
	CREATE EXTENSION pylibmc_pg;
	SELECT mc_set('prof.jg', :'vj', 0, 1024), mc_set('prof.jgu', :'vj');
	SELECT mc_set('prof.v100', repeat('x', 100));
	SELECT count(mc_set('prof.m' || i, repeat('x', 100))) FROM generate_series(0, 99) i;
	CREATE TABLE u_plain (grp int, id int, email text, v int, PRIMARY KEY (grp, id)) WITH (fillfactor = 50);
	INSERT INTO u_plain SELECT 1, i, 'user' || i || '@example.com', 0 FROM generate_series(1, 10000) i;
	CREATE TABLE u_const (LIKE u_plain INCLUDING ALL) WITH (fillfactor = 50);
	INSERT INTO u_const SELECT * FROM u_plain;
	CREATE TABLE u_inv (LIKE u_plain INCLUDING ALL) WITH (fillfactor = 50);
	INSERT INTO u_inv SELECT * FROM u_plain;
	CREATE TRIGGER u_const_inv AFTER UPDATE ON u_const
	  FOR EACH ROW EXECUTE FUNCTION mc_invalidate('prof.constant');
	CREATE TRIGGER u_inv_inv AFTER UPDATE ON u_inv
	  FOR EACH ROW EXECUTE FUNCTION mc_invalidate('prof.row.{grp}.{id}');
	VACUUM ANALYZE;
EOF
PGOPTIONS="$PGM_OPTS" "${PSQL[@]}" -d prof_pgm >>"$LOG" 2>&1 <<-'EOF' || pmc_die "could not prepare prof_pgm (postgresql-15-pgmemcache)" "$LOG"
	CREATE EXTENSION pgmemcache;
	SELECT memcache_set('prof.p100', repeat('x', 100));
	SELECT count(memcache_set('prof.p' || i, repeat('x', 100))) FROM generate_series(0, 99) i;
EOF
keys() { # PREFIX: a text[] literal of PREFIX0..PREFIX99
	local i s="{"
	for ((i = 0; i < 100; i++)); do s+="$( ((i)) && echo ,)$1$i"; done
	echo "$s}"
}

# profile NAME DB OPTS SQL: one pgbench client; appends a table row to ROWS
# and the top symbols to SYMS
ROWS="" SYMS=""
profile() {
	local name=$1 db=$2 opts=$3 sql=$4 pid="" u0 s0 u1 s1 t0 t1 tps hz i
	printf '%s\n' "$sql" >"$WORK/case.sql"
	# -D: the JSON value, bound as a parameter where a case names :vj
	PGOPTIONS="$opts" "$PG_BINDIR/pgbench" -n -M prepared -T "$SECS" -f "$WORK/case.sql" -D vj="$VJ" "$db" \
		>"$WORK/pgbench.out" 2>&1 &
	local bench=$!
	for ((i = 0; i < 50; i++)); do
		[[ -z $pid ]] || break
		sleep 0.1
		pid=$("$PG_BINDIR/psql" -X -At -d postgres -c \
			"SELECT pid FROM pg_stat_activity WHERE application_name = 'pgbench' AND datname = '$db' LIMIT 1")
	done
	[[ -n $pid ]] || pmc_die "profile: no pgbench backend for $name" "$WORK/pgbench.out"
	sleep 0.5
	read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$pid/stat")
	t0=$(date +%s%N)
	perf record -q -e cpu-clock -F 4000 -g -p "$pid" -o "$WORK/perf.data" -- sleep "$((SECS - 2))" >>"$LOG" 2>&1 || true
	read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$pid/stat")
	t1=$(date +%s%N)
	wait "$bench" || pmc_die "profile: pgbench failed for $name" "$WORK/pgbench.out"
	tps=$(grep -oP 'tps = \K[0-9.]+' "$WORK/pgbench.out" | tail -n 1)
	hz=$(getconf CLK_TCK)
	local kernel ours lib deflate
	kernel=$(perf report -i "$WORK/perf.data" --no-children --sort dso --stdio 2>/dev/null |
		awk '/kernel/ { gsub("%", "", $1); print $1; exit }') || true
	ours=$(perf report -i "$WORK/perf.data" --no-children --sort dso --stdio 2>/dev/null |
		awk '/pylibmc_pg.so/ { gsub("%", "", $1); print $1; exit }') || true
	lib=$(perf report -i "$WORK/perf.data" --no-children --sort dso --stdio 2>/dev/null |
		awk '/libmemcached/ { gsub("%", "", $1); print $1; exit }') || true
	deflate=$(perf report -i "$WORK/perf.data" --no-children --sort dso --stdio 2>/dev/null |
		awk '/libdeflate/ { gsub("%", "", $1); print $1; exit }') || true
	# CPU per transaction: the ticks over the timed window, at the run's TPS
	ROWS+=$(awk -v n="$name" -v t="$tps" -v du="$((u1 - u0))" -v ds="$((s1 - s0))" -v hz="$hz" \
		-v w="$(((t1 - t0) / 1000000))" -v k="${kernel:-0}" -v o="${ours:-0}" -v l="${lib:-0}" \
		-v d="${deflate:-0}" 'BEGIN {
			tx = t * w / 1000; printf "| %s | %.0f | %.1f | %.1f | %.1f | %s%% | %s%% | %s%% | %s%% |\n",
			n, t, 1e6 / t, du / hz * 1e6 / tx, ds / hz * 1e6 / tx, k, o, l, d }')$'\n'
	SYMS+="### $name"$'\n\n```\n'
	SYMS+=$(perf report -i "$WORK/perf.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null |
		grep -E '^ +[0-9]' | head -n 12 || true)$'\n```\n\n'
	pmc_step "profile: $name: $tps TPS"
}

profile "SELECT 1" prof_pmc "$PMC_OPTS" "SELECT 1;"
profile "mc_get 100 B" prof_pmc "$PMC_OPTS" "SELECT mc_get('prof.v100');"
profile "pgmemcache memcache_get 100 B" prof_pgm "$PGM_OPTS" "SELECT memcache_get('prof.p100'::text);"
profile "mc_get_multi 100 keys" prof_pmc "$PMC_OPTS" "SELECT count(*) FROM mc_get_multi('$(keys prof.m)'::text[]);"
profile "pgmemcache memcache_get_multi 100 keys" prof_pgm "$PGM_OPTS" \
	"SELECT count(*) FROM memcache_get_multi('$(keys prof.p)'::text[]);"
# the 100 KB compressible value of bench/run.sh's set100kz, stored with and
# without compression (the value is built in the statement, the same in both)
Z="repeat('pylibmc_pg benchmark row, compressible; ', 2560)"
profile "mc_set 100 KB compressible, compressed (min_compress_len 1024)" prof_pmc "$PMC_OPTS" \
	"SELECT mc_set('prof.z', $Z, 0, 1024);"
profile "mc_set 100 KB compressible, uncompressed" prof_pmc "$PMC_OPTS" "SELECT mc_set('prof.zu', $Z);"
# bench/run.sh's 100 KB JSON value (set100kj), bound as a parameter as there
profile "mc_set 100 KB compressible JSON, compressed (min_compress_len 1024)" prof_pmc "$PMC_OPTS" \
	"SELECT mc_set('prof.j', :vj::text, 0, 1024);"
profile "mc_set 100 KB compressible JSON, uncompressed" prof_pmc "$PMC_OPTS" "SELECT mc_set('prof.ju', :vj::text);"
profile "mc_get 100 KB compressible JSON, compressed" prof_pmc "$PMC_OPTS" "SELECT octet_length(mc_get('prof.jg'));"
profile "mc_get 100 KB compressible JSON, uncompressed" prof_pmc "$PMC_OPTS" "SELECT octet_length(mc_get('prof.jgu'));"
profile "UPDATE 10,000 rows, no trigger" prof_pmc "$PMC_OPTS" "UPDATE u_plain SET v = v + 1;"
profile "UPDATE 10,000 rows, mc_invalidate of a constant key" prof_pmc "$PMC_OPTS" "UPDATE u_const SET v = v + 1;"
profile "UPDATE 10,000 rows, mc_invalidate of each row's key" prof_pmc "$PMC_OPTS" "UPDATE u_inv SET v = v + 1;"

# The UPDATE with mc_invalidate, statement and COMMIT timed apart (median of 5)
"${PSQL[@]}" -d prof_pmc -c 'VACUUM u_inv' >>"$LOG" 2>&1
split=$(for _ in 1 2 3 4 5; do
	PGOPTIONS="$PMC_OPTS" "$PG_BINDIR/psql" -X -q -d prof_pmc 2>>"$LOG" <<-'EOF' |
		\timing on
		BEGIN;
		UPDATE u_inv SET v = v + 1;
		COMMIT;
	EOF
		grep -oP 'Time: \K[0-9.]+' | sed -n '2p;3p' | paste -sd ' '
done | sort -n -k1 | sed -n 3p)

mkdir -p "$(dirname "$OUT")"
{
	echo "# Where the time goes"
	echo
	echo "bench/profile.sh, $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs; $("$PG_BINDIR/postgres" --version);"
	echo "memcached $(memcached -V | awk '{print $2}'); one pgbench client, -M prepared, -T $SECS; the backend"
	echo "sampled by perf record -e cpu-clock for $((SECS - 2)) s. CPU per transaction is the backend's own"
	echo "(/proc/PID/stat), not pgbench's or memcached's."
	echo
	echo "| case | TPS | latency µs | backend user µs/tx | backend system µs/tx | kernel samples | pylibmc_pg.so samples | libmemcached samples | libdeflate samples |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
	printf '%s' "$ROWS"
	echo
	echo "The 10,000-row UPDATE with mc_invalidate in psql, median of 5: statement and COMMIT (ms): ${split:-n/a}"
	echo
	echo "## Top symbols (self samples) per case"
	echo
	printf '%s' "$SYMS"
} >"$OUT"
pmc_step "profile: written to $OUT"
