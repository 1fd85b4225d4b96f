#!/usr/bin/env bash
#
# bench/invalidate_statement.sh: the 10,000-row UPDATE with no trigger, with
# the row-level mc_invalidate trigger and with the statement-level triggers
# of mc_invalidate_triggers() (issue 14.2), side by side, and the statement
# and the COMMIT timed apart, beside a no-op statement trigger that declares
# the same transition tables (what PostgreSQL's capture costs alone, and so
# the most the statement form could gain were our own work free); then the
# backend's peak memory (VmHWM, and the peak of its private memory) for a
# 1,000,000-row UPDATE with the statement-level triggers.
#
#   bench/invalidate_statement.sh
#
# Uses the environment of ./tools/test.sh or a sourced dev env.sh (PGHOST,
# PG_BINDIR, PMC_TCP) with the extension installed, or else makes the
# harness's throwaway set-up (tools/lib/common.sh: build, install, one
# memcached, a scratch cluster) and tears it down at the end; on the shared
# machine run it under the test lock:
#   flock /tmp/pmc-test.lock env PMC_SKIP_APT=1 bench/invalidate_statement.sh
# Each variant runs `pgbench -n -T BENCH_SECS` with one client, the three interleaved
# (A B C A B C ...) for BENCH_PAIRS rounds; the median TPS is reported.
# Writes BENCH_OUT/invalidate_statement.md (default: a temporary file,
# printed).
#
# Environment: BENCH_SECS=5, BENCH_PAIRS=3, BENCH_BIG_ROWS=1000000.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tools/lib/common.sh
source "$BENCH_DIR/../tools/lib/common.sh"
if [[ -z "${PGHOST:-}" || -z "${PMC_TCP:-}" ]]; then
	pmc_install_traps
	pmc_setup tcp
fi
PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}

SECS=${BENCH_SECS:-5}
PAIRS=${BENCH_PAIRS:-3}
BIG=${BENCH_BIG_ROWS:-1000000}
PSQL=("$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1)
DB=bench_inval_stmt
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pmc-bench-stmt.XXXXXX")
OUT=${BENCH_OUT:-$WORK}/invalidate_statement.md
mkdir -p "$(dirname "$OUT")"
bench_stmt_cleanup() {
	"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
	[[ $OUT == "$WORK"/* ]] || rm -rf "$WORK"
}

"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" >/dev/null
export PGOPTIONS="-c pylibmc_pg.servers=$PMC_TCP"
"${PSQL[@]}" -d "$DB" >/dev/null <<'EOF'
CREATE EXTENSION pylibmc_pg;
CREATE TABLE upd_plain (id int PRIMARY KEY, email text, v int) WITH (fillfactor = 50);
INSERT INTO upd_plain SELECT i, 'user' || i || '@example.com', 0 FROM generate_series(1, 10000) i;
CREATE TABLE upd_row (LIKE upd_plain INCLUDING ALL) WITH (fillfactor = 50);
INSERT INTO upd_row SELECT * FROM upd_plain;
CREATE TRIGGER upd_row_inv AFTER UPDATE ON upd_row
  FOR EACH ROW EXECUTE FUNCTION mc_invalidate('bench.row.{id}');
CREATE TABLE upd_stmt (LIKE upd_plain INCLUDING ALL) WITH (fillfactor = 50);
INSERT INTO upd_stmt SELECT * FROM upd_plain;
SELECT mc_invalidate_triggers('upd_stmt', 'bench.stmt.{id}');
-- PostgreSQL's capture of the transition tables alone: a statement trigger
-- that declares the same OLD and NEW TABLE and does nothing
CREATE TABLE upd_noop (LIKE upd_plain INCLUDING ALL) WITH (fillfactor = 50);
INSERT INTO upd_noop SELECT * FROM upd_plain;
CREATE FUNCTION noop_trigger() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NULL; END';
CREATE TRIGGER upd_noop_capture AFTER UPDATE ON upd_noop REFERENCING OLD TABLE AS o NEW TABLE AS n
  FOR EACH STATEMENT EXECUTE FUNCTION noop_trigger();
VACUUM ANALYZE;
EOF

declare -A TPS=()
for round in $(seq 1 "$PAIRS"); do
	for t in upd_plain upd_row upd_stmt; do
		printf 'UPDATE %s SET v = v + 1;\n' "$t" >"$WORK/$t.sql"
		"${PSQL[@]}" -d "$DB" -c "VACUUM $t" >/dev/null
		tps=$("$PG_BINDIR/pgbench" -n -c 1 -T "$SECS" -f "$WORK/$t.sql" "$DB" 2>&1 |
			sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1)
		TPS[$t]+="$tps "
		echo "round $round: $t $tps tps"
	done
done

# The statement and the COMMIT apart: pgbench -r's per-statement latency of
# BEGIN; UPDATE; COMMIT (one run of BENCH_SECS per variant, after the rounds)
# SPLIT_U and SPLIT_C: the UPDATE's and the COMMIT's ms; SPLIT: both, as text
declare -A SPLIT=() SPLIT_U=() SPLIT_C=()
for t in upd_plain upd_noop upd_row upd_stmt; do
	printf 'BEGIN;\nUPDATE %s SET v = v + 1;\nCOMMIT;\n' "$t" >"$WORK/$t-split.sql"
	"${PSQL[@]}" -d "$DB" -c "VACUUM $t" >/dev/null
	read -r SPLIT_U[$t] SPLIT_C[$t] < <("$PG_BINDIR/pgbench" -n -r -c 1 -T "$SECS" -f "$WORK/$t-split.sql" "$DB" 2>&1 |
		awk '/ UPDATE upd_/ { u = $1 } / COMMIT;$/ { c = $1 } END { printf "%.2f %.2f\n", u, c }')
	SPLIT[$t]="UPDATE ${SPLIT_U[$t]} ms, COMMIT ${SPLIT_C[$t]} ms"
	echo "split: $t ${SPLIT[$t]}"
done

median() { tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
plain=$(median "${TPS[upd_plain]}")
row=$(median "${TPS[upd_row]}")
stmt=$(median "${TPS[upd_stmt]}")

# Peak memory of one backend for an UPDATE of BIG rows with the statement
# triggers: VmHWM before and after, from /proc of the backend itself.  VmHWM
# counts the shared buffers (up to shared_buffers) and WAL buffers the
# backend touches too, so the same UPDATE runs first with the triggers off
# (session_replication_role = replica): what grows after that is the
# backend's own memory.  "cold" is the growth without that warm-up.
"${PSQL[@]}" -d "$DB" >/dev/null <<EOF
CREATE TABLE upd_big (id int PRIMARY KEY, v int) WITH (fillfactor = 50);
INSERT INTO upd_big SELECT g, 0 FROM generate_series(1, $BIG) g;
SELECT mc_invalidate_triggers('upd_big', 'bench.big.{id}');
VACUUM ANALYZE upd_big;
EOF
# The peak of the backend's private memory (RssAnon, sampled every 5 ms
# from /proc while the UPDATE runs) isolates it from the shared buffers.
cat >"$WORK/big.sql" <<'EOF'
CREATE TEMP TABLE hwm (phase text, kb bigint);
CREATE FUNCTION pg_temp.hwm() RETURNS bigint LANGUAGE sql AS
$$ SELECT (regexp_match(pg_read_file('/proc/' || pg_backend_pid() || '/status'), 'VmHWM:\s+(\d+)'))[1]::bigint $$;
INSERT INTO hwm SELECT 'cold', pg_temp.hwm();
SET session_replication_role = replica;
UPDATE upd_big SET v = v + 1;
RESET session_replication_role;
VACUUM upd_big;
INSERT INTO hwm SELECT 'before', pg_temp.hwm();
SELECT 'anon_before=' || (regexp_match(pg_read_file('/proc/' || pg_backend_pid() || '/status'), 'RssAnon:\s+(\d+)'))[1];
\timing on
UPDATE upd_big SET v = v + 1;
\timing off
INSERT INTO hwm SELECT 'after', pg_temp.hwm();
SELECT string_agg(phase || '=' || kb, ' ' ORDER BY phase DESC) FROM hwm;
EOF
PGAPPNAME=bench_inval_big "${PSQL[@]}" -At -d "$DB" -f "$WORK/big.sql" >"$WORK/big.out" 2>&1 &
big_psql=$!
big_pid=""
for _ in $(seq 1 100); do
	big_pid=$("${PSQL[@]}" -At -d postgres -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'bench_inval_big'")
	[[ -z $big_pid ]] || break
	sleep 0.05
done
anon_peak=0
while kill -0 "$big_psql" 2>/dev/null; do
	a=$(awk '/^RssAnon:/ { print $2 }' "/proc/$big_pid/status" 2>/dev/null || true)
	[[ -z $a ]] || ((a <= anon_peak)) || anon_peak=$a
	sleep 0.005
done
wait "$big_psql"
mem="$(cat "$WORK/big.out") anon_peak=$anon_peak"
echo "$mem"

{
	echo "# 10,000-row UPDATE: row-level and statement-level mc_invalidate"
	echo
	echo "\`bench/invalidate_statement.sh\` (BENCH_SECS=$SECS, BENCH_PAIRS=$PAIRS, 1 client, median TPS), $(date -u +%Y-%m-%d)."
	echo
	echo "| UPDATE 10,000 rows | TPS | vs no trigger | vs row-level |"
	echo "|---|---:|---:|---:|"
	awk -v p="$plain" -v r="$row" -v s="$stmt" 'BEGIN {
		printf "| no trigger | %.2f | 1.00 | %.2f |\n", p, p / r
		printf "| mc_invalidate FOR EACH ROW | %.2f | %.2f | 1.00 |\n", r, r / p
		printf "| mc_invalidate FOR EACH STATEMENT (mc_invalidate_triggers) | %.2f | %.2f | %.2f |\n", s, s / p, s / r
	}'
	echo
	echo "Statement and COMMIT apart (pgbench -r, BEGIN; UPDATE; COMMIT): no trigger ${SPLIT[upd_plain]}; a no-op statement trigger with the same OLD and NEW TABLE (PostgreSQL's capture alone) ${SPLIT[upd_noop]}; row-level ${SPLIT[upd_row]}; statement-level ${SPLIT[upd_stmt]}."
	echo
	awk -v pu="${SPLIT_U[upd_plain]}" -v pc="${SPLIT_C[upd_plain]}" -v nu="${SPLIT_U[upd_noop]}" \
		-v ru="${SPLIT_U[upd_row]}" -v rc="${SPLIT_C[upd_row]}" -v su="${SPLIT_U[upd_stmt]}" -v sc="${SPLIT_C[upd_stmt]}" 'BEGIN {
		printf "Where the statement form'"'"'s time goes: PostgreSQL capturing both transition tables %.2f ms (no-op UPDATE - no trigger), ", nu - pu
		printf "mc_invalidate reading them and building and queueing the keys %.2f ms (statement-level UPDATE - no-op), ", su - nu
		printf "the COMMIT'"'"'s 10,000 deletes %.2f ms (statement-level COMMIT - no trigger). ", sc - pc
		printf "Were mc_invalidate'"'"'s own work in the statement free, with the row form unchanged, the statement form would be at most %.2fx the row form (row UPDATE + COMMIT over no-op UPDATE + statement-level COMMIT).\n", (ru + rc) / (nu + sc)
	}'
	echo
	echo "UPDATE of $BIG rows with the statement-level triggers, one backend, work_mem $("${PSQL[@]}" -At -d "$DB" -c 'SHOW work_mem'): VmHWM (kB) $(grep -o 'cold=[0-9]* before=[0-9]* after=[0-9]*' <<<"$mem") (cold: at connection; before: after the same UPDATE without triggers); private memory (RssAnon, kB) $(grep -o 'anon_before=[0-9]*' <<<"$mem"), peak during the UPDATE $(grep -o 'anon_peak=[0-9]*' <<<"$mem"); $(grep -o 'Time: [0-9.]* ms' <<<"$mem")."
} >"$OUT"
bench_stmt_cleanup
cat "$OUT"
echo "written: $OUT"
