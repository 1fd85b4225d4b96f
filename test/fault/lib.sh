# shellcheck shell=bash
#
# test/fault/lib.sh: helpers shared by the fault, cluster and memory TAP
# tests (sourced, never run).  They need the environment tools/test.sh
# exports (PGHOST, PMC_COMMON, ...).
#
#   (TAP: tap_plan, ok, is, like, unlike, between, tap_done: test/lib/tap.sh)
#   fault_db NAME          create database NAME with the extension; dropped
#                          (and private memcacheds stopped) at exit
#   q SQL                  one psql -At call in $FAULT_DB, stdout+stderr
#   now_ms                 wall clock in milliseconds
#   run_own_setup NAME OUTVAR SCRIPT [VAR=VALUE...]
#                          run a script that makes its own cluster and servers
#                          (test/memory/*.sh) in a clean environment
#   sess_start / sess SQL / sess_stop
#                          one long-lived psql session (a coprocess): sess
#                          prints what that SQL printed, stdout and stderr
#                          interleaved, and returns when it is done

# shellcheck source=tools/lib/common.sh
source "$PMC_COMMON"
# shellcheck source=test/lib/tap.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"

FAULT_DB=""
FAULT_MC=()

diag() { printf '# %s\n' "$*"; }

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# run_own_setup NAME OUTVAR SCRIPT [VAR=VALUE...]: run SCRIPT, which sets up
# its own cluster and servers, with only PATH, HOME, LANG, PMC_SKIP_APT=1,
# OUTVAR=$RUN_OUT and the VAR=VALUE words in its environment.  RUN_OUT is
# $OUTVAR if set, else a new /tmp/pylibmc_pg-NAME.XXXXXX; the output goes to
# RUN_LOG ($RUN_OUT.log), the exit status to RUN_RC.  run_own_cleanup
# removes both when the directory was ours and every check passed.
run_own_setup() {
	local name=$1 outvar=$2 script=$3
	shift 3
	RUN_OUT=${!outvar:-}
	RUN_MINE=0
	[[ -n $RUN_OUT ]] || { RUN_OUT=$(mktemp -d "/tmp/pylibmc_pg-$name.XXXXXX"); RUN_MINE=1; }
	RUN_LOG="$RUN_OUT.log"
	echo "# $script output: $RUN_LOG; reports: $RUN_OUT"
	env -i PATH="$PATH" HOME="${HOME:-/root}" LANG=C.UTF-8 PMC_SKIP_APT=1 \
		"$outvar=$RUN_OUT" "$@" "$script" >"$RUN_LOG" 2>&1
	RUN_RC=$?
}

run_own_cleanup() {
	if ((T_FAILS == 0 && RUN_MINE)); then rm -rf "$RUN_OUT" "$RUN_LOG"; fi
}

# mc_private VAR NAME [ARGS...]: start a private memcached NAME (stopped
# and unregistered at exit) and set VAR to its host:port.
mc_private() {
	local addr
	addr=$(pmc_mc_start "${@:2}") || return 1
	FAULT_MC+=("$2")
	printf -v "$1" '%s' "$addr"
}

fault__cleanup() {
	local name
	sess_stop
	for name in "${FAULT_MC[@]}"; do
		pmc_mc_stop "$name" >/dev/null 2>&1 || true
		rm -rf "$(pmc__mc_dir "$name")"
	done
	if [[ -n "$FAULT_DB" ]]; then
		"$PG_BINDIR/psql" -X -q -d postgres -c "DROP DATABASE IF EXISTS \"$FAULT_DB\" WITH (FORCE)" >/dev/null 2>&1 || true
	fi
}

# fault_db NAME: a fresh database with the extension, for this file only.
fault_db() {
	FAULT_DB=$1
	trap 'fault__cleanup' EXIT
	"$PG_BINDIR/psql" -X -q -d postgres -v ON_ERROR_STOP=1 \
		-c "SET client_min_messages = warning" \
		-c "DROP DATABASE IF EXISTS \"$FAULT_DB\" WITH (FORCE)" \
		-c "CREATE DATABASE \"$FAULT_DB\"" >/dev/null &&
		"$PG_BINDIR/psql" -X -q -d "$FAULT_DB" -v ON_ERROR_STOP=1 \
			-c "CREATE EXTENSION pylibmc_pg" >/dev/null || {
		echo "Bail out! could not create database $FAULT_DB with pylibmc_pg"
		exit 1
	}
}

# q SQL...: run the SQL (several -c allowed via extra args) in $FAULT_DB;
# unaligned, tuples only, stdout and stderr together.
q() {
	local -a args=()
	local s
	for s in "$@"; do args+=(-c "$s"); done
	"$PG_BINDIR/psql" -X -q -At -d "$FAULT_DB" "${args[@]}" 2>&1
}

# ---- one long-lived session ----
SESS_SEQ=0
SESS_PID=""

sess_start() {
	coproc SESS { exec "$PG_BINDIR/psql" -X -q -At -d "$FAULT_DB" -v ON_ERROR_STOP=0 2>&1; }
}

# sess_send SQL: send SQL (statements and psql meta commands) to the
# session without waiting; sess_wait [TIMEOUT_S] then prints its output and
# returns when it is done (1 after TIMEOUT_S seconds, default 30).
sess_send() {
	local sql=$1
	[[ -n "$SESS_PID" ]] || return 1
	SESS_SEQ=$((SESS_SEQ + 1))
	# a statement left without its semicolon would wait in psql's buffer
	[[ "$sql" =~ \;[[:space:]]*$ ]] || sql+=";"
	printf '%s\n\\echo __sess_done_%d__\n' "$sql" "$SESS_SEQ" >&"${SESS[1]}"
}

sess_wait() {
	local limit=${1:-30} line out="" marker="__sess_done_${SESS_SEQ}__"
	while IFS= read -r -t "$limit" -u "${SESS[0]}" line; do
		[[ "$line" == "$marker" ]] && { printf '%s' "$out"; return 0; }
		out+="${out:+$'\n'}$line"
	done
	printf '%s' "$out"
	return 1
}

# sess SQL [TIMEOUT_S]: both.
sess() {
	sess_send "$1" && sess_wait "${2:-30}"
}

sess_stop() {
	if [[ -n "${SESS_PID:-}" ]]; then
		printf '\\q\n' >&"${SESS[1]}" 2>/dev/null || true
		kill "$SESS_PID" 2>/dev/null || true
		wait "$SESS_PID" 2>/dev/null || true
		SESS_PID=""
	fi
}

