#!/usr/bin/env bash
#
# test/harness/selftest.t: proves the environment tools/test.sh exports
# works: each memcached of the fleet answers `version` on its transport, the
# SASL server authenticates, the "down" address refuses, the cluster answers
# SELECT 1 and sees the fleet's addresses, and pmc_mc_start/stop/restart work.
set -euo pipefail

# shellcheck source=tools/lib/common.sh
source "${PMC_COMMON:-$(dirname "$0")/../../tools/lib/common.sh}"
# shellcheck source=test/lib/tap.sh
source "$(dirname "$0")/../lib/tap.sh"

# check DESCRIPTION CMD...: ok when CMD succeeds.
check() {
	local desc=$1 rc=0
	shift
	"$@" >/dev/null 2>&1 || rc=$?
	ok "$rc" "$desc"
}

# refuses HOST:PORT: true when a TCP connection is refused.
refuses() {
	! (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null
}

# sasl_roundtrip: set and get a key on $PMC_SASL as $PMC_SASL_USER.
sasl_roundtrip() {
	"$PMC_PYTHON" -c '
import sys, pylibmc
c = pylibmc.Client([sys.argv[1]], binary=True, username=sys.argv[2], password=sys.argv[3])
c.set("selftest:sasl", "v")
sys.exit(0 if c.get("selftest:sasl") == "v" else 1)' "$PMC_SASL" "$PMC_SASL_USER" "$PMC_SASL_PASSWORD"
}

psql_value() {
	"$PG_BINDIR/psql" -X -At -v ON_ERROR_STOP=1 -c "$1"
}

echo "1..17"

for var in PGHOST PGPORT PMC_SCRATCH PMC_TCP PMC_UNIX PMC_UDP PMC_MULTI PMC_SASL PMC_DOWN; do
	[[ -n "${!var:-}" ]] || echo "# $var is not set"
done

version=$(memcached -V | awk '{print $2}')
is "$(pmc_mc_version "$PMC_TCP" || true)" "$version" "tcp memcached answers version at $PMC_TCP"
is "$(pmc_mc_version "$PMC_UNIX" || true)" "$version" "unix-socket memcached answers version at $PMC_UNIX"
is "$(pmc_mc_version "$PMC_UDP" || true)" "$version" "udp memcached answers version over UDP at $PMC_UDP"
is "$(pmc_mc_version "127.0.0.1:$PMC_UDP_PORT" || true)" "$version" "udp memcached answers version over TCP on the same port"

IFS=, read -r -a multi <<<"$PMC_MULTI"
is "${#multi[@]}" 3 "PMC_MULTI lists three servers"
for i in 1 2 3; do
	port_var="PMC_M${i}_PORT"
	is "$(pmc_mc_version "127.0.0.1:${!port_var}" || true)" "$version" "m$i memcached answers version on port ${!port_var}"
done

is "$(pmc_mc_version_binary "$PMC_SASL" || true)" "$version" "sasl memcached answers a binary version at $PMC_SASL"
check "sasl memcached stores and returns a value for $PMC_SASL_USER" sasl_roundtrip
check "nothing listens at PMC_DOWN ($PMC_DOWN)" refuses "$PMC_DOWN"

is "$(psql_value 'SELECT 1' 2>&1)" 1 "the cluster answers SELECT 1"
is "$(psql_value "SELECT current_setting('pylibmc_test.multi')" 2>&1)" "$PMC_MULTI" \
	"the cluster sees the fleet's addresses (pylibmc_test.multi)"
is "$(psql_value "SELECT current_setting('max_prepared_transactions')" 2>&1)" 10 \
	"prepared transactions are enabled"

# pmc_mc_start / stop / restart on an extra server.
extra=$(pmc_mc_start selftest-extra -m 8 || true)
is "$(pmc_mc_version "$extra" || true)" "$version" "pmc_mc_start starts a server that answers ($extra)"
pmc_mc_stop selftest-extra
check "pmc_mc_stop stops it (connection refused)" refuses "$extra"
pmc_mc_restart selftest-extra >/dev/null 2>&1 || true
is "$(pmc_mc_version "$extra" || true)" "$version" "pmc_mc_restart brings it back on the same port"
pmc_mc_stop selftest-extra

tap_done
