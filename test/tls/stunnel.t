#!/usr/bin/env bash
#
# test/tls/stunnel.t: TLS to memcached 1.6 (-Z) through a client-side
# stunnel4 tunnel (doc/operations.md, "Encryption in transit (stunnel)").
#
# libmemcached 1.1.4 speaks no TLS; stunnel4 in client mode does, on the
# database server: the extension connects to the tunnel on loopback, the
# tunnel to memcached with TLS, verifying the chain against the CA and the
# server's name.  The CA and the certificates are made here with openssl.
#
#   - Every call family works over the tunnel, and the traffic lands on the
#     TLS memcached (its pid, from mc_stats()).
#   - The binary protocol with SASL works over a tunnel to a memcached -Z -S;
#     a wrong password is refused.
#   - tcpdump on lo, while a SASL session and a text session write a known
#     value: the tunnel-to-memcached traffic holds neither the password nor
#     the value (nor the key), while the same capture's extension-to-tunnel
#     leg holds all three (so the check can see them).
#   - A server certificate signed by another CA, and one of the right CA for
#     another name, are refused: the call fails with an ERROR of class 08
#     that names the server (the tunnel's address), and stunnel's log says
#     why.
#
# Runs as root (tools/test.sh's bash suites do): tcpdump needs CAP_NET_RAW,
# which is why this is a bash suite and not a Perl one (those run as the
# postgres user).  stunnel4, tcpdump and openssl are in PMC_PACKAGES: a
# missing one fails the suite.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=test/fault/lib.sh
source test/fault/lib.sh
# shellcheck source=test/tls/lib.sh
source test/tls/lib.sh

tap_plan 27

for tool in stunnel4 tcpdump openssl memcached; do
	command -v "$tool" >/dev/null || { echo "Bail out! $tool is missing (Debian package ${tool/memcached/memcached}; in PMC_PACKAGES)"; exit 1; }
done

fault_db pmc_tls
tls_dir "$PMC_SCRATCH/tls"
CAPTURE_PID=""
tls_cleanup() {
	[[ -z $CAPTURE_PID ]] || { kill -INT "$CAPTURE_PID" 2>/dev/null; wait "$CAPTURE_PID" 2>/dev/null; }
	tls_stop_all
	fault__cleanup
}
trap tls_cleanup EXIT

# qv SQL...: as q, with SQLSTATEs in the messages
qv() {
	local -a args=()
	local s
	for s in "$@"; do args+=(-c "$s"); done
	"$PG_BINDIR/psql" -X -q -At -v VERBOSITY=verbose -d "$FAULT_DB" "${args[@]}" 2>&1
}

# ---------- certificates, servers, tunnels ----------

NAME=mc.pmc.test
tls_ca ca && tls_cert server ca "$NAME" && tls_ca rogue && tls_cert forged rogue "$NAME" &&
	tls_cert othername ca other.pmc.test
ok $? "openssl: a CA, a server certificate for $NAME, one signed by another CA, one for another name"
is "$(openssl verify -CAfile "$TLS_DIR/ca.crt" "$TLS_DIR/server.crt" 2>&1)" "$TLS_DIR/server.crt: OK" \
	"... the server certificate verifies against the CA"

MC=$(tls_memcached mc server -m 32) && TUN=$(tls_tunnel tun "$MC" ca "$NAME")
ok $? "memcached -Z at ${MC:-?}, stunnel4 client tunnel at ${TUN:-?}"
SASL_MC=$(SASL_CONF_PATH="$PMC_SCRATCH/sasl" tls_memcached mcsasl server -m 32 -S) &&
	SASL_TUN=$(tls_tunnel tunsasl "$SASL_MC" ca "$NAME")
ok $? "memcached -Z -S (SASL) at ${SASL_MC:-?}, its tunnel at ${SASL_TUN:-?}"
FORGED_MC=$(tls_memcached mcforged forged -m 8) && FORGED_TUN=$(tls_tunnel tunforged "$FORGED_MC" ca "$NAME") &&
	OTHER_MC=$(tls_memcached mcother othername -m 8) && OTHER_TUN=$(tls_tunnel tunother "$OTHER_MC" ca "$NAME")
ok $? "a memcached -Z with the forged certificate, one with the other name, a tunnel to each"
is "$(printf 'version\r\n' | timeout 5 nc -q 2 "${MC%:*}" "${MC#*:}" | tr -d '\r')" "" \
	"memcached -Z speaks no plain text: only the tunnel reaches it"

MC_PID=$(<"$TLS_DIR/mc.pid")
SET="SET pylibmc_pg.servers = '$TUN'"

# ---------- every call family over the tunnel ----------

out=$(q "$SET" "SELECT mc_flush_all()" \
	"SELECT mc_set('tls:t', 'text é')" "SELECT mc_get('tls:t')" \
	"SELECT mc_set('tls:b', '\\x00ff'::bytea) AND mc_set('tls:j', '{\"a\": [1, 2]}'::jsonb) AND mc_set('tls:n', 42) AND mc_set('tls:f', true)" \
	"SELECT mc_get('tls:b', NULL::bytea)::text || ' ' || mc_get('tls:j', NULL::jsonb) || ' ' || mc_get('tls:n', NULL::bigint) || ' ' || mc_get('tls:f', NULL::boolean)" \
	"SELECT mc_set('tls:z', repeat('compressible ', 1000), min_compress_len => 100) AND mc_get('tls:z') = repeat('compressible ', 1000)" \
	"SELECT string_agg(key || '=' || value, ' ' ORDER BY key) FROM mc_get_multi(ARRAY['t', 'n', 'missing'], key_prefix => 'tls:')" \
	"SELECT mc_set_multi('{\"m1\": \"one\", \"m2\": 2}', key_prefix => 'tls:')" \
	"SELECT mc_add('tls:m1', 'x') || ' ' || mc_add('tls:new', 'x') || ' ' || mc_replace('tls:m1', 'uno') || ' ' || mc_replace('tls:none', 'x')" \
	"SELECT mc_append('tls:m1', '!') || ' ' || mc_prepend('tls:m1', '¡') || ' ' || mc_get('tls:m1')" \
	"SELECT mc_incr('tls:m2', 40) || ' ' || mc_decr('tls:m2') || ' ' || coalesce(mc_incr('tls:none')::text, 'null')" \
	"SELECT mc_cas('tls:t', 'swapped', (mc_gets('tls:t')).cas) || ' ' || mc_cas('tls:t', 'again', 1) || ' ' || mc_get('tls:t')" \
	"SELECT mc_touch('tls:t', 600) || ' ' || mc_delete('tls:new') || ' ' || mc_delete('tls:new') || ' ' || mc_delete_multi(ARRAY['m1', 'm2'], key_prefix => 'tls:')" \
	"SELECT mc_set_raw('tls:raw', '\\x0102'::bytea, 4242) || ' ' || (SELECT encode(value, 'hex') || ' ' || flags FROM mc_get_raw('tls:raw'))" \
	"BEGIN" "SELECT mc_delete_on_commit('tls:t')" "COMMIT" "SELECT coalesce(mc_get('tls:t'), 'deleted on commit')" \
	"SELECT mc_disconnect_all()" "SELECT mc_get('tls:n')" \
	"SELECT value FROM mc_stats() WHERE name = 'pid'" \
	"SELECT sum(errors) FROM mc_client_stats()")
is "$out" "t
t
text é
t
\\x00ff {\"a\": [1, 2]} 42 true
t
n=42 t=text é
{}
false true true false
true true ¡uno!
42 41 null
true false swapped
true true false true
true 0102 4242

deleted on commit

42
$MC_PID
0" "every call family over the tunnel: typed values, compression, multi, cas, counters, raw, stats, commit-time delete, reconnect"
is "$(timeout 5 openssl s_client -connect "$MC" -CAfile "$TLS_DIR/ca.crt" -verify_hostname "$NAME" -verify_return_error -brief \
	</dev/null 2>&1 | grep -c '^Verification: OK')" 1 "openssl s_client verifies the server as the tunnel does"

# ---------- binary protocol and SASL ----------

SASLSET=("LOAD 'pylibmc_pg'" "SET pylibmc_pg.servers = '$SASL_TUN'" "SET pylibmc_pg.binary_protocol = on"
	"SET pylibmc_pg.username = '$PMC_SASL_USER'")
out=$(q "${SASLSET[@]}" "SET pylibmc_pg.password = '$PMC_SASL_PASSWORD'" \
	"SELECT mc_set('tls:sasl', 'binary over tls') || ' ' || mc_get('tls:sasl')" \
	"SELECT mc_incr('tls:none') IS NULL" \
	"SELECT (SELECT value FROM mc_stats() WHERE name = 'pid') = '$(<"$TLS_DIR/mcsasl.pid")'")
is "$out" "true binary over tls
t
t" "binary protocol with SASL over the tunnel: set, get, incr of a missing key, the SASL memcached's stats"
like "$(qv "${SASLSET[@]}" "SET pylibmc_pg.password = 'wrong'" "SELECT mc_get('tls:sasl')")" \
	"ERROR:  28000: could not get key \"tls:sasl\" on memcached server ${SASL_TUN//./\\.}" \
	"... a wrong password is refused (28000, the server named)"

# ---------- what crosses the network ----------

for s in mc mcsasl; do MCPORTS+=" or port $(awk -F: '{print $NF}' <<<"$( [[ $s == mc ]] && echo "$MC" || echo "$SASL_MC")")"; done
CAP="$TLS_DIR/lo.pcap"
FILTER="tcp and (port ${TUN#*:} or port ${SASL_TUN#*:} ${MCPORTS})"
tcpdump -i lo -n -U --immediate-mode -s 0 -w "$CAP" "$FILTER" >"$TLS_DIR/tcpdump.log" 2>&1 &
CAPTURE_PID=$!
pmc_wait_until 10 grep -qs 'listening on lo' "$TLS_DIR/tcpdump.log"
ok $? "tcpdump listens on lo ($FILTER)"
SECRET_KEY="tls:capture:$RANDOM$RANDOM"
SECRET_VALUE="a-value-that-must-not-cross-the-network-$RANDOM$RANDOM"
# new sessions: SASL authenticates (the password crosses) during the capture
out=$(q "${SASLSET[@]}" "SET pylibmc_pg.password = '$PMC_SASL_PASSWORD'" \
	"SELECT mc_set('$SECRET_KEY', '$SECRET_VALUE') || ' ' || (mc_get('$SECRET_KEY') = '$SECRET_VALUE')")
out+=" / "$(q "$SET" "SELECT mc_set('$SECRET_KEY', '$SECRET_VALUE') || ' ' || (mc_get('$SECRET_KEY') = '$SECRET_VALUE')")
is "$out" "true true / true true" "during the capture: the value written and read back over both tunnels"
sleep 1.5    # libpcap's ring hands packets over in blocks: let the last one come
kill -INT "$CAPTURE_PID"
wait "$CAPTURE_PID"
CAPTURE_PID=""
tcpdump -r "$CAP" -w "$TLS_DIR/tls-leg.pcap" "tcp and (${MCPORTS# or })" 2>>"$TLS_DIR/tcpdump.log"
tcpdump -r "$CAP" -w "$TLS_DIR/plain-leg.pcap" "tcp and (port ${TUN#*:} or port ${SASL_TUN#*:})" 2>>"$TLS_DIR/tcpdump.log"
tls_packets=$(tcpdump -r "$TLS_DIR/tls-leg.pcap" -n 2>/dev/null | grep -c 'length [1-9]')
between "$tls_packets" 8 100000 "the tunnel-to-memcached leg was captured ($tls_packets packets with a payload)"
# the TLS records: content type 0x17 (application data), version 3.3
is "$(grep -c -a -P '\x17\x03\x03' "$TLS_DIR/tls-leg.pcap" | awk '{print ($1 > 0)}')" 1 \
	"... and it is TLS application data"
for what in password value key; do
	case $what in
	password) s=$PMC_SASL_PASSWORD ;; value) s=$SECRET_VALUE ;; key) s=$SECRET_KEY ;;
	esac
	is "$(grep -c -a -F -- "$s" "$TLS_DIR/tls-leg.pcap")" 0 "the tunnel-to-memcached traffic does not contain the $what"
	between "$(grep -c -a -F -- "$s" "$TLS_DIR/plain-leg.pcap")" 1 1000 \
		"... the extension-to-tunnel traffic of the same capture does (the check can see it)"
done

# ---------- certificates the tunnel must refuse ----------

for bad in forged other; do
	case $bad in
	forged) tun=$FORGED_TUN log=tunforged why="signed by another CA" ;;
	other) tun=$OTHER_TUN log=tunother why="of the right CA for another name" ;;
	esac
	out=$(qv "SET pylibmc_pg.servers = '$tun'" "SELECT mc_get('tls:t')")
	like "$out" "^ERROR:  08[0-9A-Z]{3}: .*${tun//./\\.}" \
		"a server certificate $why: ERROR class 08 naming the server ($tun)"
	out=$(qv "SET pylibmc_pg.servers = '$tun'" "SET pylibmc_pg.on_error = warning" "SELECT coalesce(mc_set('tls:t', 'x')::text, 'null')")
	like "$out" "WARNING:  08[0-9A-Z]{3}: .*${tun//./\\.}.*"$'\n'"false" "... with on_error = warning: a WARNING and false"
done
like "$(cat "$TLS_DIR/tunforged.log")" "CERT: Pre-verification error: unable to get local issuer certificate" \
	"stunnel's log: the forged certificate failed the chain's verification"
like "$(cat "$TLS_DIR/tunother.log")" "CERT: Subject checks failed" \
	"stunnel's log: the other name failed the host name check"
is "$(q "$SET" "SELECT mc_get('tls:n')")" 42 "the good tunnel still works after the refusals"

tls_stop_all
tap_done
