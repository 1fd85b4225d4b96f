# shellcheck shell=bash
#
# test/exchange/lib.sh: helpers of the exchange tests (issue 12: one
# guarded path for every memcached call), sourced, never run.  On top of
# test/fault/lib.sh (fault_db, q, sess, mc_private, TAP):
#
#   qv SQL...              q with VERBOSITY verbose (SQLSTATEs shown)
#   tsess SQL [LIMIT_S]    sess, timed: sets OUT and MS; on a hang past
#                          LIMIT_S (default 20) it runs ON_HANG (a command,
#                          e.g. SIGCONT a server) and waits for the end, so
#                          the session stays usable; MS is then the time
#                          up to the hang's end
#   signaller SQL          run SQL in another session in the background
#                          (SIG_PID); signaller_wait waits for it
#   events "T:WHAT ..."    SQL for signaller: at T seconds after its start
#                          WHAT = reload (pg_reload_conf: SIGHUP to every
#                          backend), notify (NOTIFY exch: SIGUSR1 to the
#                          listening session), cancel (pg_cancel_backend)
#                          of the backend $TARGET_PID
#   storm SECONDS PERIOD_MS   SQL for signaller: pg_reload_conf() every
#                          PERIOD_MS for SECONDS
#   peer_start VAR MODE    start test/lib/mcpeer.py MODE; VAR=127.0.0.1:port
#   peer_stop              kill it (by PID)
#   pg_alive_since OFFSET  no backend crash in the server log after OFFSET
#   wait_pg                wait (30 s) until the cluster accepts connections

# shellcheck source=test/fault/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../fault/lib.sh"

# sess_start with SQLSTATEs shown (VERBOSITY verbose)
sess_start_verbose() {
	coproc SESS { exec "$PG_BINDIR/psql" -X -q -At -d "$FAULT_DB" -v ON_ERROR_STOP=0 -v VERBOSITY=verbose 2>&1; }
}

qv() {
	local -a args=(-v VERBOSITY=verbose)
	local s
	for s in "$@"; do args+=(-c "$s"); done
	"$PG_BINDIR/psql" -X -q -At -d "$FAULT_DB" "${args[@]}" 2>&1
}

ON_HANG=":"
tsess() {
	local limit=${2:-20} t0 rc
	t0=$(now_ms)
	sess_send "$1"
	OUT=$(sess_wait "$limit")
	rc=$?
	MS=$(($(now_ms) - t0))
	if ((rc != 0)); then
		diag "statement still running after ${limit} s: $1"
		eval "$ON_HANG"
		OUT+=$'\n'$(sess_wait 60)
		MS=$(($(now_ms) - t0))
		diag "... it ended after ${MS} ms, once ON_HANG ran"
		HUNG=1 # for callers that want to know
	else
		HUNG=0
	fi
}

# sess_include FILE [TIMEOUT_S]: the session runs the SQL file (\i), and
# its output is printed as for sess (no pipe deadlock on a long script)
sess_include() {
	SESS_SEQ=$((SESS_SEQ + 1))
	printf '\\i %s\n\\echo __sess_done_%d__\n' "$1" "$SESS_SEQ" >&"${SESS[1]}"
	sess_wait "${2:-30}"
}

SIG_PID=""
signaller() {
	"$PG_BINDIR/psql" -X -q -At -d "$FAULT_DB" -c "$1" >/dev/null 2>&1 &
	SIG_PID=$!
}
signaller_wait() {
	[[ -n "$SIG_PID" ]] && wait "$SIG_PID" 2>/dev/null
	SIG_PID=""
}

# events "0.2:reload 0.7:cancel ...": one DO block that sleeps until each
# moment (measured from its own start) and then signals
events() {
	local sql="DO \$\$ DECLARE t0 timestamptz := clock_timestamp(); BEGIN " ev t what
	for ev in $1; do
		t=${ev%%:*} what=${ev#*:}
		sql+="PERFORM pg_sleep(greatest(0, $t - extract(epoch FROM clock_timestamp() - t0))); "
		case $what in
		reload) sql+="PERFORM pg_reload_conf(); " ;;
		notify) sql+="PERFORM pg_notify('exch', 'x'); " ;;
		cancel) sql+="PERFORM pg_cancel_backend($TARGET_PID); " ;;
		esac
	done
	echo "$sql END \$\$"
}

storm() {
	echo "DO \$\$ DECLARE t_end timestamptz := clock_timestamp() + interval '$1 s'; BEGIN
		WHILE clock_timestamp() < t_end LOOP
			PERFORM pg_reload_conf();
			PERFORM pg_sleep($2 / 1000.0);
		END LOOP; END \$\$"
}

PEER_PID=""
peer_start() {
	local var=$1 mode=$2 portfile port=""
	portfile=$(mktemp)
	"$PMC_PYTHON" "$(dirname "${BASH_SOURCE[0]}")/../lib/mcpeer.py" "$mode" 300 >"$portfile" 2>/dev/null </dev/null &
	PEER_PID=$!
	for _ in $(seq 1 50); do
		read -r port <"$portfile" 2>/dev/null
		[[ -n $port ]] && break
		sleep 0.1
	done
	rm -f "$portfile"
	[[ -n $port ]] || return 1
	printf -v "$var" '127.0.0.1:%s' "$port"
}
peer_stop() {
	if [[ -n "$PEER_PID" ]]; then
		kill "$PEER_PID" 2>/dev/null
		wait "$PEER_PID" 2>/dev/null
		PEER_PID=""
	fi
}

# mc_stop PID: SIGSTOP a memcached and wait until every thread of it is
# stopped (a request sent at once may otherwise still be answered)
mc_stop() {
	local pid=$1 _ f st all
	kill -STOP "$pid" || return 1
	for _ in $(seq 1 100); do
		all=1
		for f in /proc/"$pid"/task/*/stat; do
			st=$(cut -d' ' -f3 "$f" 2>/dev/null)
			[[ $st == T || $st == t ]] || all=0
		done
		((all)) && break
		sleep 0.01
	done
	sleep 0.05
}

pg_log_offset() { stat -c %s "$PMC_SCRATCH/pg.log" 2>/dev/null || echo 0; }

# sess_reads KEY WANT: the session reads WANT for KEY again within 6 s (a
# server woken after a timeout may be marked failed for retry_timeout)
sess_reads() {
	local _
	for _ in $(seq 1 60); do
		[[ $(sess "SELECT mc_get('$1')") == "$2" ]] && return 0
		sleep 0.1
	done
	return 1
}

# still_up LABEL: two checks after a hostile reply: no backend crashed, no
# allocator complaint reached the server log, the postmaster did not restart
# (since LOGOFF and START, which the caller sets; both are moved on); and the
# idle session IDLE_PID still answers (a new one is started if not, so that
# the next checks stand on their own).
still_up() {
	local label=$1 crashes now pid heap
	wait_pg
	crashes=$(pg_crashes_since "$LOGOFF")
	heap=$(tail -c +"$((LOGOFF + 1))" "$PMC_SCRATCH/pg.log" | grep -c 'free()\|corrupted\|double free\|stack smashing')
	now=$(q "SELECT pg_postmaster_start_time()")
	if [[ $crashes == 0 && $heap == 0 && $now == "$START" ]]; then
		ok 0 "$label: no backend crashed, no heap complaint, the postmaster did not restart"
	else
		ok 1 "$label: no backend crashed, no heap complaint, the postmaster did not restart"
		diag "crash lines: $crashes; heap lines: $heap; postmaster start time $START -> $now"
		tail -c +"$((LOGOFF + 1))" "$PMC_SCRATCH/pg.log" | grep -i 'terminated\|abort\|assert\|free()\|corrupted\|smashing' | head -5 | sed 's/^/# /'
	fi
	pid=$(sess "SELECT pg_backend_pid()" 10)
	is "$pid" "$IDLE_PID" "$label: the idle session is still connected and answers"
	if [[ $pid != "$IDLE_PID" ]]; then
		sess_stop
		sess_start
		IDLE_PID=$(sess "SELECT pg_backend_pid()")
	fi
	LOGOFF=$(pg_log_offset)
	START=$now
}

# pg_crashes_since OFFSET: number of backend crashes logged after OFFSET
pg_crashes_since() {
	tail -c +"$(($1 + 1))" "$PMC_SCRATCH/pg.log" | grep -c 'terminated by signal\|was terminated by exception\|server process .* exited with exit code'
}

wait_pg() {
	local _
	for _ in $(seq 1 300); do
		"$PG_BINDIR/psql" -X -q -At -d "$FAULT_DB" -c 'SELECT 1' >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# sqlstate OUT: the first SQLSTATE of an ERROR in verbose output, or "none"
sqlstate() {
	local s
	s=$(sed -n 's/^ERROR:  \([0-9A-Z]\{5\}\): .*/\1/p' <<<"$1" | head -n 1)
	echo "${s:-none}"
}

exchange__cleanup() {
	signaller_wait
	peer_stop
	fault__cleanup
}
