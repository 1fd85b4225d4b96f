#!/usr/bin/env bash
#
# test/memory/valgrind.sh: run the regression suite against a PostgreSQL
# whose every process runs under valgrind (memcheck), and report invalid
# reads and writes, uses of uninitialised memory and definite leaks whose
# stack goes through pylibmc_pg, libmemcached, libhashkit or zlib.
#
#   PMC_SKIP_APT=1 test/memory/valgrind.sh            # as root, from the repo
#
# It sets up the same throwaway environment as tools/test.sh (memcached
# fleet, cluster; it builds and installs the extension unless
# PMC_SKIP_BUILD=1), restarts the cluster as
#   valgrind --leak-check=full --show-leak-kinds=definite
#            --errors-for-leak-kinds=definite --trace-children=yes
#            --suppressions=test/memory/postgres.supp --log-file=vg.%p.log
#            postgres -D ...
# runs `make installcheck` (pg_regress diffs are expected: valgrind is 20-50
# times slower, so timing-bound tests may fail; they are not the point),
# stops the cluster (every backend's exit runs the leak check) and scans the
# per-process logs.  Backends fork without exec, so every backend is traced.
#
# PMC_VALGRIND_REGRESS="basic types" runs only those regression tests;
# PMC_VALGRIND_OPTS adds valgrind options (--track-origins=yes to see where
# uninitialised bytes come from).
#
# Output: VALGRIND_OUT (default /tmp/pylibmc_pg-valgrind) gets the logs of
# the processes that reported something and summary.txt.  Exit status 0 when
# no error involves our frames, 1 otherwise.
#
# Not --error-exitcode: a backend exiting with valgrind's code is a crash to
# the postmaster, which would restart the cluster mid-suite; the exit status
# comes from the scan instead.  PostgreSQL's own allocator (palloc) is opaque
# to valgrind in a build without USE_VALGRIND (Debian's), so overruns inside a
# palloc'd block are not seen; malloc'd memory (libmemcached's, the raw
# values we copy out of it, zlib's) is fully checked.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tools/lib/common.sh
source "$REPO/tools/lib/common.sh"
OUT=${VALGRIND_OUT:-/tmp/pylibmc_pg-valgrind}
SUPP="$REPO/test/memory/postgres.supp"
OURS='pylibmc_pg|libmemcached|libhashkit|libz\.so|/src/[a-z_]+\.c'

command -v valgrind >/dev/null || pmc_die "valgrind is not installed (apt-get install valgrind)"
pmc_install_traps
pmc_setup
cp "$SUPP" "$PMC_SCRATCH/postgres.supp"
chmod 644 "$PMC_SCRATCH/postgres.supp"

VGLOG="$PMC_SCRATCH/valgrind"
mkdir -p "$VGLOG"
chown postgres "$VGLOG"
pmc_pg_stop
pmc_step "postgres: restarting under valgrind (logs: $VGLOG)"
(cd "$PMC_SCRATCH" && runuser -u postgres -- valgrind \
	--leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
	--trace-children=yes --num-callers=40 --read-var-info=no ${PMC_VALGRIND_OPTS:-} \
	--suppressions="$PMC_SCRATCH/postgres.supp" \
	--log-file="$VGLOG/vg.%p.log" \
	"$PG_BINDIR/postgres" -D "$PMC_SCRATCH/pgdata" \
	>>"$PMC_SCRATCH/pg.log" 2>&1 </dev/null &)
pmc_wait_until 300 "$PG_BINDIR/pg_isready" -q -h "$PMC_SCRATCH" -p "$PGPORT" ||
	pmc_die "postgres under valgrind did not start" "$PMC_SCRATCH/pg.log"

pmc_step "regress: make installcheck under valgrind (log: $PMC_SCRATCH/logs/regress.log)"
start=$SECONDS
pmc_run_logged 7200 "$PMC_SCRATCH/logs/regress.log" \
	make -C "$REPO" PG_CONFIG="$PMC_PG_CONFIG" installcheck \
	${PMC_VALGRIND_REGRESS:+REGRESS="$PMC_VALGRIND_REGRESS"} || true
grep -E '\.\.\. |tests (passed|failed)' "$PMC_SCRATCH/logs/regress.log" || true
pmc_step "regress: $((SECONDS - start)) s under valgrind"

pmc_step "postgres: stopping (leak checks run at each exit)"
pmc__as_postgres "$PG_BINDIR/pg_ctl" -D "$PMC_SCRATCH/pgdata" -w -t 600 stop -m fast \
	>>"$PMC_SCRATCH/logs/pg_ctl.log" 2>&1 || pmc_pg_stop

# Scan: split each log into error blocks (a message line, then its stack,
# up to an empty "==PID== " line); keep those that name one of our frames.
# libmemcached is our patched copy, inside pylibmc_pg.so: its reports are
# ours too (libmemcached 1.1.4 sent six uninitialised bytes of every UDP
# frame header; patches/libmemcached/0008 sets them).
rm -rf "$OUT"
mkdir -p "$OUT"
summary="$OUT/summary.txt"
: >"$summary"
nlogs=0 nother=0
for f in "$VGLOG"/vg.*.log; do
	[[ -e "$f" ]] || continue
	nlogs=$((nlogs + 1))
	blocks=$(awk -v ours="$OURS" '
		/^==[0-9]+== (Invalid (read|write|free)|Conditional jump|Use of uninitialised|Syscall param|Mismatched free|Source and destination overlap|Argument .* of function)/ ||
		/^==[0-9]+== [0-9,]+ (\([0-9,]+ direct, [0-9,]+ indirect\) )?bytes in [0-9,]+ blocks are definitely lost/ {
			inblock = 1; block = $0 "\n"; next
		}
		inblock && /^==[0-9]+== *$/ {
			if (block ~ ours)
				print block
			inblock = 0; next
		}
		inblock { block = block $0 "\n" }
	' "$f")
	others=$(grep -cE '^==[0-9]+== (Invalid|Conditional jump|Use of uninitialised|Syscall param|Mismatched)|definitely lost in' "$f" || true)
	if [[ -n "$blocks" ]]; then
		cp "$f" "$OUT/"
		{
			echo "=== $(basename "$f")"
			echo "$blocks"
		} >>"$summary"
	elif ((others > 0)); then
		nother=$((nother + others))
		cp "$f" "$OUT/"
	fi
done
errs_ours=$(grep -cE '^==[0-9]+== (Invalid|Conditional jump|Use of uninitialised|Syscall param|Mismatched|[0-9,]+ .*definitely lost)' "$summary" || true)
{
	echo "processes traced: $nlogs"
	echo "errors involving pylibmc_pg/libmemcached/zlib frames: $errs_ours"
	echo "other valgrind reports (PostgreSQL itself): $nother"
	grep -E 'ERROR SUMMARY' "$VGLOG"/vg.*.log | awk '{s += $4} END {print "sum of ERROR SUMMARY counts: " s + 0}'
} | tee -a "$summary"
pmc_step "valgrind: summary in $summary"
((errs_ours == 0))
