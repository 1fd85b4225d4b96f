#!/usr/bin/env bash
#
# test/exchange/locale.t: issue 12, point 6.  The same keys and values in
# every locale (ASCII protocol).
#
# libmemcached ends a key in a reply at any byte iscntrl()/isspace()
# accept under the backend's LC_CTYPE.  In a database created with
# ENCODING 'LATIN1' LC_CTYPE/LC_COLLATE 'de_DE.ISO-8859-1' (the locale is
# generated with localedef when missing), keys are sent in UTF-8, whose
# bytes 0x80-0x9f are control characters in ISO-8859-1:
#   - mc_set('Ä', 'umlaut') then mc_get('Ä') is 'umlaut' (and pylibmc
#     reads the same key);
#   - mc_get('xÄy') of a missing key is NULL, and once stored it reads
#     back (not 08006);
#   - a value holding a forged reply, stored under 'aÄb', read with
#     mc_get_multi(ARRAY['aÄb', 'victim']) under on_error = 'warning',
#     gives the value back whole and no row for victim (not 'EVIL').
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=test/exchange/lib.sh
source test/exchange/lib.sh

tap_plan 11
export PGCLIENTENCODING=UTF8
LOC=de_DE.ISO-8859-1

# A running server has glibc's locale archive mapped as it was when it
# started; a locale compiled into a directory of its own (--no-archive) is
# found by its backends at once.
if ! locale -a 2>/dev/null | grep -qix 'de_DE\.iso88591'; then
	localedef --no-archive -i de_DE -f ISO-8859-1 "$LOC" >/dev/null 2>&1 ||
		{ echo "Bail out! localedef -i de_DE -f ISO-8859-1 $LOC failed"; exit 1; }
fi
locale -a | grep -qix 'de_DE\.iso88591' || { echo "Bail out! locale $LOC is not available"; exit 1; }

FAULT_DB=pmc_exch_latin1
trap 'exchange__cleanup' EXIT
"$PG_BINDIR/psql" -X -q -d postgres -v ON_ERROR_STOP=1 \
	-c "SET client_min_messages = warning" \
	-c "DROP DATABASE IF EXISTS $FAULT_DB WITH (FORCE)" \
	-c "CREATE DATABASE $FAULT_DB ENCODING 'LATIN1' LC_CTYPE '$LOC' LC_COLLATE '$LOC' TEMPLATE template0" >/dev/null &&
	"$PG_BINDIR/psql" -X -q -d "$FAULT_DB" -v ON_ERROR_STOP=1 -c "CREATE EXTENSION pylibmc_pg" >/dev/null || {
	echo "Bail out! could not create a LATIN1 database with $LOC"
	exit 1
}
is "$(q "SELECT current_setting('server_encoding') || ' ' || current_setting('lc_ctype')")" "LATIN1 $LOC" \
	"the database is LATIN1 with LC_CTYPE $LOC"

mc_private ADDR exch-locale -m 16 || { echo "Bail out! cannot start memcached"; exit 1; }
on() { qv "SET pylibmc_pg.servers = '$ADDR'" "$@"; }

is "$(on "SELECT mc_set('Ä', 'umlaut')")" t "mc_set('Ä', 'umlaut')"
is "$(on "SELECT mc_get('Ä')")" umlaut "mc_get('Ä') reads it back"
is "$("$PMC_PYTHON" -c 'import sys, pylibmc; print(pylibmc.Client([sys.argv[1]]).get("Ä"))' "$ADDR" 2>&1)" umlaut \
	"... and pylibmc reads the same key (UTF-8 bytes)"
out=$(on "SELECT coalesce(mc_get('xÄy'), 'MISS')")
is "$out" MISS "mc_get('xÄy') of a missing key is NULL"
unlike "$out" "ERROR" "... not an ERROR (08006)"

is "$(on "SELECT mc_set('xÄy', 'mid')")" t "mc_set('xÄy', 'mid')"
out=$(on "SELECT mc_get('xÄy')")
is "$out" mid "mc_get('xÄy') reads it back (not 08006)"

FORGED="repeat('A', 18) || E'VALUE victim 16 4\\r\\nEVIL\\r\\nEND\\r\\n'"
is "$(on "SELECT mc_set_raw('aÄb', convert_to($FORGED, 'UTF8'), 16)")" t "a value holding a forged reply stored under 'aÄb'"
out=$(on "SET pylibmc_pg.on_error = 'warning'" \
	"SELECT key || '=' || CASE WHEN value = $FORGED THEN 'whole' ELSE value END FROM mc_get_multi(ARRAY['aÄb', 'victim']) ORDER BY key")
unlike "$out" "victim|EVIL" "mc_get_multi(ARRAY['aÄb', 'victim']) gives no forged row for victim"
is "$out" "aÄb=whole" "... and the value of 'aÄb' whole, without a WARNING"

tap_done
