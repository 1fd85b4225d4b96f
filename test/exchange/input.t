#!/usr/bin/env bash
#
# test/exchange/input.t: issue 12, points 11, 12 and 14.  Arguments and
# values checked before anything is sent, and the same in both protocols.
#
# 11: mc_cas(key, value, -5) is ERROR 22003 over ASCII and over binary
#     (never 53200, never false in one protocol and an error in the other).
# 12: mc_set_multi refuses a bad key before it sends any: after
#     mc_set_multi('{"ok": 1, "a much longer bad key": 2}') (jsonb orders
#     the good key first) the good key is not stored; the same for the
#     arrays form and for a key that is too long.
# 14: behaviors connect_timeout=0 and _poll_timeout=0 are refused at SET
#     (22023); a zlib bomb (1.07 MB stored with flags 16|8, inflating to
#     1.1 GB, past the 1 GB limit) is refused (54000); read under
#     statement_timeout = '100ms' it returns within 1 s and well before
#     the uncancelled refusal would end (100 ms + half of that time):
#     cancelled, or the bomb's own ERROR.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=test/exchange/lib.sh
source test/exchange/lib.sh

tap_plan 23
fault_db pmc_exch_input
trap 'rm -f "${BOMB:-}"; exchange__cleanup' EXIT

on() { qv "SET pylibmc_pg.servers = '$PMC_TCP'" "$@"; }

# ---- 11: a negative cas token ----
for proto in off on; do
	out=$(on "SET pylibmc_pg.binary_protocol = $proto" "SELECT mc_set('xi:cas', 'v')" "SELECT mc_cas('xi:cas', 'w', -5)")
	like "$out" "ERROR:  22003: " "binary=$proto: mc_cas with cas -5 is ERROR 22003"
	unlike "$out" "53200|MEMORY ALLOCATION" "binary=$proto: ... not 53200"
done
ascii=$(on "SELECT mc_cas('xi:cas', 'w', -5)" | sed -n 's/^ERROR:  \([0-9A-Z]*\):.*/\1/p')
binary=$(on "SET pylibmc_pg.binary_protocol = on" "SELECT mc_cas('xi:cas', 'w', -5)" | sed -n 's/^ERROR:  \([0-9A-Z]*\):.*/\1/p')
is "${ascii:-no error}" "${binary:-no error}" "mc_cas with cas -5: the same answer in both protocols"
is "$(on "SELECT mc_get('xi:cas')")" v "... and the value is untouched"

# ---- 12: set_multi checks every key before sending the first ----
on "SELECT mc_delete_multi(ARRAY['xi:ok', 'xi:ok2', 'xi:ok3', 'xi:ok4'])" >/dev/null
out=$(on "SELECT mc_set_multi('{\"xi:ok\": 1, \"xi:a much longer bad key\": 2}'::jsonb)")
like "$out" "ERROR:  22023: " "set_multi (jsonb) with a key holding a space: ERROR 22023"
is "$(on "SELECT mc_get('xi:ok') IS NULL")" t "... and the good key before it was not stored"
out=$(on "SELECT mc_set_multi(ARRAY['xi:ok2', 'xi:bad key'], ARRAY['1', '2'])")
like "$out" "ERROR:  22023: " "set_multi (arrays) with a key holding a space: ERROR 22023"
is "$(on "SELECT mc_get('xi:ok2') IS NULL")" t "... and the good key before it was not stored"
out=$(on "SELECT mc_set_multi(ARRAY['xi:ok3', repeat('x', 251)], ARRAY['1', '2'])")
like "$out" "ERROR:  22001: " "set_multi (arrays) with a key of 251 bytes: ERROR 22001"
is "$(on "SELECT mc_get('xi:ok3') IS NULL")" t "... and the good key before it was not stored"
out=$(on "SELECT mc_set_multi(jsonb_build_object('xi:ok4', 1, repeat('y', 251), 2))")
like "$out" "ERROR:  22001: " "set_multi (jsonb) with a key of 251 bytes: ERROR 22001"
is "$(on "SELECT mc_get('xi:ok4') IS NULL")" t "... and the good key before it was not stored"

# ---- 14: zero timeouts refused at SET ----
for b in connect_timeout=0 _poll_timeout=0; do
	out=$(qv "LOAD 'pylibmc_pg'" "SET pylibmc_pg.behaviors = '$b'")
	like "$out" "ERROR:  22023: " "SET pylibmc_pg.behaviors = '$b' is refused (22023)"
	out=$(qv "LOAD 'pylibmc_pg'" "SET pylibmc_pg.behaviors = 'tcp_nodelay=true, $b'" "SHOW pylibmc_pg.behaviors")
	unlike "$(grep -v '^[A-Z]*:  ' <<<"$out")" "$b" "... also in a list: the setting keeps its old value"
done

# ---- 14: a zlib bomb is cancellable ----
mc_private BIG exch-input-big -m 64 -I 2m || { echo "Bail out! cannot start memcached"; exit 1; }
BOMB="$PMC_SCRATCH/exch-bomb.bin"
"$PMC_PYTHON" - "$BOMB" <<'PY'
import sys, zlib
c = zlib.compressobj(9)
chunk = bytes(64 << 20)
target = 1100 * 1000 * 1000
total, out = 0, []
while total < target:
    n = min(len(chunk), target - total)
    out.append(c.compress(chunk if n == len(chunk) else chunk[:n]))
    total += n
out.append(c.flush())
with open(sys.argv[1], "wb") as f:
    f.write(b"".join(out))
PY
chmod 644 "$BOMB"
diag "bomb: $(stat -c %s "$BOMB") bytes, inflating to 1100000000"
is "$(q "SET pylibmc_pg.servers = '$BIG'" "SELECT mc_set_raw('xi:bomb', pg_read_binary_file('$BOMB'), 24)")" t \
	"a zlib bomb stored with flags 16|8"
sess_start_verbose
sess "SET pylibmc_pg.servers = '$BIG'" >/dev/null
is "$(sess "SELECT length(value) > 1000000 FROM mc_get_raw('xi:bomb')")" t "... it reads back raw"
tsess "SELECT mc_get('xi:bomb', NULL::bytea) IS NULL" 30
full=$MS
diag "without a statement_timeout the bomb is refused after ${full} ms: $(head -n 1 <<<"$OUT")"
like "$OUT" "ERROR:  54000: " "without a statement_timeout the bomb is refused (54000)"
# cancellable: well before the uncancelled refusal ends, and within 1 s
limit=$((100 + full / 2))
((limit <= 1000)) || limit=1000
tsess "SET statement_timeout = '100ms'; SELECT mc_get('xi:bomb') IS NULL; RESET statement_timeout" 30
between "$MS" 0 "$limit" "mc_get of the bomb under statement_timeout 100ms returns within ${limit} ms (${MS} ms; uncancelled: ${full} ms)"
like "$OUT" "ERROR:  (57014|54000): " "... cancelled, or refused as too large"
sess_stop

tap_done
