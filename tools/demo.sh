#!/usr/bin/env bash
#
# tools/demo.sh: show pylibmc_pg at work in a short psql session.
#
#   ./tools/demo.sh
#
# As root on Debian 12: installs the packages, builds and installs the
# extension, starts one memcached and a throwaway PostgreSQL 15 cluster,
# creates the database "demo" with the extension, runs tools/lib/demo.sql
# with its queries echoed, then stops everything. The session shows
# cache-aside reads, a write-through, get_multi, delete, the mc_invalidate
# trigger (an UPDATE that rolls back leaves the cached row, one that commits
# empties it), mc_stats() and mc_client_stats().
#
# Environment: PMC_SKIP_APT=1, PMC_SKIP_BUILD=1, PMC_KEEP=1 and PMC_REPO as
# for tools/test.sh; PMC_DEMO_EXTENSION names the extension to create
# (default pylibmc_pg; the harness's own checks use a stand-in).
set -euo pipefail

# shellcheck source=tools/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

case "${1:-}" in
-h | --help)
	# The header comment, from its third line to its end.
	awk 'NR < 3 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "${BASH_SOURCE[0]}"
	exit 0
	;;
"") ;;
*)
	echo "usage: $0" >&2
	exit 2
	;;
esac

EXTENSION=${PMC_DEMO_EXTENSION:-pylibmc_pg}
DEMO_SQL="$(dirname "$PMC_COMMON")/demo.sql"

pmc_install_traps ""
pmc_setup tcp

log="$PMC_SCRATCH/logs/demo-setup.log"
pmc_step "demo: CREATE DATABASE demo; CREATE EXTENSION $EXTENSION"
"$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -d postgres -c 'CREATE DATABASE demo' >>"$log" 2>&1 ||
	pmc_die "could not create the database demo" "$log"
"$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -d demo -c "CREATE EXTENSION \"$EXTENSION\" CASCADE" >>"$log" 2>&1 ||
	pmc_die "could not create the extension $EXTENSION (was it built and installed?)" "$log"

pmc_step "demo: psql -d demo -f tools/lib/demo.sql (memcached at $PMC_TCP)"
"$PG_BINDIR/psql" -X -e -v ON_ERROR_STOP=1 -P pager=off -P 'null=(null)' -d demo -f "$DEMO_SQL" </dev/null ||
	pmc_die "the demo session failed" "$PMC_SCRATCH/pg.log"
