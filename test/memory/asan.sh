#!/usr/bin/env bash
#
# test/memory/asan.sh: run the regression suite against pylibmc_pg built with
# AddressSanitizer (clang -fsanitize=address,undefined), loaded into a stock
# PostgreSQL 15 whose processes get the ASan runtime by LD_PRELOAD.
#
#   PMC_SKIP_APT=1 test/memory/asan.sh                # as root, from the repo
#
# Nothing shared is touched: the sources are copied and built in a scratch
# directory, and installed (make install DESTDIR=...) into a private copy of
# /usr/lib/postgresql/15 and /usr/share/postgresql/15; PostgreSQL finds its
# libdir and sharedir relative to its binary, so that copy's postgres loads
# the ASan build while every other cluster keeps the normal one.
#
# Steps: the tools/test.sh environment (fleet, cluster; PMC_SKIP_BUILD=1 is
# implied: the normal build is not needed), the cluster restarted with the
# private postgres and LD_PRELOAD=libclang_rt.asan-x86_64.so, make
# installcheck, stop, then the ASan reports (ASAN_OPTIONS log_path) and the
# postgres log (a process killed by a report shows as "terminated by
# signal 6").  Output: ASAN_OUT (default /tmp/pylibmc_pg-asan) gets the
# reports and summary.txt.  Exit status 0 when there is no report.
#
# Needs clang and libclang-rt-14-dev.  Leak detection is off (PostgreSQL
# keeps its allocations to exit on purpose; test/memory/valgrind.sh reports
# definite leaks in our frames).
#
# The preload shim.  Preloaded alone, the runtime deadlocks every
# PostgreSQL binary on Debian 12 (glibc 2.36): the runtime's constructor
# runs after those of the libraries PostgreSQL links, so ASan initialises
# lazily, on the first malloc, and that malloc can come from inside glibc
# with a locale lock write-held: bindtextdomain() in libgpg-error's
# constructor (_nl_state_lock), newlocale() in libp11-kit's
# (__libc_setlocale_lock).  ASan's init calls dlsym("swift_demangle") then
# dlerror(), which translates the message: dcgettext() read-locks both
# locks, gets EDEADLK (this thread is the writer) and ignores it, and its
# unlock releases the caller's write lock; the caller's own unlock then
# drops a reader that was never counted, so the next write lock
# (bindtextdomain in main, freelocale at exit) waits forever.  A small
# library preloaded after the runtime (test/memory/asan-preinit.c) wraps
# newlocale, duplocale, bindtextdomain and bind_textdomain_codeset to do
# one malloc first, so ASan is initialised before glibc takes the lock.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tools/lib/common.sh
source "$REPO/tools/lib/common.sh"
OUT=${ASAN_OUT:-/tmp/pylibmc_pg-asan}
RUNTIME=$(clang -print-file-name=libclang_rt.asan-x86_64.so)
[[ -f "$RUNTIME" ]] || pmc_die "no ASan runtime ($RUNTIME): apt-get install libclang-rt-14-dev"

export PMC_SKIP_BUILD=1
pmc_install_traps
pmc_setup

# Build in a copy of the sources, install into a private PostgreSQL tree.
ROOT="$PMC_SCRATCH/asan-root"
BUILD="$PMC_SCRATCH/asan-build"
mkdir -p "$ROOT/usr/lib/postgresql" "$ROOT/usr/share/postgresql" "$BUILD"
cp -a /usr/lib/postgresql/15 "$ROOT/usr/lib/postgresql/"
cp -a /usr/share/postgresql/15 "$ROOT/usr/share/postgresql/"
# the patched libmemcached as the checkout built it (build/libmemcached, a
# static library the instrumented module links; its stamp matches, so it is
# not built again), and what would build it if it were missing
(cd "$REPO" && cp -a Makefile ./*.control ./*.sql src tools patches "$BUILD/" &&
	mkdir -p "$BUILD/build" && cp -a build/libmemcached "$BUILD/build/")
rm -f "$BUILD"/src/*.o "$BUILD"/src/*.bc "$BUILD"/*.so
pmc_step "build: clang -fsanitize=address,undefined (log: $PMC_SCRATCH/logs/asan-build.log)"
pmc_run_logged 600 "$PMC_SCRATCH/logs/asan-build.log" \
	make -C "$BUILD" PG_CONFIG="$PMC_PG_CONFIG" with_llvm=no CC=clang \
	COPT="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -g -O1" \
	install DESTDIR="$ROOT" || pmc_die "ASan build failed" "$PMC_SCRATCH/logs/asan-build.log"
# (grep without -q: under pipefail, -q would stop reading and nm die of SIGPIPE)
nm -D "$ROOT/usr/lib/postgresql/15/lib/pylibmc_pg.so" | grep __asan_ >/dev/null ||
	pmc_die "the private pylibmc_pg.so is not instrumented"
chmod -R a+rX "$ROOT"

# The preload shim (see the top of this file).
SHIM="$PMC_SCRATCH/asan-preinit.so"
cc -shared -fPIC -O2 -Wall -Wextra -o "$SHIM" "$REPO/test/memory/asan-preinit.c" -ldl ||
	pmc_die "could not build the ASan preload shim"
chmod a+r "$SHIM"
PRELOAD="$RUNTIME $SHIM"
runuser -u postgres -- env LD_PRELOAD="$PRELOAD" ASAN_OPTIONS=detect_leaks=0 \
	timeout 20 "$ROOT/usr/lib/postgresql/15/bin/postgres" --version >/dev/null ||
	pmc_die "\`LD_PRELOAD='$PRELOAD' postgres --version\` failed or hung (the glibc locale lock deadlock, see the top of $0?)"

REPORTS="$PMC_SCRATCH/asan"
mkdir -p "$REPORTS"
chown postgres "$REPORTS"
pmc_pg_stop
pmc_step "postgres: restarting from $ROOT with the ASan runtime preloaded"
(cd "$PMC_SCRATCH" && runuser -u postgres -- env LD_PRELOAD="$PRELOAD" \
	ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:log_path=$REPORTS/asan:allow_user_segv_handler=1:handle_segv=1" \
	UBSAN_OPTIONS="print_stacktrace=1:log_path=$REPORTS/ubsan" \
	"$ROOT/usr/lib/postgresql/15/bin/postgres" -D "$PMC_SCRATCH/pgdata" \
	>>"$PMC_SCRATCH/pg.log" 2>&1 </dev/null &)
pmc_wait_until 60 "$PG_BINDIR/pg_isready" -q -h "$PMC_SCRATCH" -p "$PGPORT" ||
	pmc_die "postgres with the ASan runtime preloaded did not start" "$PMC_SCRATCH/pg.log"
loaded=$("$PG_BINDIR/psql" -X -At -c "CREATE EXTENSION IF NOT EXISTS pylibmc_pg" \
	-c "SELECT mc_support_sasl() IS NOT NULL" \
	-c "SELECT count(*) FROM pg_ls_dir('.') WHERE false" 2>&1 | tail -n 2 | head -n 1) || true
pid=$(head -n 1 "$PMC_SCRATCH/pgdata/postmaster.pid")
grep -q asan "/proc/$pid/maps" || pmc_die "the ASan runtime is not mapped into the postmaster"
pmc_step "postgres: ASan runtime mapped; extension loads: $loaded"
"$PG_BINDIR/psql" -X -q -c "DROP EXTENSION pylibmc_pg" >/dev/null 2>&1 || true

pmc_step "regress: make installcheck (log: $PMC_SCRATCH/logs/regress.log)"
pmc_run_logged 1800 "$PMC_SCRATCH/logs/regress.log" \
	make -C "$REPO" PG_CONFIG="$PMC_PG_CONFIG" installcheck || true
grep -E '\.\.\. |tests (passed|failed)' "$PMC_SCRATCH/logs/regress.log" || true

pmc_step "postgres: stopping"
pmc__as_postgres "$PG_BINDIR/pg_ctl" -D "$PMC_SCRATCH/pgdata" -w -t 120 stop -m fast \
	>>"$PMC_SCRATCH/logs/pg_ctl.log" 2>&1 || pmc_pg_stop

rm -rf "$OUT"
mkdir -p "$OUT"
cp "$REPORTS"/* "$OUT/" 2>/dev/null || true
nreports=$(find "$OUT" -type f \( -name 'asan.*' -o -name 'ubsan.*' \) | wc -l)
crashes=$(grep -c 'terminated by signal' "$PMC_SCRATCH/pg.log" || true)
{
	echo "ASan/UBSan reports: $nreports"
	echo "processes terminated by a signal: $crashes"
	for f in "$OUT"/asan.* "$OUT"/ubsan.*; do
		[[ -e "$f" ]] || continue
		echo "=== $(basename "$f")"
		grep -E 'ERROR: AddressSanitizer|runtime error|SUMMARY|^    #[0-9]+ ' "$f" | head -n 40
	done
} | tee "$OUT/summary.txt"
cp "$PMC_SCRATCH/logs/regress.log" "$OUT/" || true
((nreports == 0 && crashes == 0))
