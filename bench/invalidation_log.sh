#!/usr/bin/env bash
#
# bench/invalidation_log.sh: what the invalidation log (doc/invalidation-log.md)
# costs and how fast its worker replays.
#   1. the 10,000-row UPDATE with the row-level mc_invalidate trigger, logging
#      off and on, interleaved (pgbench -T BENCH_SECS, one client, BENCH_PAIRS
#      rounds, median TPS), and the keys the worker sent again meanwhile (the
#      backends delivered every batch: the target is 0);
#   2. the WAL bytes per key: one UPDATE's WAL with logging on, minus off,
#      divided by its 10,000 keys;
#   3. the replay rate: memcached SIGSTOPped, BENCH_OUTAGE_KEYS keys committed
#      (10,000 per transaction, each commit-time send failing), SIGCONT, and
#      the time until the worker delivered them all.
#
#   flock /tmp/pmc-test.lock env PMC_SKIP_APT=1 bench/invalidation_log.sh
#
# Makes the harness's throwaway set-up (tools/lib/common.sh: build, install,
# one memcached, a scratch cluster with wal_level = logical, the library
# preloaded and a replay worker for the database postgres) and tears it down.
# Writes BENCH_OUT/invalidation_log.md (default: a temporary file, printed).
#
# Environment: BENCH_SECS=5, BENCH_PAIRS=3, BENCH_OUTAGE_KEYS=100000.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tools/lib/common.sh
source "$BENCH_DIR/../tools/lib/common.sh"
PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
PMC_PG_CONF_EXTRA="wal_level = logical
shared_preload_libraries = 'pylibmc_pg'
pylibmc_pg.invalidation_log_databases = 'postgres'
pylibmc_pg.on_error = 'warning'"
# (not piped into grep -q: under pipefail, postgres killed by SIGPIPE when
# grep stops reading would make the test fail)
if grep -q '^output_plugin_libraries' <<<"$("$PG_BINDIR/postgres" --describe-config)"; then
	PMC_PG_CONF_EXTRA+="
output_plugin_libraries = 'pgoutput, test_decoding, pylibmc_pg'"
fi
export PMC_PG_CONF_EXTRA
pmc_install_traps
pmc_setup tcp

SECS=${BENCH_SECS:-5}
PAIRS=${BENCH_PAIRS:-3}
OUTAGE=${BENCH_OUTAGE_KEYS:-100000}
PSQL=("$PG_BINDIR/psql" -X -q -At -v ON_ERROR_STOP=1 -d postgres)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pmc-bench-log.XXXXXX")
OUT=${BENCH_OUT:-$WORK}/invalidation_log.md
mkdir -p "$(dirname "$OUT")"

"${PSQL[@]}" >/dev/null <<'EOF'
CREATE EXTENSION pylibmc_pg;
CREATE TABLE upd (id int PRIMARY KEY, email text, v int) WITH (fillfactor = 50);
INSERT INTO upd SELECT i, 'user' || i || '@example.com', 0 FROM generate_series(1, 10000) i;
CREATE TRIGGER upd_inv AFTER UPDATE ON upd
  FOR EACH ROW EXECUTE FUNCTION mc_invalidate('bench.row.{id}');
VACUUM ANALYZE;
EOF
for _ in $(seq 1 100); do
	[[ $("${PSQL[@]}" -c "SELECT count(*) FROM mc_invalidation_log WHERE pid IS NOT NULL") == 1 ]] && break
	sleep 0.1
done

logstat() { "${PSQL[@]}" -c "SELECT $1 FROM mc_invalidation_log"; }
settle() {
	# the worker has read everything committed so far
	local target
	target=$("${PSQL[@]}" -c "SELECT pg_current_wal_lsn()")
	for i in $(seq 1 3000); do
		[[ $("${PSQL[@]}" -c "SELECT confirmed_flush_lsn >= '$target' FROM pg_replication_slots WHERE slot_name LIKE 'pylibmc_pg_%'") == t ]] && return 0
		if ((i == 150)) && [[ $("${PSQL[@]}" -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'pylibmc_pg_%'") == 0 ]]; then
			echo "the worker has no slot after 30 s: $(logstat last_error)" >&2
			return 1
		fi
		sleep 0.2
	done
	echo "the worker did not catch up in 600 s" >&2
	return 1
}

printf 'UPDATE upd SET v = v + 1;\n' >"$WORK/upd.sql"
declare -A TPS=()
resent0=$(logstat keys_resent)
for round in $(seq 1 "$PAIRS"); do
	for mode in off on; do
		"${PSQL[@]}" -c "VACUUM upd" >/dev/null
		tps=$(PGOPTIONS="-c pylibmc_pg.invalidation_log=$mode" "$PG_BINDIR/pgbench" -n -c 1 -T "$SECS" \
			-f "$WORK/upd.sql" postgres 2>&1 | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1)
		TPS[$mode]+="$tps "
		echo "round $round, logging $mode: $tps tps"
	done
done
ts0=$(date +%s.%N)
settle
catchup=$(awk -v a="$ts0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
resent1=$(logstat keys_resent)
delivered=$(logstat keys_delivered)
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
off=$(median "${TPS[off]}")
on=$(median "${TPS[on]}")
ratio=$(awk -v a="$on" -v b="$off" 'BEGIN {printf "%.2f", a / b}')

# WAL per key
wal_of() {
	local a
	a=$("${PSQL[@]}" -c "SELECT pg_current_wal_insert_lsn()")
	"${PSQL[@]}" -c "SET pylibmc_pg.invalidation_log = $1" -c "UPDATE upd SET v = v + 1"
	"${PSQL[@]}" -c "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '$a')"
}
"${PSQL[@]}" -c "VACUUM upd" >/dev/null
w_off=$(wal_of off)
"${PSQL[@]}" -c "VACUUM upd" >/dev/null
w_on=$(wal_of on)
per_key=$(awk -v a="$w_on" -v b="$w_off" 'BEGIN {printf "%.1f", (a - b) / 10000}')

# replay after an outage
settle
mcpid=$(pmc_mc_pid tcp)
resent_before=$(logstat keys_resent)
kill -STOP "$mcpid"
ntx=$(((OUTAGE + 9999) / 10000))
for i in $(seq 1 "$ntx"); do
	PGOPTIONS="-c pylibmc_pg.invalidation_log=on -c pylibmc_pg.behaviors=_poll_timeout=200,connect_timeout=200" \
		"${PSQL[@]}" -c "SELECT count(mc_delete_on_commit('bench.outage.$i.' || g)) FROM generate_series(1, 10000) g" \
		>/dev/null 2>&1
done
t0=$(date +%s.%N)
kill -CONT "$mcpid"
want=$((resent_before + ntx * 10000))
for _ in $(seq 1 6000); do
	[[ $(logstat "keys_resent >= $want") == t ]] && break
	sleep 0.05
done
t1=$(date +%s.%N)
replayed=$(($(logstat keys_resent) - resent_before))
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')
rate=$(awk -v n="$replayed" -v s="$secs" 'BEGIN {printf "%.0f", n / s}')

{
	echo "# The invalidation log: cost and replay rate"
	echo
	echo "bench/invalidation_log.sh on $(date -u +%Y-%m-%d), PostgreSQL $("$PG_BINDIR/postgres" -V | awk '{print $3}'),"
	echo "memcached $(pmc_mc_version "$PMC_TCP") on loopback, 2 shared cores; fsync off, synchronous_commit off."
	echo
	echo "| measure | value |"
	echo "|---|---|"
	echo "| 10,000-row UPDATE with mc_invalidate, logging off (median of $PAIRS × ${SECS} s) | $off tps (runs: ${TPS[off]}) |"
	echo "| the same, logging on | $on tps (runs: ${TPS[on]}) |"
	echo "| on / off | ${ratio}x |"
	echo "| keys the worker sent again during those runs (backends delivered) | $((resent1 - resent0)) (keys counted delivered: $delivered) |"
	echo "| the worker's lag at the end of those runs (time to confirm the last commit) | $catchup s |"
	echo "| WAL of one 10,000-row UPDATE, off / on | $w_off / $w_on bytes |"
	echo "| WAL per key | $per_key bytes (keys bench.row.N, 11 to 15 bytes) |"
	echo "| replay after an outage: keys | $replayed ($ntx transactions of 10,000) |"
	echo "| time from SIGCONT to the last acknowledged | $secs s |"
	echo "| replay rate | $rate keys/s |"
} >"$OUT"
cat "$OUT"
