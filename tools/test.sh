#!/usr/bin/env bash
#
# tools/test.sh: build pylibmc_pg and run every test against real servers.
#
#   ./tools/test.sh [--only regress|tap] [FILTER]
#
# On a fresh Debian 12 machine, as root: installs the packages, builds and
# installs the extension, starts a memcached fleet and a throwaway
# PostgreSQL 15 cluster in a scratch dir, runs the pg_regress suite (make
# installcheck) and every executable test/*/*.t (TAP), stops everything and
# prints "N passed, N failed[, N skipped]" as its last line. Exit 0 only when
# nothing failed.
#
# FILTER keeps the TAP files whose path contains it and the regression tests
# (sql/NAME.sql) whose name contains it.
#
# Environment:
#   PMC_SKIP_APT=1     skip apt-get (quick reruns)
#   PMC_SKIP_BUILD=1   skip make clean all install
#   PMC_KEEP=1         keep the scratch dir (logs, env.sh) after the run
#   PMC_REPO=DIR       the checkout to build and test (default: this one)
#   PMC_TAP_TIMEOUT    seconds per TAP file (default 600)
#   PMC_REGRESS_TIMEOUT seconds for make installcheck (default 1800)
#   PMC_PG_CONF_EXTRA  extra postgresql.conf lines
set -euo pipefail

# shellcheck source=tools/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
	# The header comment, from its third line to its end.
	awk 'NR < 3 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "${BASH_SOURCE[0]}"
}

ONLY=""
FILTER=""
while (($#)); do
	case "$1" in
	--only)
		[[ $# -ge 2 && ($2 == regress || $2 == tap) ]] || {
			usage >&2
			exit 2
		}
		ONLY=$2
		shift 2
		;;
	--only=regress | --only=tap)
		ONLY=${1#--only=}
		shift
		;;
	-h | --help)
		usage
		exit 0
		;;
	-*)
		usage >&2
		exit 2
		;;
	*)
		[[ -z "$FILTER" ]] || {
			usage >&2
			exit 2
		}
		FILTER=$1
		shift
		;;
	esac
done

PASSED=0
FAILED=0
SKIPPED=0
SUBTOTALS=()
PHASE=setup

# subtotal NAME PASSED FAILED SKIPPED: add to the totals, remember a line.
subtotal() {
	local line="$1: $2 passed, $3 failed"
	(($4 == 0)) || line+=", $4 skipped"
	SUBTOTALS+=("$line")
	PASSED=$((PASSED + $2))
	FAILED=$((FAILED + $3))
	SKIPPED=$((SKIPPED + $4))
}

# shellcheck disable=SC2317 # called by the EXIT trap
# print_summary STATUS: the EXIT hook (after clean-up). Counts a failed
# set-up or an interruption as one failure, prints the subtotals and, as the
# very last line, the totals; returns the script's exit status.
print_summary() {
	local rc=$1
	if [[ -n "${PMC_INTERRUPTED:-}" ]]; then
		subtotal "interrupted (SIG$PMC_INTERRUPTED)" 0 1 0
	elif [[ $PHASE == setup && $rc -ne 0 ]]; then
		subtotal "setup" 0 1 0
	elif [[ $PHASE != finished && $rc -ne 0 ]]; then
		subtotal "harness error (status $rc)" 0 1 0
	fi
	local line
	for line in "${SUBTOTALS[@]}"; do echo "$line"; done
	line="$PASSED passed, $FAILED failed"
	((SKIPPED == 0)) || line+=", $SKIPPED skipped"
	echo "$line"
	if [[ -n "${PMC_INTERRUPTED:-}" ]]; then return "$rc"; fi
	((FAILED == 0 && rc == 0)) || return 1
	return 0
}

# run_regress: make installcheck (pg_regress) against the running cluster.
run_regress() {
	local log="$PMC_SCRATCH/logs/regress.log" rc=0 p f
	local -a make_args=()
	if [[ -n "$FILTER" ]]; then
		local t names=()
		for t in "$PMC_REPO"/sql/*.sql; do
			[[ -e "$t" ]] || continue
			t=$(basename "$t" .sql)
			[[ $t != *"$FILTER"* ]] || names+=("$t")
		done
		if ((${#names[@]} == 0)); then
			pmc_step "regress: no test matches '$FILTER'"
			return 0
		fi
		make_args=(REGRESS="${names[*]}")
	fi
	pmc_step "regress: make installcheck (log: $log)"
	pmc_run_logged "${PMC_REGRESS_TIMEOUT:-1800}" "$log" \
		make -C "$PMC_REPO" PG_CONFIG="$PMC_PG_CONFIG" installcheck "${make_args[@]}" || rc=$?
	grep -E '\.\.\. |^(not )?ok [0-9]+ |^ *(All [0-9]+ tests|[0-9]+ of [0-9]+ tests)' "$log" || true
	read -r p f < <(pmc_regress_count "$log")
	if ((rc != 0 && f == 0)); then
		pmc_error "make installcheck failed with status $rc and no failed test counted"
		pmc_show_log_tail "$log" 30
		f=1
	fi
	if ((f > 0)) && [[ -s "$PMC_REPO/regression.diffs" ]]; then
		echo "--- $PMC_REPO/regression.diffs (first 200 lines)"
		head -n 200 "$PMC_REPO/regression.diffs"
		echo "---"
	fi
	subtotal regress "$p" "$f" 0
}

# run_tap_file FILE: run one TAP file (path relative to $PMC_REPO) and add
# its counts to TAP_P/TAP_F/TAP_S.
run_tap_file() {
	local rel=$1 log rc=0 limit=${PMC_TAP_TIMEOUT:-600}
	local p f s plan n bail extra=0 why=()
	log="$PMC_SCRATCH/logs/tap-${rel//\//_}.log"
	echo "$rel .."
	pmc_run_logged "$limit" "$log" "./$rel" || rc=$?
	sed 's/^/    /' "$log"
	read -r p f s plan n bail < <(pmc_tap_count "$log")
	if ((rc != 0 && f == 0)); then
		case $rc in
		124 | 137) why+=("timed out after ${limit} s") ;;
		*) why+=("exited with status $rc") ;;
		esac
		extra=$((extra + 1))
	fi
	if ((plan != n)); then
		if ((plan < 0)); then why+=("no plan"); else why+=("planned $plan, ran $n"); fi
		extra=$((extra + 1))
	fi
	((bail == 0)) || why+=("bailed out")
	f=$((f + extra))
	if ((f == 0)); then
		if ((s == 0)); then echo "$rel .. ok ($p passed)"; else echo "$rel .. ok ($p passed, $s skipped)"; fi
	else
		echo "$rel .. FAILED ($p passed, $f failed, $s skipped${why[*]:+; ${why[*]}})"
	fi
	TAP_P=$((TAP_P + p))
	TAP_F=$((TAP_F + f))
	TAP_S=$((TAP_S + s))
}

# run_tap: every executable test/*/*.t, sorted, each with the environment
# of the run, from $PMC_REPO; the fleet is healed between files.
run_tap() {
	local f rel files=()
	while IFS= read -r f; do
		rel=${f#"$PMC_REPO"/}
		[[ -z "$FILTER" || $rel == *"$FILTER"* ]] || continue
		if [[ ! -x "$f" ]]; then
			pmc_error "tap: $rel is not executable, not run"
			continue
		fi
		files+=("$rel")
	done < <(for f in "$PMC_REPO"/test/*/*.t; do [[ -f "$f" ]] && printf '%s\n' "$f"; done | LC_ALL=C sort)
	pmc_step "tap: ${#files[@]} file(s) (logs: $PMC_SCRATCH/logs/tap-*.log)"
	TAP_P=0 TAP_F=0 TAP_S=0
	for rel in "${files[@]}"; do
		run_tap_file "$rel"
		pmc_fleet_heal || TAP_F=$((TAP_F + 1))
	done
	subtotal tap "$TAP_P" "$TAP_F" "$TAP_S"
}

pmc_install_traps print_summary
read -r -a FLEET <<<"$PMC_FLEET_ALL"
pmc_setup "${FLEET[@]}"
PHASE=tests
cd "$PMC_REPO"
[[ $ONLY == tap ]] || run_regress
[[ $ONLY == regress ]] || run_tap
PHASE=finished
((FAILED == 0)) || exit 1
exit 0
