#!/usr/bin/env bash
#
# test/packaging/magic.t: on PostgreSQL 18 and later, the module's magic
# block names it (PG_MODULE_MAGIC_EXT in src/compat.h): pg_get_loaded_modules()
# shows pylibmc_pg with the control file's default_version. Before 18 there
# is no such record: one skip.
set -euo pipefail

# shellcheck source=tools/lib/common.sh
source "${PMC_COMMON:-$(dirname "$0")/../../tools/lib/common.sh}"
# shellcheck source=test/lib/tap.sh
source "$(dirname "$0")/../lib/tap.sh"

psql_value() {
	"$PG_BINDIR/psql" -X -At -v ON_ERROR_STOP=1 -d postgres -c "$1"
}

num=$(psql_value "SHOW server_version_num")
if ((num < 180000)); then
	echo "1..0 # SKIP PostgreSQL $num records no module name (PG_MODULE_MAGIC_EXT is 18+)"
	exit 0
fi
tap_plan 2
want=$(sed -n "s/^default_version *= *'\([^']*\)'.*/\1/p" "$PMC_REPO/pylibmc_pg.control")
# a session that loads the module, then asks which modules it has loaded
got=$("$PG_BINDIR/psql" -X -q -At -d postgres 2>&1 <<'SQL' || true
LOAD 'pylibmc_pg';
SELECT module_name || '|' || coalesce(version, '') FROM pg_get_loaded_modules() WHERE file_name LIKE '%pylibmc_pg.so';
SQL
)
is "${got%%|*}" "pylibmc_pg" "pg_get_loaded_modules() names the module pylibmc_pg"
is "${got#*|}" "$want" "and gives the control file's default_version ($want)"
tap_done
