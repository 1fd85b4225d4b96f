#!/usr/bin/env bash
#
# test/fuzz/smoke.t: build the libFuzzer harnesses (test/fuzz/Makefile) and
# run each for FUZZ_SECONDS (default 20) on a scratch copy of its seed
# corpus; ok when the run ends without a crash, a sanitizer report or a
# failed check.  A crash leaves its input in test/fuzz/build/crash-*; the
# TAP diagnostics show the report.  Skipped when clang cannot link libFuzzer
# (package libclang-rt-14-dev).
set -uo pipefail

cd "$(dirname "$0")" || exit 1
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
TARGETS=(servers behaviors value reply)

# Can clang link libFuzzer here?
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf '#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return 0; }\n' >"$probe/p.c"
if ! clang -fsanitize=fuzzer,address -o "$probe/p" "$probe/p.c" >/dev/null 2>&1; then
	echo "1..0 # SKIP clang cannot build libFuzzer targets (install clang and libclang-rt-14-dev)"
	exit 0
fi

echo "1..$((1 + 2 * ${#TARGETS[@]}))"
N=1
if make -s all >"$probe/build.log" 2>&1; then
	echo "ok $N - the harnesses build"
else
	echo "not ok $N - the harnesses build"
	sed 's/^/# /' "$probe/build.log" | tail -n 30
	for t in "${TARGETS[@]}"; do
		N=$((N + 1)); echo "not ok $N - fuzz_$t replays its seeds # not built"
		N=$((N + 1)); echo "not ok $N - fuzz_$t runs ${FUZZ_SECONDS} s # not built"
	done
	exit 1
fi

fails=0
for t in "${TARGETS[@]}"; do
	bin=build/fuzz_$t
	N=$((N + 1))
	# Replay: every seed through the checks once (no mutation).
	if "$bin" -runs=0 corpus/"$t" >"$probe/replay-$t.log" 2>&1; then
		echo "ok $N - fuzz_$t replays its $(find corpus/"$t" -type f | wc -l) seeds"
	else
		echo "not ok $N - fuzz_$t replays its seeds"
		tail -n 30 "$probe/replay-$t.log" | sed 's/^/# /'
		fails=$((fails + 1))
	fi
	N=$((N + 1))
	rm -rf build/corpus/"$t"
	mkdir -p build/corpus/"$t"
	cp corpus/"$t"/* build/corpus/"$t"/
	if "$bin" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix=build/ -print_final_stats=1 build/corpus/"$t" >"$probe/fuzz-$t.log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$probe/fuzz-$t.log")
		echo "ok $N - fuzz_$t runs ${FUZZ_SECONDS} s without a crash (${runs:-?} inputs)"
	else
		echo "not ok $N - fuzz_$t runs ${FUZZ_SECONDS} s without a crash"
		grep -E 'ERROR|SUMMARY|Test unit written|round trip|disagree|says|^ *#[0-9]+ ' "$probe/fuzz-$t.log" | head -n 40 | sed 's/^/# /'
		fails=$((fails + 1))
	fi
done
((fails == 0))
