#!/usr/bin/env bash
#
# test/exchange/quiet_delete.t: with the binary protocol, a quiet delete's
# error packet (a missing key) is skipped, not read as the next request's
# reply (patches/libmemcached/0007).
#
# Builds test/exchange/quiet_delete.c against the patched libmemcached the
# extension links (build/libmemcached) and, for contrast, reports what the
# system's libmemcached.so.11 does (not a check: it is what 0007 fixes), then
# runs it against the harness's TCP memcached.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=test/lib/tap.sh
source test/lib/tap.sh

tap_plan 5
LMC=build/libmemcached
WORK=$(mktemp -d /tmp/pmc-quiet.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
g++ -o "$WORK/quiet" -x c test/exchange/quiet_delete.c -x none -I"$LMC/include" \
	"$LMC/lib/libmemcached.a" "$LMC/lib/libhashkit.a" "$LMC/lib/libp9y.a" -lsasl2 -lcrypto >"$WORK/build.log" 2>&1
ok $? "quiet_delete.c builds against the patched libmemcached"
host=${PMC_TCP%:*} port=${PMC_TCP##*:}
out=$("$WORK/quiet" "$host" "$port" 2>&1)
like "$out" "quiet delete of a missing key: SUCCESS" "the quiet delete of a missing key is sent"
like "$out" "set other: SUCCESS" "the acknowledged set after it reads its own reply, not the delete's error"
like "$out" "delete present: SUCCESS" "... and so does the delete after it"
like "$out" "get present: NOT FOUND, no value" "... and the get of the deleted key is a miss"
if gcc -o "$WORK/quiet-system" test/exchange/quiet_delete.c -lmemcached >/dev/null 2>&1; then
	sed 's/^/# the system'"'"'s libmemcached 1.1.4: /' <<<"$("$WORK/quiet-system" "$host" "$port" 2>&1)"
fi
tap_done
