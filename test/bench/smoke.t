#!/usr/bin/env bash
#
# test/bench/smoke.t: the benchmark still runs. `BENCH_SMOKE=1 bench/run.sh`
# in the test environment (it reuses PGHOST and the fleet) runs every case
# once, briefly; this checks that it succeeded, that results.md has a row
# with TPS > 0 for every case and client (the list is kept here, so a case
# that silently disappears from the benchmark fails), that the memory rows
# hold numbers and that the get_multi of 1,000 x 100 KB really held ~100 MB
# at its peak, and that the chart is a PNG.
set -uo pipefail

cd "$(dirname "$0")/../.."

N=0
ok() { # STATUS DESCRIPTION [DIRECTIVE]
	N=$((N + 1))
	if [[ $1 -eq 0 ]]; then
		printf 'ok %d - %s%s\n' "$N" "$2" "${3:+ # $3}"
	else
		printf 'not ok %d - %s\n' "$N" "$2"
	fi
}

NETS=(tcp/ascii tcp/binary unix/ascii unix/binary)
CLIENTS3=(pylibmc_pg pgmemcache "raw libmemcached")
EXPECTED=("SELECT 1|-|SQL")
for op in "get 100 B" "set 100 B"; do
	for net in "${NETS[@]}"; do
		for c in "${CLIENTS3[@]}"; do EXPECTED+=("$op|$net|$c"); done
	done
done
for op in "get_multi 100 x 100 B" "100 x get 100 B, one statement" "get 100 KB" "set 100 KB" \
	"get 100 KB compressible, zlib" "set 100 KB compressible, zlib" \
	"get 100 KB compressible JSON" "set 100 KB compressible JSON"; do
	for c in "${CLIENTS3[@]}"; do EXPECTED+=("$op|tcp/ascii|$c"); done
done
# the compressible cases also time the same value stored uncompressed (the
# baseline of issue 15's targets)
for op in "get 100 KB compressible, zlib" "set 100 KB compressible, zlib" \
	"get 100 KB compressible JSON" "set 100 KB compressible JSON"; do
	EXPECTED+=("$op|tcp/ascii|pylibmc_pg uncompressed")
done
UPD="UPDATE 10,000 rows + invalidation"
EXPECTED+=("$UPD|-|no trigger" "$UPD|tcp/ascii|pylibmc_pg mc_invalidate"
	"$UPD|tcp/ascii|pgmemcache per-row memcache_delete")
UPDS="UPDATE 10,000 rows, statement-level invalidation"
EXPECTED+=("$UPDS|-|no trigger" "$UPDS|tcp/ascii|row-level mc_invalidate"
	"$UPDS|tcp/ascii|statement-level mc_invalidate")
for op in "get 100 B, preload cost" "set 100 B, preload cost"; do
	EXPECTED+=("$op|tcp/ascii|not preloaded" "$op|tcp/ascii|preloaded")
done

echo "1..$((${#EXPECTED[@]} + 5))"

if [[ -z "${PGHOST:-}" || -z "${PMC_TCP:-}" ]]; then
	echo "# PGHOST/PMC_TCP are not set: run this through ./tools/test.sh"
fi
OUT=$(mktemp -d /tmp/pmc-bench-smoke.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
start=$SECONDS
rc=0
BENCH_SMOKE=1 BENCH_OUT="$OUT" PMC_SKIP_APT=1 PMC_SKIP_BUILD=1 bench/run.sh >"$OUT/run.log" 2>&1 || rc=$?
ok "$rc" "BENCH_SMOKE=1 bench/run.sh succeeds ($((SECONDS - start)) s)"
if ((rc != 0)); then
	tail -n 30 "$OUT/run.log" | sed 's/^/#   /'
fi

MD="$OUT/results.md"
# row CASE NET CLIENT: the TPS cell of the clients=1 row, or nothing
row_tps() {
	[[ -r "$MD" ]] || return 0
	awk -F' [|] ' -v c="$1" -v n="$2" -v cl="$3" '
		{ sub(/^[|] /, "") }
		$1 == c && $2 == n && $3 == cl && $4 == "1" { print $5; exit }' "$MD"
}

for e in "${EXPECTED[@]}"; do
	IFS='|' read -r c n cl <<<"$e"
	tps=$(row_tps "$c" "$n" "$cl")
	if [[ $tps == skipped ]]; then
		ok 0 "row: $c / $n / $cl" "SKIP the benchmark skipped it (see results.md)"
		continue
	fi
	v=${tps//,/}
	if [[ $v =~ ^[0-9]+(\.[0-9]+)?$ ]] && awk -v v="$v" 'BEGIN { exit !(v > 0) }'; then
		ok 0 "row: $c / $n / $cl: TPS $tps"
	else
		ok 1 "row: $c / $n / $cl"
		echo "#   TPS cell: '${tps}'"
	fi
done

MEM="$OUT/memory.csv"
bad=0
rows=0
if [[ -r "$MEM" ]]; then
	while IFS=, read -r client measure before after; do
		rows=$((rows + 1))
		[[ $before =~ ^[0-9]+$ && $after =~ ^[0-9]+$ && $before -gt 0 ]] || {
			bad=1
			echo "#   memory row without numbers: $client,$measure,$before,$after"
		}
	done < <(tail -n +2 "$MEM")
fi
((rows == 5)) || echo "#   memory.csv has $rows rows, want 5"
ok $((bad || rows != 5)) "memory.csv: 5 rows of VmRSS/VmHWM numbers"

peak=$(awk -F, '/VmHWM one get_multi/ { print $4 - $3 }' "$MEM" 2>/dev/null)
[[ $peak =~ ^[0-9]+$ ]] || peak=0
# 1,000 values of 102,400 bytes are 100,000 kB: at least that must have been resident at once
ok $((peak < 100000)) "the get_multi of 1,000 x 100 KB peaked at +$peak kB (>= 100,000 kB)"

grep -q '^## Targets' "$MD" 2>/dev/null
ok $? "results.md has the targets section"

if command -v gnuplot >/dev/null; then
	[[ "$(head -c 8 "$OUT/chart.png" 2>/dev/null | od -An -tx1 | tr -d ' \n')" == 89504e470d0a1a0a ]]
	ok $? "chart.png is a PNG"
else
	ok 0 "chart.png is a PNG" "SKIP gnuplot is not installed"
fi
