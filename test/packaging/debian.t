#!/usr/bin/env bash
#
# test/packaging/debian.t: the Debian package (debian/, on pg_buildext),
# built, checked, installed, used and removed as an operator would.
#
#   - dpkg-buildpackage -us -uc -b on a copy of the checkout (the tracked and
#     untracked files, no build output), the patched libmemcached from the
#     cached tarball (PMC_LMC_TARBALL): it makes postgresql-15-pylibmc-pg.
#   - Its contents are exactly the module, its bitcode, the control file and
#     install scripts, the Prometheus queries file and the docs; its Depends
#     name the package of every library the module links (and PostgreSQL 15),
#     and no libmemcached (the patched one is static); lintian reports no
#     error.
#   - apt-get install ./the.deb; a throwaway cluster runs CREATE EXTENSION
#     and a set and a get against the suite's memcached; apt-get purge leaves
#     none of the package's files behind.
#
# PostgreSQL 15 only (debian/pgversions: the system's major; the other majors
# are tested from a scratch install, which a package cannot do).  The
# package's files are the paths `make install` wrote into the system's
# PostgreSQL 15 for the rest of this run: they are saved first and put back
# at the end, byte for byte with their modes and times, whatever happens
# (an EXIT trap; a harness timeout's SIGTERM ends in it too).  Runs as root,
# under the harness's lock like every run on 15.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tools/lib/common.sh
source "${PMC_COMMON:-tools/lib/common.sh}"
# shellcheck source=test/lib/tap.sh
source test/lib/tap.sh

tap_plan 16

PKG=postgresql-15-pylibmc-pg
VERSION=1.2.0-1
DEB=${PKG}_${VERSION}_amd64.deb
for tool in dpkg-buildpackage pg_buildext lintian dh; do
	command -v "$tool" >/dev/null || {
		echo "Bail out! $tool is missing (debhelper, postgresql-server-dev-all, lintian: in PMC_PACKAGES)"
		exit 1
	}
done
if dpkg-query -W -f '${db:Status-Status}' "$PKG" 2>/dev/null | grep -q installed; then
	echo "Bail out! $PKG is installed already: purge it and reinstall the extension (make install) first"
	exit 1
fi

DIR=$(mktemp -d "$PMC_SCRATCH/debian.XXXXXX")
chmod 0755 "$DIR"
SRC="$DIR/pylibmc-pg-1.2.0"
BACKUP="$DIR/backup"
NODE="$DIR/node"
INSTALLED=0
SAVED=0
RESTORED=0

# state: the package's paths that exist on the system, with what they are
state() {
	local f
	for f in "${PATHS[@]}"; do
		if [[ -f "$f" ]]; then
			printf '%s %s %s\n' "$f" "$(stat -c '%a %U:%G %s %Y' "$f")" "$(sha256sum <"$f" | cut -c1-64)"
		fi
	done
}

# restore: put the saved files back (a copy beside each, then a rename, so a
# process that has the module mapped keeps its own)
restore() {
	local f
	((SAVED && !RESTORED)) || return 0
	while IFS= read -r f; do
		mkdir -p "$(dirname "$f")"
		cp -a "$BACKUP$f" "$f.pmc-restore" && mv -f "$f.pmc-restore" "$f"
	done < <(cd "$BACKUP" && find . -type f | sed 's|^\.||')
	RESTORED=1
}

cleanup() {
	if [[ -f "$NODE/data/postmaster.pid" ]]; then
		(cd "$DIR" && runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$NODE/data" -w -t 30 stop -m fast) >/dev/null 2>&1 || true
	fi
	if ((INSTALLED)); then
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 purge -y "$PKG" >>"$DIR/apt.log" 2>&1 || true
	fi
	restore
	[[ $T_FAILS -ne 0 ]] || rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# ---------- build ----------

(cd "$PMC_REPO" && git ls-files -z --cached --others --exclude-standard) |
	(cd "$PMC_REPO" && xargs -0 tar -cf - --no-recursion) | (mkdir -p "$SRC" && tar -xf - -C "$SRC")
tarball=${PMC_PG_CACHE:-/var/cache/pylibmc_pg-pg}/libmemcached/libmemcached_1.1.4.orig.tar.gz
[[ -f "$tarball" ]] && export PMC_LMC_TARBALL=$tarball
t0=$SECONDS
(cd "$SRC" && timeout 900 dpkg-buildpackage -us -uc -b) >"$DIR/build.log" 2>&1
rc=$?
ok $rc "dpkg-buildpackage -us -uc -b builds $DEB ($((SECONDS - t0)) s)"
((rc == 0)) || { tail -n 30 "$DIR/build.log" | sed 's/^/#   /'; exit 1; }
ok "$([[ -f "$DIR/$DEB" ]] && echo 0 || echo 1)" "... $DEB is there"
is "$(grep -c 'libmemcached: building 1.1.4 with' "$DIR/build.log")" 1 "... with the patched libmemcached built once, statically"

# ---------- contents ----------

mapfile -t PATHS < <(dpkg-deb -c "$DIR/$DEB" | awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $6 }' | sort)
want=$(
	{
		echo /usr/lib/postgresql/15/lib/pylibmc_pg.so
		echo /usr/lib/postgresql/15/lib/bitcode/pylibmc_pg.index.bc
		for c in src/*.c; do echo "/usr/lib/postgresql/15/lib/bitcode/pylibmc_pg/${c%.c}.bc"; done
		echo /usr/share/postgresql/15/extension/pylibmc_pg.control
		for s in pylibmc_pg--*.sql; do echo "/usr/share/postgresql/15/extension/$s"; done
		echo /usr/share/postgresql-15-pylibmc-pg/pylibmc_pg.yaml
		echo /usr/share/doc/$PKG/README.md.gz
		echo /usr/share/doc/$PKG/changelog.Debian.gz
		echo /usr/share/doc/$PKG/copyright
	} | sort
)
is "$(printf '%s\n' "${PATHS[@]}")" "$want" "the package holds the module, its bitcode, the control file and scripts, the queries file, the docs"
mkdir -p "$DIR/x"
dpkg-deb -x "$DIR/$DEB" "$DIR/x"
is "$(cmp "$DIR/x/usr/share/postgresql-15-pylibmc-pg/pylibmc_pg.yaml" contrib/prometheus/pylibmc_pg.yaml && echo same)" same \
	"... the queries file is contrib/prometheus/pylibmc_pg.yaml"

depends=$(dpkg-deb -f "$DIR/$DEB" Depends)
# every library the module links, by the package that ships it
missing=""
needed=$(objdump -p "$DIR/x/usr/lib/postgresql/15/lib/pylibmc_pg.so" | awk '/NEEDED/ { print $2 }' | sort)
for lib in $needed; do
	path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64/ { print $NF; exit }')
	real=$(readlink -f "$path")
	pkg=""
	for cand in "$path" "$real" "${real#/usr}"; do
		pkg=$(dpkg -S "$cand" 2>/dev/null | head -1 | cut -d: -f1)
		[[ -z "$pkg" ]] || break
	done
	[[ -n "$pkg" && (", $depends," == *", $pkg "* || ", $depends," == *", $pkg,"*) ]] || missing+=" $lib(${pkg:-?})"
done
is "${missing:-none}" none "Depends names the package of every library the module links: $(tr '\n' ' ' <<<"$needed")"
like "$depends" "(^|, )postgresql-15( |,|$)" "... and PostgreSQL 15 ($depends)"
unlike "$depends $needed" "libmemcached" "... and no libmemcached: the patched one is linked in"
lintian --fail-on error "$DIR/$DEB" "$DIR/pylibmc-pg_${VERSION}_amd64.changes" >"$DIR/lintian.log" 2>&1
rc=$?
ok $rc "lintian: no error ($(grep -c '^[EW]:' "$DIR/lintian.log") tags: $(grep -o '^[EW]: [^ ]* [^ ]*' "$DIR/lintian.log" | sort -u | tr '\n' ' '))"
((rc == 0)) || sed 's/^/#   /' "$DIR/lintian.log" | head -20

# ---------- what make install put there is saved ----------

BEFORE=$(state)
while IFS=' ' read -r f _; do
	mkdir -p "$BACKUP$(dirname "$f")"
	cp -a "$f" "$BACKUP$f"
done <<<"$BEFORE"
SAVED=1
note_saved=$(grep -c . <<<"$BEFORE")

# ---------- install, use ----------

INSTALLED=1
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y "$DIR/$DEB" >"$DIR/apt.log" 2>&1
ok $? "apt-get install ./$DEB ($note_saved files of make install saved first)"
is "$(dpkg-query -W -f '${db:Status-Status} ${Version}' "$PKG")" "installed $VERSION" "... dpkg has it installed"
is "$(cmp /usr/lib/postgresql/15/lib/pylibmc_pg.so "$DIR/x/usr/lib/postgresql/15/lib/pylibmc_pg.so" && echo same)" same \
	"... the system's PostgreSQL 15 has the package's module"

mkdir -p "$NODE" && chown postgres "$NODE"
PORT=$(pmc_free_port)
pmc_throwaway_initdb "$NODE" "$NODE/data" "$PORT"
(cd "$NODE" && runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$NODE/data" -l "$NODE/log" -w -t 60 start) >/dev/null 2>&1
out=$(runuser -u postgres -- "$PG_BINDIR/psql" -X -q -At -h "$NODE" -p "$PORT" -d postgres \
	-c 'CREATE EXTENSION pylibmc_pg' \
	-c "SELECT extversion FROM pg_extension WHERE extname = 'pylibmc_pg'" \
	-c "SET pylibmc_pg.servers = '$PMC_TCP'" \
	-c "SELECT mc_set('pkg:deb', 'from the package', 60) || ' ' || mc_get('pkg:deb')" \
	-c "SELECT mc_delete('pkg:deb')" 2>&1)
is "$out" "1.2
true from the package
t" "a throwaway cluster: CREATE EXTENSION pylibmc_pg (1.2), a set and a get to memcached"
(cd "$NODE" && runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$NODE/data" -w -t 30 stop -m fast) >/dev/null 2>&1

# ---------- remove ----------

DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 purge -y "$PKG" >>"$DIR/apt.log" 2>&1
ok $? "apt-get purge $PKG"
INSTALLED=0
left=$(
	dpkg-query -W -f '${db:Status-Status}\n' "$PKG" 2>/dev/null | grep -v '^not-installed$'
	for f in "${PATHS[@]}"; do [[ ! -e "$f" ]] || echo "$f"; done
	for d in /usr/share/postgresql-15-pylibmc-pg /usr/share/doc/$PKG; do
		[[ ! -e "$d" ]] || echo "$d"
	done
)
is "${left:-nothing}" nothing "nothing of the package is left: no dpkg record, none of its files or directories"

# ---------- make install's files are back ----------

restore
is "$(state)" "$BEFORE" "make install's files are back as they were: contents, modes, owners, sizes, times"
tap_done
