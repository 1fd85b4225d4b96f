#!/usr/bin/env bash
#
# test/packaging/installcheck.t: `make installcheck` as a packager runs it,
# with no harness: a running PostgreSQL of its own (the system's, with the
# extension the harness installed, initdb's configuration: no pylibmc_pg.* or
# pylibmc_test.* setting), a memcached at the default address 127.0.0.1:11211,
# and no harness variable in the environment (no PMC_SCRATCH: the Makefile then
# runs only the regression tests that need nothing more). The tests' address
# placeholders fall back to their defaults.
set -euo pipefail

# shellcheck source=tools/lib/common.sh
source "${PMC_COMMON:-$(dirname "$0")/../../tools/lib/common.sh}"
# shellcheck source=test/lib/tap.sh
source "$(dirname "$0")/../lib/tap.sh"

tap_plan 4

DIR=$(mktemp -d "$PMC_SCRATCH/installcheck.XXXXXX")
chown postgres "$DIR"
DATA="$DIR/pgdata"
PORT=$(pmc_free_port)
MC_STARTED=""

cleanup() {
	if [[ -f "$DATA/postmaster.pid" ]]; then
		(cd "$DIR" && runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$DATA" -w -t 30 stop -m fast) >/dev/null 2>&1 || true
	fi
	[[ -z "$MC_STARTED" ]] || pmc_mc_stop installcheck11211 || true
	rm -rf "$DIR"
}
trap cleanup EXIT

# The memcached at the default address: one already there, or ours.
if pmc_mc_version 127.0.0.1:11211 >/dev/null; then
	ok 0 "a memcached answers at 127.0.0.1:11211 (already running)"
elif pmc_port_is_free 11211 && PMC_MC_PORT=11211 pmc_mc_start installcheck11211 -m 16 >/dev/null; then
	MC_STARTED=1
	ok 0 "a memcached answers at 127.0.0.1:11211 (started for this test)"
else
	ok 1 "a memcached answers at 127.0.0.1:11211"
	echo "Bail out! port 11211 is taken by something that is not memcached"
	exit 1
fi

pmc_throwaway_initdb "$DIR" "$DATA" "$PORT"
(cd "$DIR" && runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$DATA" -l "$DIR/pg.log" -w -t 60 start) >/dev/null 2>&1 || {
	sed 's/^/#   /' "$DIR/pg.log" | tail -5
	echo "Bail out! the packager's cluster did not start"
	exit 1
}
ok 0 "a cluster with initdb's configuration runs on port $PORT"

# A copy of the tracked files, so that results/ and regression.diffs do not
# land in the checkout under test.
SRC="$DIR/src"
mkdir -p "$SRC"
(cd "$PMC_REPO" && git ls-files -z | xargs -0 cp --parents -t "$SRC")
chown -R postgres "$SRC"

# The environment a packager has: PG* for the server, nothing of the harness.
rc=0
env -i PATH="$PATH" HOME=/tmp LANG=C.UTF-8 PGHOST="$DIR" PGPORT="$PORT" PGUSER=postgres \
	make -C "$SRC" PG_CONFIG="$PMC_SYSTEM_PG_BINDIR/pg_config" installcheck >"$DIR/installcheck.log" 2>&1 || rc=$?
ok "$rc" "make installcheck passes"
if [[ $rc -ne 0 ]]; then
	tail -n 20 "$DIR/installcheck.log" | sed 's/^/#   /'
	[[ ! -f "$SRC/regression.diffs" ]] || head -n 60 "$SRC/regression.diffs" | sed 's/^/#   /'
fi
ran=$(grep -cE '\.\.\. ok|^ok [0-9]+ ' "$DIR/installcheck.log" || true)
is "$ran" 3 "it ran the three tests that need only the default memcached (binary, namespace, types)"

tap_done
