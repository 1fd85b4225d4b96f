#!/usr/bin/env bash
#
# test/memory/asan.t: the regression suite against pylibmc_pg built with
# AddressSanitizer and UBSan, in the test command.  Runs
# test/memory/asan.sh (its own throwaway cluster, the instrumented build
# loaded by a private copy of PostgreSQL with the ASan runtime preloaded;
# under a minute here) and checks:
#   - the ASan runtime was mapped into the postmaster and the extension
#     loaded (asan.sh stops otherwise);
#   - every regression test passed (ASan is fast enough for their timings);
#   - no ASan or UBSan report, and no process killed by a signal.
# Reports and logs stay in ASAN_OUT (default: a directory under /tmp, printed, and
# removed when every check passed).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=test/fault/lib.sh
source test/fault/lib.sh

tap_plan 4
run_own_setup asan ASAN_OUT test/memory/asan.sh
out=$RUN_OUT log=$RUN_LOG rc=$RUN_RC
summary="$out/summary.txt"
planned=$(find sql -name '*.sql' | wc -l)

ok "$(grep -q 'ASan runtime mapped; extension loads: t' "$log"; echo $?)" \
	"postgres runs with the ASan runtime and loads the instrumented extension"
like "$(cat "$log")" "All $planned tests passed" "all $planned regression tests pass under ASan"
is "$(awk -F': ' '/^ASan\/UBSan reports:/ {print $2}' "$summary" 2>/dev/null)|$(awk -F': ' '/^processes terminated by a signal:/ {print $2}' "$summary" 2>/dev/null)" \
	"0|0" "no ASan or UBSan report, no process killed by a signal"
is "$rc" 0 "asan.sh exit status"
[[ $rc -eq 0 ]] || { sed 's/^/# /' "$summary" 2>/dev/null | head -n 60; tail -n 20 "$log" | sed 's/^/# /'; }
run_own_cleanup
tap_done
