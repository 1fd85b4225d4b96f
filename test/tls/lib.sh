# shellcheck shell=bash
#
# test/tls/lib.sh: memcached 1.6 with TLS (-Z) behind a client-side stunnel4
# tunnel, for test/tls/stunnel.t and bench/tls.sh (sourced, never run; needs
# tools/lib/common.sh sourced and PMC_SCRATCH set up, and root: memcached
# runs as memcache).
#
#   tls_dir DIR                 work in DIR (certificates, configs, logs, pids)
#   tls_ca NAME                 a CA: DIR/NAME.crt, DIR/NAME.key
#   tls_cert NAME CA DNSNAME    a server certificate for DNSNAME (and
#                               IP 127.0.0.1) signed by CA: DIR/NAME.crt, .key
#   tls_memcached NAME CERT [ARGS...]
#                               memcached -Z on a free loopback port with
#                               certificate CERT; prints host:port
#   tls_tunnel NAME CONNECT CA CHECKHOST
#                               stunnel4 in client mode: accepts plain TCP on
#                               a free loopback port, connects to CONNECT
#                               with TLS, verifies the chain against CA and
#                               the name CHECKHOST; prints host:port
#   tls_stop NAME               stop one of them, by PID
#   tls_stop_all                stop everything started here, by PID
#
# Every process's PID is in DIR/NAME.pid; tls_stop_all is safe to call twice.

TLS_DIR=""

tls_dir() {
	TLS_DIR=$1
	mkdir -p "$TLS_DIR"
	chmod 0755 "$TLS_DIR"
}

# tls_ca NAME: a self-signed CA certificate and its key
tls_ca() {
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=pylibmc_pg test $1" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
		-keyout "$TLS_DIR/$1.key" -out "$TLS_DIR/$1.crt" >>"$TLS_DIR/openssl.log" 2>&1
}

# tls_cert NAME CA DNSNAME: a server certificate signed by CA
tls_cert() {
	local name=$1 ca=$2 dns=$3
	openssl req -newkey rsa:2048 -nodes -subj "/CN=$dns" \
		-keyout "$TLS_DIR/$name.key" -out "$TLS_DIR/$name.csr" >>"$TLS_DIR/openssl.log" 2>&1 &&
		printf 'subjectAltName = DNS:%s\nextendedKeyUsage = serverAuth\nbasicConstraints = CA:FALSE\n' "$dns" \
			>"$TLS_DIR/$name.ext" &&
		openssl x509 -req -in "$TLS_DIR/$name.csr" -CA "$TLS_DIR/$ca.crt" -CAkey "$TLS_DIR/$ca.key" \
			-CAcreateserial -days 2 -extfile "$TLS_DIR/$name.ext" -out "$TLS_DIR/$name.crt" \
			>>"$TLS_DIR/openssl.log" 2>&1 &&
		chown memcache "$TLS_DIR/$name.key" && chmod 0600 "$TLS_DIR/$name.key"
}

# the functions that start processes run in $(...): the PIDs are in files
tls__started() {
	echo "$2" >"$TLS_DIR/$1.pid"
}

# tls__handshake HOST:PORT: true when a TLS handshake there completes
# (whatever the certificate: this only says the server is up)
tls__handshake() {
	timeout 5 openssl s_client -connect "$1" -brief </dev/null 2>&1 | grep -q '^CONNECTION ESTABLISHED'
}

# tls__listens PORT: true when something listens on 127.0.0.1:PORT
tls__listens() {
	ss -Htln "sport = :$1" | grep -q .
}

# tls_memcached NAME CERT [ARGS...]: memcached -Z with CERT; prints host:port
tls_memcached() {
	local name=$1 cert=$2 port pid
	shift 2
	for _ in 1 2 3; do
		port=$(pmc_free_port) || return 1
		memcached -u memcache -l 127.0.0.1 -p "$port" -U 0 -Z \
			-o "ssl_chain_cert=$TLS_DIR/$cert.crt,ssl_key=$TLS_DIR/$cert.key" "$@" \
			</dev/null >>"$TLS_DIR/$name.log" 2>&1 &
		pid=$!
		tls__started "$name" "$pid"
		if pmc_wait_until 10 tls__handshake "127.0.0.1:$port"; then
			echo "127.0.0.1:$port"
			return 0
		fi
		tls_stop "$name"
	done
	pmc_error "memcached -Z '$name' did not start (log: $TLS_DIR/$name.log)"
	return 1
}

# tls_tunnel NAME CONNECT CA CHECKHOST: a stunnel4 client; prints host:port
tls_tunnel() {
	local name=$1 connect=$2 ca=$3 host=$4 port pid
	for _ in 1 2 3; do
		port=$(pmc_free_port) || return 1
		cat >"$TLS_DIR/$name.conf" <<-EOF
			; stunnel4 client: plain TCP in on loopback, TLS out, chain and name verified
			foreground = yes
			pid =
			debug = 5
			[memcached]
			client = yes
			accept = 127.0.0.1:$port
			connect = $connect
			CAfile = $TLS_DIR/$ca.crt
			verifyChain = yes
			checkHost = $host
			sslVersionMin = TLSv1.2
			socket = l:TCP_NODELAY=1
			socket = r:TCP_NODELAY=1
		EOF
		stunnel4 "$TLS_DIR/$name.conf" </dev/null >>"$TLS_DIR/$name.log" 2>&1 &
		pid=$!
		tls__started "$name" "$pid"
		if pmc_wait_until 10 tls__listens "$port"; then
			echo "127.0.0.1:$port"
			return 0
		fi
		tls_stop "$name"
	done
	pmc_error "stunnel4 '$name' did not start (log: $TLS_DIR/$name.log)"
	return 1
}

# tls_stop_all: SIGTERM to every process started here (its PID file), and
# SIGKILL after 5 s
tls_stop_all() {
	local f pid i
	[[ -n $TLS_DIR && -d $TLS_DIR ]] || return 0
	for f in "$TLS_DIR"/*.pid; do
		[[ -f $f ]] || continue
		pid=$(<"$f")
		rm -f "$f"
		[[ $pid =~ ^[0-9]+$ ]] || continue
		kill -TERM "$pid" 2>/dev/null || continue
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	done
}

# tls_stop NAME: stop one of them
tls_stop() {
	local pid i
	[[ -f "$TLS_DIR/$1.pid" ]] || return 0
	pid=$(<"$TLS_DIR/$1.pid")
	rm -f "$TLS_DIR/$1.pid"
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}
