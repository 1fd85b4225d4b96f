# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables set here are read by the callers
#
# tools/lib/common.sh: the shared part of the pylibmc_pg test and demo harness.
#
# Sourced by tools/test.sh, tools/demo.sh, the test scripts under test/ and the
# benchmark. Sourcing it only defines variables and functions: it starts
# nothing, installs no trap and changes no shell option of the caller.
#
# The names below are an interface: other scripts call them, so keep them
# stable. Public functions start with "pmc_", private helpers with "pmc__".
#
# The environment a test sees (exported by pmc_export_env, also written to
# $PMC_SCRATCH/env.sh so that a developer can `source` it):
#   PGHOST PGPORT PGUSER PGDATABASE   the throwaway PostgreSQL 15 cluster
#   PG_BINDIR                         /usr/lib/postgresql/15/bin (or --pg N's)
#   PMC_SCRATCH PMC_REPO PMC_COMMON   scratch dir, checkout under test, this file
#   PMC_TCP PMC_TCP_PORT              plain TCP memcached (host:port, port)
#   PMC_UNIX                          UNIX-socket memcached (socket path)
#   PMC_UDP PMC_UDP_PORT              memcached with TCP and UDP on one port
#                                     (udp:127.0.0.1:P, P)
#   PMC_MULTI PMC_M1_PORT PMC_M2_PORT PMC_M3_PORT
#                                     three TCP servers (comma list, ports)
#   PMC_SASL PMC_SASL_USER PMC_SASL_PASSWORD
#                                     SASL (binary protocol, PLAIN) server
#   PMC_DOWN                          host:port where nothing listens
#   PMC_PYTHON                        /usr/bin/python3 (the one with pylibmc)

# Debian packages the harness, the build and the tests need (one list, reused
# by every script that installs them).
PMC_PACKAGES="build-essential postgresql-15 postgresql-server-dev-15 \
postgresql-contrib libmemcached-dev libmemcached-tools memcached zlib1g-dev libdeflate-dev \
libsasl2-dev libsasl2-modules sasl2-bin python3 python3-pylibmc \
postgresql-15-pgmemcache libipc-run-perl clang valgrind gnuplot-nox \
netcat-openbsd procps iproute2 libclang-rt-14-dev nutcracker cmake bison flex libssl-dev \
prometheus-postgres-exporter stunnel4 openssl tcpdump debhelper postgresql-server-dev-all lintian"

# The system's PostgreSQL 15. tools/test.sh --pg N points PG_BINDIR and
# PMC_PG_CONFIG at another major (tools/lib/pgversions.sh); the tests it runs
# inherit PG_BINDIR through the environment, so a value already set is kept.
PMC_SYSTEM_PG_BINDIR=/usr/lib/postgresql/15/bin
PG_BINDIR=${PG_BINDIR:-$PMC_SYSTEM_PG_BINDIR}
PMC_PG_CONFIG=${PMC_PG_CONFIG:-$PMC_SYSTEM_PG_BINDIR/pg_config}
PMC_PYTHON=/usr/bin/python3

# The standard fleet of memcached servers, in start order ("down" is a port).
PMC_FLEET_ALL="tcp unix udp m1 m2 m3 sasl down"

PMC_SASL_USER=pmcuser
PMC_SASL_PASSWORD=pmc-secret-pw

# This file, the checkout it belongs to, and the checkout under test (which
# defaults to that one; point PMC_REPO elsewhere to test a stand-in).
PMC_COMMON="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"
PMC_HARNESS_ROOT="$(cd "$(dirname "$PMC_COMMON")/../.." && pwd)"
PMC_REPO="$(cd "${PMC_REPO:-$PMC_HARNESS_ROOT}" && pwd)"

# PID of the command pmc_run_logged is waiting for (killed on interrupt).
PMC_CHILD_PID=""

# --------------------------------------------------------------------------
# Messages

# pmc_step MSG...: print one progress line ("==> MSG") on stdout.
pmc_step() {
	printf '==> %s\n' "$*"
}

# pmc_error MSG...: print an error line on stderr.
pmc_error() {
	printf '!!! %s\n' "$*" >&2
}

# pmc_show_log_tail FILE [LINES]: print the last lines of a log (default 40)
# on stderr, framed, so that a failed step shows why.
pmc_show_log_tail() {
	local file=$1 lines=${2:-40}
	[[ -s "$file" ]] || return 0
	printf -- '--- last %s lines of %s\n' "$lines" "$file" >&2
	tail -n "$lines" "$file" | sed 's/^/    /' >&2
	printf -- '---\n' >&2
}

# pmc_die MSG [LOG]: print MSG (and the tail of LOG, if given) and exit 1.
pmc_die() {
	pmc_error "$1"
	[[ $# -lt 2 ]] || pmc_show_log_tail "$2"
	exit 1
}

# --------------------------------------------------------------------------
# Running commands

# pmc_run_logged SECONDS LOG CMD [ARGS...]: run CMD with stdin from /dev/null
# and stdout and stderr appended to LOG, killed after SECONDS; return its exit
# status (124 on timeout). It runs in the background and is waited for, so
# that a signal to the calling script is handled at once rather than after
# CMD ends; `timeout` makes CMD's process group killable as a whole.
pmc_run_logged() {
	local limit=$1 log=$2 rc=0
	shift 2
	timeout -k 10 "$limit" "$@" </dev/null >>"$log" 2>&1 &
	PMC_CHILD_PID=$!
	wait "$PMC_CHILD_PID" || rc=$?
	PMC_CHILD_PID=""
	return "$rc"
}

# pmc_wait_until SECONDS CMD [ARGS...]: run CMD every 0.1 s until it succeeds
# (return 0) or SECONDS have passed (return 1).
pmc_wait_until() {
	local deadline=$((SECONDS + $1))
	shift
	while true; do
		"$@" && return 0
		((SECONDS < deadline)) || return 1
		sleep 0.1
	done
}

# pmc_require_root: exit with a clear message unless running as root (the
# harness installs packages and runs servers as the postgres and memcache
# users).
pmc_require_root() {
	[[ $(id -u) -eq 0 ]] || pmc_die "run this as root: it installs packages and starts servers as the postgres and memcache users"
}

# --------------------------------------------------------------------------
# Set-up steps

# pmc_install_packages LOG: apt-get update and install $PMC_PACKAGES, output
# to LOG. Skipped when PMC_SKIP_APT=1.
pmc_install_packages() {
	local log=$1
	if [[ ${PMC_SKIP_APT:-0} == 1 ]]; then
		pmc_step "apt: skipped (PMC_SKIP_APT=1)"
		return 0
	fi
	local -a pkgs apt_opts=(-o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0)
	read -r -a pkgs <<<"$PMC_PACKAGES"
	pmc_step "apt: installing ${#pkgs[@]} packages (log: $log)"
	DEBIAN_FRONTEND=noninteractive pmc_run_logged 1800 "$log" \
		apt-get "${apt_opts[@]}" update ||
		pmc_die "apt-get update failed" "$log"
	DEBIAN_FRONTEND=noninteractive pmc_run_logged 3600 "$log" \
		apt-get "${apt_opts[@]}" install -y --no-install-recommends "${pkgs[@]}" ||
		pmc_die "apt-get install failed" "$log"
}

# pmc_build_extension LOG: make clean all install in $PMC_REPO with the
# PostgreSQL 15 pg_config, output to LOG. Skipped when PMC_SKIP_BUILD=1.
pmc_build_extension() {
	local log=$1
	if [[ ${PMC_SKIP_BUILD:-0} == 1 ]]; then
		pmc_step "build: skipped (PMC_SKIP_BUILD=1)"
		return 0
	fi
	pmc_step "build: make clean all install in $PMC_REPO (log: $log)"
	[[ -f "$PMC_REPO/Makefile" ]] || pmc_die "no Makefile in $PMC_REPO"
	# the scripts an earlier install left: one the tree no longer has (a
	# full script of the default version) would go on serving CREATE EXTENSION
	rm -f "$("$PMC_PG_CONFIG" --sharedir)"/extension/pylibmc_pg--*.sql
	pmc_run_logged 1800 "$log" make -C "$PMC_REPO" PG_CONFIG="$PMC_PG_CONFIG" clean all install ||
		pmc_die "build failed" "$log"
}

# pmc_make_scratch: create the scratch directory (exported as PMC_SCRATCH)
# with logs/ inside. Call pmc_share_scratch once the service users exist.
pmc_make_scratch() {
	PMC_SCRATCH=$(mktemp -d /tmp/pylibmc_pg.XXXXXX)
	export PMC_SCRATCH
	chmod 755 "$PMC_SCRATCH"
	mkdir -p "$PMC_SCRATCH/logs" "$PMC_SCRATCH/fleet"
	: >"$PMC_SCRATCH/ports.reserved"
	pmc_step "scratch: $PMC_SCRATCH"
}

# pmc_share_scratch: let the service users write where they must. PostgreSQL
# puts its socket and lock file in $PMC_SCRATCH (it is unix_socket_directories
# and PGHOST) and memcached creates $PMC_SCRATCH/mc.sock after it has dropped
# to the memcache user, so the directory is postgres:memcache, mode 0775;
# memcached's pidfiles go to $PMC_SCRATCH/mc, owned by memcache.
pmc_share_scratch() {
	id postgres >/dev/null 2>&1 || pmc_die "no postgres user: is postgresql-15 installed?"
	id memcache >/dev/null 2>&1 || pmc_die "no memcache user: is memcached installed?"
	chown postgres:memcache "$PMC_SCRATCH"
	chmod 0775 "$PMC_SCRATCH"
	mkdir -p "$PMC_SCRATCH/mc"
	chown memcache:memcache "$PMC_SCRATCH/mc"
}

# --------------------------------------------------------------------------
# Ports

# pmc_port_is_free PORT: true when no TCP and no UDP socket uses PORT.
pmc_port_is_free() {
	local p=$1
	[[ -z "$(ss -Htan "sport = :$p" 2>/dev/null)" ]] &&
		[[ -z "$(ss -Huan "sport = :$p" 2>/dev/null)" ]]
}

# pmc_throwaway_initdb DIR DATA PORT: a scratch cluster for a TAP test that
# needs its own (preload, its own settings): initdb as the postgres user in
# DATA, listening only on a UNIX socket in DIR at PORT, fsync off.  The
# test appends its own settings to DATA/postgresql.conf.  On failure, the
# end of initdb's log and a TAP "Bail out!".
pmc_throwaway_initdb() {
	local dir=$1 data=$2 port=$3
	(cd "$dir" && runuser -u postgres -- "$PG_BINDIR/initdb" -D "$data" -U postgres --auth=trust \
		--no-sync -E UTF8 --locale=C.UTF-8) >"$dir/initdb.log" 2>&1 || {
		sed 's/^/#   /' "$dir/initdb.log" | tail -5
		echo "Bail out! initdb failed"
		exit 1
	}
	cat >>"$data/postgresql.conf" <<-EOF
		port = $port
		listen_addresses = ''
		unix_socket_directories = '$dir'
		fsync = off
	EOF
}

# pmc_free_port: print a port that is free for TCP and UDP and not handed
# out before in this run. Ports come from below the kernel's ephemeral range,
# so that outgoing connections cannot take them meanwhile.
pmc_free_port() {
	local lo=15000 hi eph _rest
	read -r eph _rest </proc/sys/net/ipv4/ip_local_port_range || eph=32768
	hi=$((eph - 1))
	((hi - lo >= 1000)) || { lo=1025; }
	local reserved="${PMC_SCRATCH:+$PMC_SCRATCH/ports.reserved}"
	# The lock makes check-and-reserve atomic between concurrent callers.
	(
		if [[ -n "$reserved" ]]; then flock 9; fi
		local i p
		for ((i = 0; i < 500; i++)); do
			p=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo + 1)))
			if [[ -n "$reserved" ]] && grep -qx "$p" "$reserved"; then continue; fi
			pmc_port_is_free "$p" || continue
			if [[ -n "$reserved" ]]; then echo "$p" >>"$reserved"; fi
			echo "$p"
			exit 0
		done
		exit 1
	) 9>>"${reserved:-/dev/null}" || {
		pmc_error "no free port found between $lo and $hi"
		return 1
	}
}

# --------------------------------------------------------------------------
# Talking to memcached

# pmc__nc ARGS...: the OpenBSD netcat (nc may be another flavour).
pmc__nc() {
	if command -v nc.openbsd >/dev/null; then nc.openbsd "$@"; else nc "$@"; fi
}

# pmc_mc_version ADDR: print the version a memcached reports with the ASCII
# `version` command; ADDR is host:port, /path/to.sock or udp:host:port (the
# UDP request carries memcached's 8-byte frame header). Return 1 without an
# answer.
pmc_mc_version() {
	local addr=$1 reply
	case "$addr" in
	udp:*)
		local hp=${addr#udp:}
		reply=$(printf '\x00\x01\x00\x00\x00\x01\x00\x00version\r\n' |
			pmc__nc -u -w 1 "${hp%:*}" "${hp##*:}" 2>/dev/null | tr -cd '[:print:]\n') || true
		;;
	/*)
		reply=$(printf 'version\r\n' | pmc__nc -N -w 2 -U "$addr" 2>/dev/null | tr -d '\r') || true
		;;
	*)
		reply=$(printf 'version\r\n' | pmc__nc -N -w 2 "${addr%:*}" "${addr##*:}" 2>/dev/null | tr -d '\r') || true
		;;
	esac
	[[ "$reply" =~ VERSION\ ([^[:space:]]+) ]] || return 1
	printf '%s\n' "${BASH_REMATCH[1]}"
}

# pmc_mc_version_binary HOST:PORT: the same with the binary protocol (a SASL
# server speaks only that; VERSION needs no authentication).
pmc_mc_version_binary() {
	local addr=$1 reply
	reply=$(printf '\x80\x0b\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00' |
		pmc__nc -N -w 2 "${addr%:*}" "${addr##*:}" 2>/dev/null | tail -c +25 | tr -cd '[:print:]') || true
	[[ "$reply" =~ ^[0-9][0-9A-Za-z.-]*$ ]] || return 1
	printf '%s\n' "$reply"
}

# --------------------------------------------------------------------------
# memcached servers
#
# Each server started here is registered in $PMC_SCRATCH/fleet/NAME/ (files:
# pid, port, mode, env and args), so that any process of the run, a test
# included, can stop or restart it, and pmc_cleanup stops them all.

pmc__mc_dir() { printf '%s/fleet/%s\n' "$PMC_SCRATCH" "$1"; }

# pmc__mc_host NAME: the loopback address NAME listens on (127.0.0.1 unless
# it was started with PMC_MC_HOST).
pmc__mc_host() {
	local f
	f="$(pmc__mc_dir "$1")/host"
	if [[ -r "$f" ]]; then cat "$f"; else echo 127.0.0.1; fi
}

# pmc__pid_alive PID: true when PID is a live (possibly stopped) memcached,
# not a zombie and not a recycled PID.
pmc__pid_alive() {
	local pid=$1 _p comm state _rest
	[[ -n "$pid" && -r "/proc/$pid/stat" ]] || return 1
	read -r _p comm state _rest <"/proc/$pid/stat" 2>/dev/null || return 1
	[[ "$comm" == "(memcached)" && "$state" != Z && "$state" != X ]]
}

pmc__pid_gone() { ! pmc__pid_alive "$1"; }

# pmc__mc_launch NAME: start the server registered as NAME (port, env, args
# from its registry dir) and record its PID.
pmc__mc_launch() {
	local name=$1 dir port mode
	dir=$(pmc__mc_dir "$name")
	port=$(<"$dir/port")
	mode=$(<"$dir/mode")
	local -a envs=() args=() cmd
	mapfile -d '' -t envs <"$dir/env"
	mapfile -d '' -t args <"$dir/args"
	cmd=(memcached -u memcache -P "$PMC_SCRATCH/mc/$name.pid")
	if [[ "$mode" != unix ]]; then
		cmd+=(-l "$(pmc__mc_host "$name")" -p "$port")
		# UDP stays off unless asked for (explicit for older memcached).
		[[ " ${args[*]} " == *" -U "* || " ${args[*]} " == *" --udp-port"* ]] || cmd+=(-U 0)
	fi
	local a
	for a in "${args[@]}"; do cmd+=("${a//@PORT@/$port}"); done
	printf '%s: %s\n' "$(date '+%F %T')" "${cmd[*]}" >>"$PMC_SCRATCH/logs/memcached-$name.log"
	# env execs memcached, so $! is memcached's PID. Its output goes to a log
	# (never to the caller's stdout, which may be a pipe someone waits on).
	env "${envs[@]}" "${cmd[@]}" </dev/null >>"$PMC_SCRATCH/logs/memcached-$name.log" 2>&1 &
	local pid=$!
	echo "$pid" >"$dir/pid"
	# Until the forked shell has exec'd env and env memcached, the PID does
	# not look like memcached yet (and pmc__pid_alive would say "dead").
	pmc_wait_until 5 pmc__exec_done "$pid" || true
}

# pmc__exec_done PID: true once PID runs memcached (or has exited).
pmc__exec_done() {
	local comm=""
	read -r comm <"/proc/$1/comm" 2>/dev/null || return 0
	[[ "$comm" == memcached ]]
}

# pmc__mc_ready NAME: true when the server answers `version` (ASCII, or
# binary for SASL and binary-only servers).
pmc__mc_ready() {
	local dir
	dir=$(pmc__mc_dir "$1")
	case "$(<"$dir/mode")" in
	unix) pmc_mc_version "$(<"$dir/socket")" >/dev/null ;;
	binary) pmc_mc_version_binary "$(pmc__mc_host "$1"):$(<"$dir/port")" >/dev/null ;;
	*) pmc_mc_version "$(pmc__mc_host "$1"):$(<"$dir/port")" >/dev/null ;;
	esac
}

# pmc__mc_up_or_dead NAME: true when the server is ready or has exited.
pmc__mc_up_or_dead() {
	! pmc_mc_alive "$1" || pmc__mc_ready "$1"
}

# pmc__mc_await NAME: wait (bounded by PMC_MC_START_TIMEOUT, default 15 s)
# for NAME to accept requests; return 1 if it died or never answered.
pmc__mc_await() {
	local name=$1
	pmc_wait_until "${PMC_MC_START_TIMEOUT:-15}" pmc__mc_up_or_dead "$name"
	pmc_mc_alive "$name" && pmc__mc_ready "$name"
}

# pmc_mc_start NAME [VAR=VALUE...] [MEMCACHED ARGS...]: start a memcached
# named NAME as user memcache on 127.0.0.1 with a free port, pidfile in
# $PMC_SCRATCH/mc, log in $PMC_SCRATCH/logs/memcached-NAME.log; wait until it
# answers; register it for pmc_cleanup; print its address: host:port, or the
# socket path when ARGS hold `-s PATH`. Leading VAR=VALUE words are its
# environment. `@PORT@` in ARGS is replaced by the chosen port (`-U @PORT@`:
# UDP on the same port). UDP is off (-U 0) unless ARGS give -U.
# PMC_MC_HOST=127.x.y.z (a shell variable) picks another loopback address,
# for tests whose outcome depends on the server names.
#   port=$(pmc_mc_start victim -m 16); addr=$(pmc_mc_start sasl2 SASL_CONF_PATH=/x -S)
pmc_mc_start() {
	local name=$1
	shift
	[[ -n "${PMC_SCRATCH:-}" && -d "$PMC_SCRATCH/fleet" ]] || {
		pmc_error "pmc_mc_start: PMC_SCRATCH is not set up"
		return 1
	}
	[[ "$name" =~ ^[A-Za-z0-9_.-]+$ ]] || {
		pmc_error "pmc_mc_start: bad name '$name'"
		return 1
	}
	if pmc_mc_alive "$name"; then
		pmc_error "pmc_mc_start: memcached '$name' is already running"
		return 1
	fi
	local -a envs=() args=()
	while (($#)) && [[ "$1" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]]; do
		envs+=("$1")
		shift
	done
	args=("$@")
	local mode=tcp socket="" i
	for ((i = 0; i < ${#args[@]}; i++)); do
		case "${args[i]}" in
		-s | --unix-socket) mode=unix socket=${args[i + 1]:-} ;;
		--unix-socket=*) mode=unix socket=${args[i]#*=} ;;
		esac
	done
	if [[ $mode != unix ]]; then
		case " ${args[*]} " in
		*" -S "* | *" --enable-sasl "* | *" -B binary "* | *" --protocol=binary "*) mode=binary ;;
		esac
	fi
	local dir log port="" host=${PMC_MC_HOST:-127.0.0.1}
	dir=$(pmc__mc_dir "$name")
	log="$PMC_SCRATCH/logs/memcached-$name.log"
	rm -rf "$dir"
	mkdir -p "$dir"
	printf '%s' "$mode" >"$dir/mode"
	printf '%s' "$host" >"$dir/host"
	printf '%s' "$socket" >"$dir/socket"
	if ((${#envs[@]})); then printf '%s\0' "${envs[@]}" >"$dir/env"; else : >"$dir/env"; fi
	if ((${#args[@]})); then printf '%s\0' "${args[@]}" >"$dir/args"; else : >"$dir/args"; fi
	# A port found free can be taken before memcached binds it: retry then.
	for _ in 1 2 3; do
		if [[ $mode != unix ]]; then
			port=$(pmc_free_port) || return 1
		fi
		printf '%s' "$port" >"$dir/port"
		pmc__mc_launch "$name"
		if pmc__mc_await "$name"; then
			if [[ $mode == unix ]]; then echo "$socket"; else echo "$host:$port"; fi
			return 0
		fi
		pmc_mc_alive "$name" || [[ $mode == unix ]] || continue
		break
	done
	pmc_error "memcached '$name' did not start (log: $log)"
	pmc_show_log_tail "$log" 15
	pmc_mc_stop "$name" >/dev/null 2>&1 || true
	return 1
}

# pmc_mc_alive NAME: true when the memcached registered as NAME runs (a
# SIGSTOPped one counts as running).
pmc_mc_alive() {
	local f
	f="$(pmc__mc_dir "$1")/pid"
	[[ -r "$f" ]] && pmc__pid_alive "$(<"$f")"
}

# pmc_mc_pid NAME: print the PID of the running memcached NAME (for fault
# tests: kill -STOP "$(pmc_mc_pid tcp)"); return 1 if it is not running.
pmc_mc_pid() {
	pmc_mc_alive "$1" || {
		pmc_error "memcached '$1' is not running"
		return 1
	}
	cat "$(pmc__mc_dir "$1")/pid"
}

# pmc_mc_port NAME: print the TCP port of memcached NAME (empty for a UNIX
# socket server), running or not.
pmc_mc_port() {
	local f
	f="$(pmc__mc_dir "$1")/port"
	[[ -r "$f" ]] || {
		pmc_error "no memcached named '$1'"
		return 1
	}
	cat "$f"
	echo
}

# pmc_mc_addr NAME: print the address of memcached NAME (host:port, or the
# socket path).
pmc_mc_addr() {
	local dir
	dir=$(pmc__mc_dir "$1")
	[[ -r "$dir/mode" ]] || {
		pmc_error "no memcached named '$1'"
		return 1
	}
	if [[ "$(<"$dir/mode")" == unix ]]; then cat "$dir/socket"; else echo "$(pmc__mc_host "$1"):$(<"$dir/port")"; fi
	echo
}

# pmc__mc_signal_stop NAME: send SIGTERM (and SIGCONT, in case a test left
# it stopped) to memcached NAME; print its PID if it was running.
pmc__mc_signal_stop() {
	local f pid
	f="$(pmc__mc_dir "$1")/pid"
	[[ -r "$f" ]] || return 0
	pid=$(<"$f")
	pmc__pid_alive "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null || true
	kill -CONT "$pid" 2>/dev/null || true
	echo "$pid"
}

# pmc__reap PID: wait (10 s, then SIGKILL) until PID is gone; reap it if it
# is our child (wait fails harmlessly for anyone else's).
pmc__reap() {
	local pid=$1
	if ! pmc_wait_until 10 pmc__pid_gone "$pid"; then
		kill -KILL "$pid" 2>/dev/null || true
		pmc_wait_until 5 pmc__pid_gone "$pid" || true
	fi
	wait "$pid" 2>/dev/null || true
}

# pmc_mc_stop NAME: stop memcached NAME by PID (SIGTERM, SIGCONT in case it
# was stopped, SIGKILL after 10 s) and wait until it is gone. It stays
# registered, so pmc_mc_restart can bring it back. No-op if not running.
pmc_mc_stop() {
	local pid
	pid=$(pmc__mc_signal_stop "$1")
	[[ -z "$pid" ]] || pmc__reap "$pid"
}

# pmc_mc_restart NAME: stop memcached NAME if running, then start it again
# with the same port, environment and arguments; wait until it answers.
pmc_mc_restart() {
	local name=$1 dir
	dir=$(pmc__mc_dir "$name")
	[[ -r "$dir/mode" ]] || {
		pmc_error "no memcached named '$name'"
		return 1
	}
	pmc_mc_stop "$name"
	pmc__mc_launch "$name"
	pmc__mc_await "$name" || {
		pmc_error "memcached '$name' did not restart (log: $PMC_SCRATCH/logs/memcached-$name.log)"
		pmc_show_log_tail "$PMC_SCRATCH/logs/memcached-$name.log" 15
		return 1
	}
}

# pmc_mc_names: print the names of all registered memcached servers.
pmc_mc_names() {
	local d
	for d in "$PMC_SCRATCH"/fleet/*/; do
		[[ -d "$d" ]] && basename "$d"
	done
	return 0
}

# pmc_mc_stop_all: stop every registered memcached (all signalled first,
# then waited for: each may take up to a second to leave its event loop).
pmc_mc_stop_all() {
	local name pid pids=()
	for name in $(pmc_mc_names); do
		pid=$(pmc__mc_signal_stop "$name")
		[[ -z "$pid" ]] || pids+=("$pid")
	done
	# Also any memcached of this run that its own pidfile knows of but the
	# registry missed (a start interrupted between fork and registration).
	local f
	for f in "$PMC_SCRATCH"/mc/*.pid; do
		[[ -r "$f" ]] || continue
		pid=$(<"$f")
		pmc__pid_alive "$pid" || continue
		tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$PMC_SCRATCH/mc/" || continue
		kill -TERM "$pid" 2>/dev/null || true
		kill -CONT "$pid" 2>/dev/null || true
		pids+=("$pid")
	done
	for pid in "${pids[@]}"; do pmc__reap "$pid"; done
}

# --------------------------------------------------------------------------
# SASL

# pmc_sasl_prepare: write $PMC_SCRATCH/sasl/memcached.conf (PLAIN, sasldb in
# the same directory) and create the user $PMC_SASL_USER in that sasldb.
# memcached -S reads it when started with SASL_CONF_PATH=$PMC_SCRATCH/sasl.
pmc_sasl_prepare() {
	local dir="$PMC_SCRATCH/sasl" log="$PMC_SCRATCH/logs/sasl.log"
	mkdir -p "$dir"
	printf 'mech_list: plain\nsasldb_path: %s/sasldb2\n' "$dir" >"$dir/memcached.conf"
	printf '%s' "$PMC_SASL_PASSWORD" |
		saslpasswd2 -a memcached -c -p -f "$dir/sasldb2" "$PMC_SASL_USER" >>"$log" 2>&1 ||
		pmc_die "saslpasswd2 failed" "$log"
	chown -R memcache:memcache "$dir"
	chmod 0750 "$dir"
	chmod 0640 "$dir/sasldb2"
}

# pmc_sasl_check HOST:PORT: set and get a key with pylibmc as a real SASL
# client; exit with the logs shown if that fails.
pmc_sasl_check() {
	local addr=$1 log="$PMC_SCRATCH/logs/sasl.log"
	# shellcheck disable=SC2016 # Python code, not shell
	pmc_run_logged 30 "$log" "$PMC_PYTHON" -c '
import sys, pylibmc
c = pylibmc.Client([sys.argv[1]], binary=True, username=sys.argv[2], password=sys.argv[3])
c.set("pmc:sasl-check", "ok")
v = c.get("pmc:sasl-check")
print("sasl check:", v)
sys.exit(0 if v == "ok" else 1)' "$addr" "$PMC_SASL_USER" "$PMC_SASL_PASSWORD" || {
		pmc_show_log_tail "$PMC_SCRATCH/logs/memcached-sasl.log" 15
		pmc_die "SASL server at $addr does not authenticate $PMC_SASL_USER" "$log"
	}
}

# --------------------------------------------------------------------------
# The fleet

# pmc_fleet_start [NAME...]: start the named members of the standard fleet
# (default: all of $PMC_FLEET_ALL) and set PMC_TCP, PMC_UNIX, ... (see the
# top of this file). Members: tcp, unix, udp, m1, m2, m3, sasl, down.
pmc_fleet_start() {
	local -a names
	if (($#)); then names=("$@"); else read -r -a names <<<"$PMC_FLEET_ALL"; fi
	local name addr started=()
	# Forget values inherited from a sourced env.sh of an earlier run.
	PMC_TCP="" PMC_TCP_PORT="" PMC_UNIX="" PMC_UDP="" PMC_UDP_PORT=""
	PMC_MULTI="" PMC_M1_PORT="" PMC_M2_PORT="" PMC_M3_PORT="" PMC_SASL="" PMC_DOWN=""
	for name in "${names[@]}"; do
		# Started from this shell (not in $(...)) so that it stays their
		# parent and reaps them when they are stopped.
		case "$name" in
		tcp)
			pmc_mc_start tcp -m 64 -U 0 >/dev/null || exit 1
			PMC_TCP=$(pmc_mc_addr tcp) PMC_TCP_PORT=$(pmc_mc_port tcp)
			;;
		unix)
			pmc_mc_start unix -s "$PMC_SCRATCH/mc.sock" -a 0777 -m 64 >/dev/null || exit 1
			PMC_UNIX=$(pmc_mc_addr unix)
			;;
		udp)
			pmc_mc_start udp -m 64 -U @PORT@ >/dev/null || exit 1
			PMC_UDP_PORT=$(pmc_mc_port udp) PMC_UDP="udp:$(pmc_mc_addr udp)"
			pmc_mc_version "$PMC_UDP" >/dev/null ||
				pmc_die "memcached 'udp' does not answer over UDP on $PMC_UDP" "$PMC_SCRATCH/logs/memcached-udp.log"
			;;
		m1 | m2 | m3)
			pmc_mc_start "$name" -m 64 >/dev/null || exit 1
			printf -v "PMC_${name^^}_PORT" '%s' "$(pmc_mc_port "$name")"
			PMC_MULTI="${PMC_MULTI:+$PMC_MULTI,}$(pmc_mc_addr "$name")"
			;;
		sasl)
			pmc_sasl_prepare
			pmc_mc_start sasl SASL_CONF_PATH="$PMC_SCRATCH/sasl" -S -m 64 >/dev/null || exit 1
			PMC_SASL=$(pmc_mc_addr sasl)
			pmc_sasl_check "$PMC_SASL"
			;;
		down)
			PMC_DOWN="127.0.0.1:$(pmc_free_port)" || exit 1
			;;
		*) pmc_die "unknown fleet member '$name' (known: $PMC_FLEET_ALL)" ;;
		esac
		if [[ $name != down ]]; then
			touch "$(pmc__mc_dir "$name")/fleet"
			started+=("$name")
		fi
	done
	pmc_step "memcached: started ${started[*]} ($(memcached -V 2>/dev/null || echo memcached))${PMC_DOWN:+; down: $PMC_DOWN}"
}

# pmc_fleet_heal: make the standard fleet usable again after a test: SIGCONT
# every registered server (a fault test may have left one stopped), restart
# fleet members that are gone, stop extra servers a test started. Prints one
# line per repair.
pmc_fleet_heal() {
	local name pid
	for name in $(pmc_mc_names); do
		if [[ ! -e "$(pmc__mc_dir "$name")/fleet" ]]; then
			if pmc_mc_alive "$name"; then
				echo "# harness: stopping extra memcached '$name' left running"
				pmc_mc_stop "$name"
			fi
			rm -rf "$(pmc__mc_dir "$name")"
			continue
		fi
		if pmc_mc_alive "$name"; then
			pid=$(<"$(pmc__mc_dir "$name")/pid")
			kill -CONT "$pid" 2>/dev/null || true
		else
			echo "# harness: restarting memcached '$name' (a test left it down)"
			pmc_mc_restart "$name" || return 1
		fi
	done
}

# --------------------------------------------------------------------------
# PostgreSQL

# pmc__as_postgres CMD...: run CMD as the postgres user from the scratch dir
# (a cwd postgres cannot read makes initdb and pg_ctl complain).
pmc__as_postgres() {
	(cd "$PMC_SCRATCH" && runuser -u postgres -- "$@")
}

# pmc_pg_start: initdb a throwaway cluster in $PMC_SCRATCH/pgdata, configure
# it (free port, socket in $PMC_SCRATCH, no durability, prepared
# transactions, the fleet's addresses as pylibmc_test.* GUCs), start it
# (log: $PMC_SCRATCH/pg.log) and check it answers SELECT 1. Sets PGPORT.
# Extra postgresql.conf lines can be passed in PMC_PG_CONF_EXTRA.
pmc_pg_start() {
	local data="$PMC_SCRATCH/pgdata" log="$PMC_SCRATCH/logs/initdb.log"
	pmc__as_postgres "$PG_BINDIR/initdb" -D "$data" -U postgres --auth=trust \
		--no-sync -E UTF8 --locale=C.UTF-8 >"$log" 2>&1 ||
		pmc_die "initdb failed" "$log"
	PGPORT=$(pmc_free_port) || exit 1
	{
		echo
		echo "# added by tools/lib/common.sh"
		echo "port = $PGPORT"
		echo "listen_addresses = '127.0.0.1'"
		echo "unix_socket_directories = '$PMC_SCRATCH'"
		echo "fsync = off"
		echo "synchronous_commit = off"
		echo "full_page_writes = off"
		echo "max_prepared_transactions = 10"
		echo "log_min_messages = warning"
		echo "pylibmc_pg.servers = '$PMC_TCP'"
		echo "pylibmc_test.tcp = '$PMC_TCP'"
		[[ -z "${PMC_UNIX:-}" ]] || echo "pylibmc_test.unix = '$PMC_UNIX'"
		[[ -z "${PMC_UDP:-}" ]] || echo "pylibmc_test.udp = '$PMC_UDP'"
		[[ -z "${PMC_MULTI:-}" ]] || echo "pylibmc_test.multi = '$PMC_MULTI'"
		if [[ -n "${PMC_SASL:-}" ]]; then
			echo "pylibmc_test.sasl = '$PMC_SASL'"
			echo "pylibmc_test.sasl_user = '$PMC_SASL_USER'"
			echo "pylibmc_test.sasl_password = '$PMC_SASL_PASSWORD'"
		fi
		[[ -z "${PMC_DOWN:-}" ]] || echo "pylibmc_test.down = '$PMC_DOWN'"
		[[ -z "${PMC_PG_CONF_EXTRA:-}" ]] || printf '%s\n' "$PMC_PG_CONF_EXTRA"
	} >>"$data/postgresql.conf"
	touch "$PMC_SCRATCH/pg.log"
	chown postgres:postgres "$PMC_SCRATCH/pg.log"
	pmc__as_postgres "$PG_BINDIR/pg_ctl" -D "$data" -l "$PMC_SCRATCH/pg.log" -w -t 60 start \
		>>"$PMC_SCRATCH/logs/pg_ctl.log" 2>&1 ||
		pmc_die "PostgreSQL did not start (port $PGPORT)" "$PMC_SCRATCH/pg.log"
	"$PG_BINDIR/psql" -X -q -At -h "$PMC_SCRATCH" -p "$PGPORT" -U postgres -d postgres \
		-c 'SELECT 1' >/dev/null 2>>"$PMC_SCRATCH/logs/pg_ctl.log" ||
		pmc_die "PostgreSQL does not answer SELECT 1" "$PMC_SCRATCH/pg.log"
	pmc_step "postgres: $("$PG_BINDIR/postgres" -V | sed 's/^postgres (PostgreSQL) //') on port $PGPORT, socket in $PMC_SCRATCH"
}

# pmc_pg_stop: stop the cluster (pg_ctl stop -m fast, then -m immediate, then
# SIGKILL of the postmaster by PID). No-op if it is not running.
pmc_pg_stop() {
	local data="$PMC_SCRATCH/pgdata" log="$PMC_SCRATCH/logs/pg_ctl.log" pid
	[[ -f "$data/postmaster.pid" ]] || return 0
	pid=$(head -n 1 "$data/postmaster.pid")
	pmc__as_postgres "$PG_BINDIR/pg_ctl" -D "$data" -w -t 30 stop -m fast >>"$log" 2>&1 ||
		pmc__as_postgres "$PG_BINDIR/pg_ctl" -D "$data" -w -t 15 stop -m immediate >>"$log" 2>&1 ||
		kill -KILL "$pid" 2>/dev/null || true
}

# --------------------------------------------------------------------------
# Environment

# pmc_export_env: export the test environment (list at the top of this file)
# and write it to $PMC_SCRATCH/env.sh.
pmc_export_env() {
	PGHOST=$PMC_SCRATCH PGUSER=postgres PGDATABASE=postgres
	PERL5LIB="/usr/lib/postgresql/15/lib/pgxs/src/test/perl${PERL5LIB:+:$PERL5LIB}"
	local -a vars=(PGHOST PGPORT PGUSER PGDATABASE PG_BINDIR PMC_SCRATCH PMC_REPO
		PMC_COMMON PMC_TCP PMC_TCP_PORT PMC_UNIX PMC_UDP PMC_UDP_PORT PMC_MULTI
		PMC_M1_PORT PMC_M2_PORT PMC_M3_PORT PMC_SASL PMC_SASL_USER
		PMC_SASL_PASSWORD PMC_DOWN PMC_PYTHON PERL5LIB)
	local v
	{
		echo "# pylibmc_pg test environment: source this file"
		for v in "${vars[@]}"; do
			printf -v "$v" '%s' "${!v:-}"
			# shellcheck disable=SC2163 # exporting the variable named by v
			export "$v"
			printf 'export %s=%q\n' "$v" "${!v}"
		done
	} >"$PMC_SCRATCH/env.sh"
}

# pmc_setup [FLEET NAMES...]: the whole set-up shared by test.sh and demo.sh:
# root check, scratch dir, apt, build, memcached fleet (default: all members;
# tcp is always started), PostgreSQL, exported environment. Exits on failure
# with the relevant log shown. Call pmc_install_traps first.
pmc_setup() {
	local -a fleet=("$@")
	((${#fleet[@]})) || read -r -a fleet <<<"$PMC_FLEET_ALL"
	[[ " ${fleet[*]} " == *" tcp "* ]] || fleet=(tcp "${fleet[@]}")
	pmc_require_root
	pmc_make_scratch
	pmc_install_packages "$PMC_SCRATCH/logs/apt.log"
	pmc_share_scratch
	pmc_build_extension "$PMC_SCRATCH/logs/build.log"
	pmc_fleet_start "${fleet[@]}"
	pmc_pg_start
	pmc_export_env
	pmc_step "environment: source $PMC_SCRATCH/env.sh"
}

# --------------------------------------------------------------------------
# Tear-down

# pmc_cleanup: stop everything the run started, by PID: the commands
# pmc_run_logged (or tools/test.sh's prove_start) is waiting for (with their
# process groups), the cluster, every registered memcached; then remove the
# scratch dir unless PMC_KEEP=1.
# Safe to call more than once.
pmc_cleanup() {
	if [[ -n "${PMC_CHILD_PID:-}" ]]; then
		# one PID, or several (tools/test.sh's Perl suites side by side)
		local pid
		for pid in $PMC_CHILD_PID; do kill -TERM "$pid" 2>/dev/null || true; done
		for pid in $PMC_CHILD_PID; do wait "$pid" 2>/dev/null || true; done
		PMC_CHILD_PID=""
	fi
	[[ -n "${PMC_SCRATCH:-}" && -d "$PMC_SCRATCH" ]] || return 0
	pmc_pg_stop
	pmc_mc_stop_all
	if [[ ${PMC_KEEP:-0} == 1 ]]; then
		pmc_step "cleanup: servers stopped; kept $PMC_SCRATCH (PMC_KEEP=1)"
	else
		# Guard the rm -rf against a damaged PMC_SCRATCH.
		case "$PMC_SCRATCH" in
		/tmp/pylibmc_pg.??????) rm -rf "$PMC_SCRATCH" ;;
		*) pmc_error "not removing unexpected scratch path '$PMC_SCRATCH'" ;;
		esac
		pmc_step "cleanup: servers stopped, scratch removed"
	fi
	PMC_SCRATCH=""
}

# pmc_install_traps [HOOK]: on EXIT, INT and TERM run pmc_cleanup, then HOOK
# (a function name) with the exit status as its argument; exit with that
# status (130 on INT, 143 on TERM). PMC_INTERRUPTED holds the signal name
# when one ended the run.
pmc_install_traps() {
	PMC_EXIT_HOOK=${1:-}
	PMC_INTERRUPTED=""
	trap 'pmc__on_exit' EXIT
	trap 'pmc__on_signal INT 130' INT
	trap 'pmc__on_signal TERM 143' TERM
}

pmc__on_signal() {
	PMC_INTERRUPTED=$1
	pmc_error "interrupted by SIG$1, cleaning up"
	exit "$2"
}

pmc__on_exit() {
	local rc=$?
	trap '' INT TERM
	set +e
	pmc_cleanup
	if [[ -n "${PMC_EXIT_HOOK:-}" ]]; then
		"$PMC_EXIT_HOOK" "$rc"
		rc=$?
	fi
	trap - EXIT
	exit "$rc"
}

# --------------------------------------------------------------------------
# Counting results

# pmc_tap_count LOG: read TAP output and print
#   "PASSED FAILED SKIPPED PLANNED RESULTS BAILED"
# ok -> passed; not ok -> failed; either with "# SKIP" -> skipped; not ok
# with "# TODO" -> passed (as prove counts it); "1..0 # SKIP" -> one skipped.
# PLANNED is -1 without a plan line. Indented (subtest) lines are ignored.
pmc_tap_count() {
	awk '
		function directive(line, word) { return tolower(line) ~ ("#[ \t]*" word) }
		/^ok([ \t]|$)/ {
			n++; if (directive($0, "skip")) s++; else p++; next
		}
		/^not ok([ \t]|$)/ {
			n++
			if (directive($0, "skip")) s++
			else if (directive($0, "todo")) p++
			else f++
			next
		}
		/^1\.\.[0-9]+/ && plan == "" {
			plan = substr($0, 4) + 0
			if (plan == 0 && directive($0, "skip")) s++
			next
		}
		/^Bail out!/ { bail = 1 }
		END { print p + 0, f + 0, s + 0, (plan == "" ? -1 : plan), n + 0, bail + 0 }
	' "$1"
}

# pmc_regress_count LOG: read pg_regress output and print "PASSED FAILED"
# (PG 15 lines "test x ... ok" / "... FAILED" / "... failed (ignored)", and
# the PG 16 "ok N - x" / "not ok N - x" form).
pmc_regress_count() {
	awk '
		/\.\.\. ok([ \t]|$)/ { p++; next }
		/\.\.\. (FAILED|failed)/ { f++; next }
		/^ok [0-9]+ +[-+] / { p++; next }
		/^not ok [0-9]+ +[-+] / { f++; next }
		END { print p + 0, f + 0 }
	' "$1"
}
