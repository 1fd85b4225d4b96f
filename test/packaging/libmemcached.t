#!/usr/bin/env bash
#
# test/packaging/libmemcached.t: the module carries its own, patched
# libmemcached, and hides it.
#
# pylibmc_pg links libmemcached 1.1.4 built from Debian's source package with
# the patches in patches/libmemcached (tools/libmemcached.sh), statically and
# with its symbols hidden (-Wl,--exclude-libs,ALL).  Checked here, on the
# installed module:
#   - it needs no libmemcached.so or libhashkit.so (ldd), and exports no
#     memcached_* or hashkit_* symbol (nm -D), so a library that loads the
#     system's libmemcached.so.11 into the same backend binds to its own;
#   - the copy it carries is the patched one: memcached_set_wait_callback,
#     which only the patches add, is in the module (nm, local symbol);
#   - pgmemcache (Debian's, linked to the system's libmemcached.so.11) and
#     pylibmc_pg in one backend both work, each reading what the other wrote,
#     with both libraries mapped into that backend (/proc/PID/maps).
# Runs on PostgreSQL 15 only (pgmemcache is built for 15 only).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=test/fault/lib.sh
source test/fault/lib.sh

tap_plan 8
fault_db pmc_pkg_libmemcached

PKGLIB=$("${PMC_PG_CONFIG:-$PG_BINDIR/pg_config}" --pkglibdir)
SO="$PKGLIB/pylibmc_pg.so"

deps=$(ldd "$SO" 2>&1)
unlike "$deps" "libmemcached|libhashkit" "the installed module needs no libmemcached.so or libhashkit.so"
exported=$(nm -D --defined-only "$SO" | awk '{ print $3 }' | grep -cE '^(memcached_|hashkit_|libhashkit_|libmemcached_)')
is "$exported" 0 "... and exports no libmemcached or libhashkit symbol"
carried=$(nm "$SO" 2>/dev/null | grep -c ' memcached_set_wait_callback$')
is "$carried" 1 "... and carries the patched copy (memcached_set_wait_callback, a local symbol)"

# one backend, both extensions, one server
q "CREATE EXTENSION IF NOT EXISTS pgmemcache" >/dev/null
out=$(q "SET pylibmc_pg.servers = '$PMC_TCP'" \
	"SELECT memcache_server_add('$PMC_TCP') IS NOT NULL
	   AND memcache_set('pkg:pgm', 'from pgmemcache')
	   AND mc_set('pkg:pmc', 'from pylibmc_pg'::bytea)" \
	"SELECT mc_get('pkg:pgm')" \
	"SELECT memcache_get('pkg:pmc')" \
	"SELECT mc_get('pkg:pgm') = memcache_get('pkg:pgm')" \
	"SELECT (m LIKE '%libmemcached.so.11%')::text || ',' || (m LIKE '%pylibmc_pg.so%')::text
	   FROM pg_read_file('/proc/' || pg_backend_pid() || '/maps') m")
mapfile -t lines <<<"$out"
is "${lines[1]:-}" "from pgmemcache" "mc_get reads what pgmemcache wrote, in the same backend"
is "${lines[2]:-}" "from pylibmc_pg" "pgmemcache reads what mc_set wrote, in the same backend"
is "${lines[3]:-}" "t" "both read the same value"
is "${lines[4]:-}" "true,true" "that backend maps the system's libmemcached.so.11 (pgmemcache) and pylibmc_pg.so"
unlike "$out" "ERROR|server closed|terminated" "no error, no crash"
tap_done
