# shellcheck shell=bash
#
# test/fault/lib.sh: helpers shared by the fault, cluster and memory TAP
# tests (sourced, never run).  They need the environment tools/test.sh
# exports (PGHOST, PMC_COMMON, ...).
#
#   tap_plan N | ok STATUS DESC | is GOT WANT DESC | between N LO HI DESC
#   fault_db NAME          create database NAME with the extension; dropped
#                          (and private memcacheds stopped) at exit
#   q SQL                  one psql -At call in $FAULT_DB, stdout+stderr
#   now_ms                 wall clock in milliseconds
#   sess_start / sess SQL / sess_stop
#                          one long-lived psql session (a coprocess): sess
#                          prints what that SQL printed, stdout and stderr
#                          interleaved, and returns when it is done

# shellcheck source=tools/lib/common.sh
source "$PMC_COMMON"

T_N=0
T_FAILS=0
FAULT_DB=""
FAULT_MC=()

tap_plan() { echo "1..$1"; }

# ok STATUS DESCRIPTION: ok when STATUS is 0.
ok() {
	T_N=$((T_N + 1))
	if [[ $1 -eq 0 ]]; then
		printf 'ok %d - %s\n' "$T_N" "$2"
	else
		printf 'not ok %d - %s\n' "$T_N" "$2"
		T_FAILS=$((T_FAILS + 1))
	fi
}

# is GOT WANT DESCRIPTION
is() {
	if [[ "$1" == "$2" ]]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		printf '#   got:  %s\n#   want: %s\n' "${1//$'\n'/\\n}" "${2//$'\n'/\\n}"
	fi
}

# like GOT ERE DESCRIPTION: ok when GOT matches the extended regex.
like() {
	if [[ "$1" =~ $2 ]]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		printf '#   got:  %s\n#   want: /%s/\n' "${1//$'\n'/\\n}" "$2"
	fi
}

# unlike GOT ERE DESCRIPTION
unlike() {
	if [[ "$1" =~ $2 ]]; then
		ok 1 "$3"
		printf '#   got:  %s\n#   must not match: /%s/\n' "${1//$'\n'/\\n}" "$2"
	else
		ok 0 "$3"
	fi
}

# between N LO HI DESCRIPTION: integer LO <= N <= HI.
between() {
	if [[ "$1" =~ ^-?[0-9]+$ ]] && (($1 >= $2 && $1 <= $3)); then
		ok 0 "$4"
	else
		ok 1 "$4"
		printf '#   got: %s, want %s..%s\n' "$1" "$2" "$3"
	fi
}

diag() { printf '# %s\n' "$*"; }

now_ms() { echo $(($(date +%s%N) / 1000000)); }

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

# tap_done: the exit status (0 when every test passed).
tap_done() {
	((T_FAILS == 0))
}
