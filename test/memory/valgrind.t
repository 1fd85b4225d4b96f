#!/usr/bin/env bash
#
# test/memory/valgrind.t: the regression suite under valgrind, in the test
# command.  Runs test/memory/valgrind.sh (its own throwaway cluster, every
# postgres process under memcheck with PostgreSQL's suppressions; about four
# minutes here) and checks its summary:
#   - it traced processes, and the regression tests ran to their end (their
#     diffs do not count: valgrind makes timing-bound tests fail);
#   - no invalid read or write, use of uninitialised memory or definite leak
#     with a pylibmc_pg, libmemcached, libhashkit or zlib frame in its stack
#     (libmemcached's own UDP frame-header report is counted apart by the
#     script: a plain C program doing a UDP set shows it too).
# The logs of any process that reported something are kept in VALGRIND_OUT
# (default: a directory under /tmp, printed, and removed
# when every check passed).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=test/fault/lib.sh
source test/fault/lib.sh

tap_plan 4
run_own_setup valgrind VALGRIND_OUT test/memory/valgrind.sh PMC_SKIP_BUILD=1
out=$RUN_OUT log=$RUN_LOG rc=$RUN_RC
summary="$out/summary.txt"

traced=$(awk -F': ' '/^processes traced:/ {print $2}' "$summary" 2>/dev/null)
ours=$(awk -F': ' '/^errors involving/ {print $2}' "$summary" 2>/dev/null)
ran=$(grep -cE '^(ok|not ok) [0-9]+ |\.\.\. (ok|FAILED)' "$log" 2>/dev/null)
planned=$(find sql -name '*.sql' | wc -l)

ok "$([[ -s "$summary" && ${traced:-0} -gt 0 ]]; echo $?)" \
	"valgrind.sh ran the cluster under valgrind (${traced:-0} processes traced)"
ok "$([[ ${ran:-0} -ge $planned ]]; echo $?)" \
	"all $planned regression tests ran under valgrind (${ran:-0} reported)"
is "${ours:-none}" 0 "no invalid access, uninitialised use or definite leak in pylibmc_pg, libmemcached or zlib frames"
is "$rc" 0 "valgrind.sh exit status"
[[ $rc -eq 0 ]] || { sed 's/^/# /' "$summary" 2>/dev/null | head -n 60; tail -n 20 "$log" | sed 's/^/# /'; }
run_own_cleanup
tap_done
