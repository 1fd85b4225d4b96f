#!/usr/bin/env bash
#
# tools/libmemcached.sh: build the patched libmemcached that pylibmc_pg links.
#
#   tools/libmemcached.sh PREFIX
#
# The Makefile runs this before it compiles anything (PREFIX is
# build/libmemcached in the checkout); it is idempotent and quick when
# nothing changed.  Steps:
#   1. the source: Debian's own libmemcached 1.1.4 source package, its
#      orig tarball fetched with `apt-get source --download-only` through a
#      private apt state (a deb-src line for the system's suite and mirror,
#      checked against the signed index; nothing of the system's apt state
#      is read or written), then checked against the SHA-256 pinned below.
#      It is cached in $PMC_PG_CACHE/libmemcached (default
#      /var/cache/pylibmc_pg-pg, beside the other majors' downloads), so a
#      rebuild needs no network.  PMC_LMC_TARBALL=FILE uses that file
#      instead (it must have the same SHA-256).
#   2. the patches: patches/libmemcached/series names them in order, each a
#      file with its own header (what, why, how it was reproduced).
#   3. the build: cmake, static and position-independent, with Debian's
#      compiler flags (dpkg-buildflags; the library keeps its assertions, as
#      Debian's build does), installed into PREFIX (include/, lib/*.a).
#      The Makefile links it into pylibmc_pg.so with its symbols hidden.
#      The patched source stays in PREFIX/src (the reply fuzzer builds it
#      again with sanitizers).
# A stamp (PREFIX/.stamp) records the tarball's and the patches' checksums:
# when they have not changed, nothing is done.
#
# Needs cmake, bison, flex, g++, libsasl2-dev and libssl-dev (Debian's;
# tools/test.sh and tools/demo.sh install them).
set -euo pipefail

LMC_VERSION=1.1.4
LMC_DEBIAN_VERSION=1.1.4-1
LMC_TARBALL=libmemcached_${LMC_VERSION}.orig.tar.gz
LMC_SHA256=285b21a138fc693ea44b0ea5d050e2d796ca8ee78023724a2bd385f25fbd1da1

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
patches="$repo/patches/libmemcached"

[[ $# -eq 1 ]] || {
	echo "usage: $0 PREFIX" >&2
	exit 2
}
prefix=$1
mkdir -p "$prefix"
prefix="$(cd "$prefix" && pwd)"

say() { printf 'libmemcached: %s\n' "$*" >&2; }
die() {
	printf 'libmemcached: %s\n' "$*" >&2
	exit 1
}

cache=${PMC_PG_CACHE:-/var/cache/pylibmc_pg-pg}/libmemcached
if ! mkdir -p "$cache" 2>/dev/null || [[ ! -w "$cache" ]]; then
	cache=${XDG_CACHE_HOME:-$HOME/.cache}/pylibmc_pg/libmemcached
	mkdir -p "$cache"
fi

sha_ok() { [[ -f "$1" ]] && [[ "$(sha256sum "$1" | cut -d' ' -f1)" == "$LMC_SHA256" ]]; }

# the system's Debian mirror: the harness's own lookup (pmc_pg_mirror, the
# first Debian URI of the system's sources, or PMC_PG_MIRROR)
# shellcheck source=tools/lib/pgversions.sh
source "$here/lib/pgversions.sh"

# fetch_tarball: Debian's orig tarball into $cache, through a private apt
# state whose only source is a deb-src line.  apt verifies what it fetches
# against the signed Sources index; the mirror may answer 404 for the
# debian.tar.xz (apt then exits non-zero), the orig tarball is what we need.
fetch_tarball() {
	local a="$cache/apt" suite log="$cache/fetch.log" tmp
	suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
	mkdir -p "$a/state/lists/partial" "$a/cache/archives/partial" "$a/sources.list.d" "$a/preferences.d"
	touch "$a/state/status"
	echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $(pmc_pg_mirror) $suite main" >"$a/sources.list"
	local -a opts=(-o "Dir::State=$a/state" -o "Dir::State::status=$a/state/status"
		-o "Dir::Cache=$a/cache" -o "Dir::Etc::SourceList=$a/sources.list"
		-o "Dir::Etc::SourceParts=$a/sources.list.d" -o "Dir::Etc::Preferences=$a/preferences"
		-o "Dir::Etc::PreferencesParts=$a/preferences.d" -o "Acquire::Languages=none"
		-o "APT::Sandbox::User=root" -o "Debug::NoLocking=1")
	say "fetching Debian's libmemcached $LMC_DEBIAN_VERSION source ($suite, log: $log)"
	apt-get "${opts[@]}" update >"$log" 2>&1 || die "apt-get update of the deb-src index failed (see $log)"
	tmp=$(mktemp -d "$cache/dl.XXXXXX")
	(cd "$tmp" && apt-get "${opts[@]}" source --download-only "libmemcached=$LMC_DEBIAN_VERSION") >>"$log" 2>&1 || true
	sha_ok "$tmp/$LMC_TARBALL" || {
		rm -rf "$tmp"
		die "could not fetch $LMC_TARBALL with the expected SHA-256 (see $log)"
	}
	mv "$tmp/$LMC_TARBALL" "$cache/$LMC_TARBALL"
	rm -rf "$tmp"
}

tarball=${PMC_LMC_TARBALL:-$cache/$LMC_TARBALL}
if ! sha_ok "$tarball"; then
	[[ -z "${PMC_LMC_TARBALL:-}" ]] || die "$PMC_LMC_TARBALL does not have the SHA-256 of Debian's $LMC_TARBALL"
	fetch_tarball
fi

# what this build is made of: the tarball and the patches, in order
mapfile -t series < <(grep -v '^[[:space:]]*\(#\|$\)' "$patches/series")
stamp_want=$(
	echo "$LMC_SHA256"
	for p in "${series[@]}"; do echo "$p $(sha256sum <"$patches/$p" | cut -d' ' -f1)"; done
	sha256sum <"${BASH_SOURCE[0]}" | cut -d' ' -f1
)
if [[ -f "$prefix/.stamp" && "$(cat "$prefix/.stamp")" == "$stamp_want" &&
	-f "$prefix/lib/libmemcached.a" ]]; then
	exit 0
fi

say "building $LMC_VERSION with ${#series[@]} patches into $prefix"
work="$prefix/work"
src="$prefix/src"
rm -rf "$work" "$src" "$prefix/include" "$prefix/lib" "$prefix/.stamp"
mkdir -p "$work"
tar -xzf "$tarball" -C "$work"
mv "$work/libmemcached-$LMC_VERSION" "$src"
for p in "${series[@]}"; do
	patch -d "$src" -p1 --quiet --forward <"$patches/$p" || die "patch $p does not apply"
done

# Debian's flags (hardening, -O2, assertions kept) and features (SASL, OpenSSL's
# libcrypto, no hsieh hash), as its own build has them: pylibmc on Debian
# uses that build, and both clients must distribute keys alike
cflags=$(dpkg-buildflags --get CFLAGS 2>/dev/null || echo "-g -O2")
cxxflags=$(dpkg-buildflags --get CXXFLAGS 2>/dev/null || echo "-g -O2")
cppflags=$(dpkg-buildflags --get CPPFLAGS 2>/dev/null || true)
log="$prefix/build.log"
cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=None \
	-DCMAKE_C_FLAGS="$cppflags $cflags" -DCMAKE_CXX_FLAGS="$cppflags $cxxflags" \
	-DBUILD_SHARED_LIBS=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
	-DENABLE_SASL=ON -DENABLE_HASH_HSIEH=OFF -DENABLE_OPENSSL_CRYPTO=ON \
	-DENABLE_MEMASLAP=OFF -DBUILD_TESTING=OFF -DBUILD_DOCS=OFF \
	-DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR=lib >"$log" 2>&1 ||
	die "cmake failed (see $log)"
cmake --build "$work/build" -j "$(nproc)" >>"$log" 2>&1 || die "build failed (see $log)"
# without DESTDIR: `make install DESTDIR=...` (a package build) exports it,
# and cmake --install would put the library under it instead of PREFIX
env -u DESTDIR cmake --install "$work/build" >>"$log" 2>&1 || die "install failed (see $log)"
rm -rf "$work"
echo "$stamp_want" >"$prefix/.stamp"
say "built"
