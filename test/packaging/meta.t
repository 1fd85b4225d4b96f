#!/usr/bin/env bash
#
# test/packaging/meta.t: the release metadata agrees with the extension.
# META.json (PGXN meta-spec 1.0.0) against pylibmc_pg.control, the install
# script, the module's magic version (src/compat.h) and the LICENSE; then
# `make dist` builds the release archive from the committed tree, and that
# archive holds exactly the tracked files under one top directory and builds.
# Needs no server.
set -euo pipefail

# shellcheck source=tools/lib/common.sh
source "${PMC_COMMON:-$(dirname "$0")/../../tools/lib/common.sh}"
# shellcheck source=test/lib/tap.sh
source "$(dirname "$0")/../lib/tap.sh"

REPO=${PMC_REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
WORK=$(mktemp -d /tmp/pmc-meta.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

tap_plan 15

# Every check of META.json in one Python run: one "ok"/"not ok" line each.
"$PMC_PYTHON" - "$REPO" <<'EOF' >"$WORK/meta.out" 2>&1 || true
import json, os, re, sys
repo = sys.argv[1]
def check(cond, desc, got=None):
    print(("ok" if cond else "not ok") + " " + desc + ("" if cond or got is None else " | got: %r" % (got,)))
try:
    meta = json.load(open(os.path.join(repo, "META.json")))
except Exception as e:
    print("not ok META.json parses | %s" % e)
    sys.exit(0)
check(True, "META.json parses")
control = {}
for line in open(os.path.join(repo, "pylibmc_pg.control")):
    m = re.match(r"\s*(\w+)\s*=\s*'(.*)'\s*$", line)
    if m:
        control[m.group(1)] = m.group(2)
spec = meta.get("meta-spec", {})
check(spec.get("version") == "1.0.0", "meta-spec version is 1.0.0", spec.get("version"))
missing = [k for k in ("name", "abstract", "version", "maintainer", "license", "provides", "meta-spec") if k not in meta]
check(not missing, "META.json has every required key", missing)
semver = re.compile(r"^\d+\.\d+\.\d+$")
check(bool(semver.match(meta.get("version", ""))), "release version is semantic", meta.get("version"))
ext = meta.get("provides", {}).get("pylibmc_pg", {})
check(meta.get("name") == "pylibmc_pg" and set(meta.get("provides", {})) == {"pylibmc_pg"},
      "name and provides name the one extension", (meta.get("name"), list(meta.get("provides", {}))))
dv = control.get("default_version", "")
padded = ".".join((dv.split(".") + ["0", "0"])[:3])
check(ext.get("version") == padded, "provides version %s is the control's default_version %s" % (ext.get("version"), dv))
check(meta.get("version") == padded, "release version is the control's default_version", meta.get("version"))
# no full script of the default version: CREATE EXTENSION runs 1.0's and
# the update scripts from it (1.0--1.1, 1.1--1.2, ...), so the provided
# file is 1.0's, and a chain of update scripts leads from 1.0 to the
# default_version, each of them in the Makefile's DATA
steps = {}
for f in os.listdir(repo):
    m = re.match(r"pylibmc_pg--([0-9.]+)--([0-9.]+)\.sql$", f)
    if m:
        steps[m.group(1)] = m.group(2)
chain, v = ["1.0"], "1.0"
while v != dv and v in steps and len(chain) < 50:
    v = steps[v]
    chain.append(v)
makefile = open(os.path.join(repo, "Makefile")).read()
data = re.search(r"^DATA\s*=(.*)$", makefile, re.M)
data = data.group(1).replace("$(EXTENSION)", "pylibmc_pg").split() if data else []
scripts = ["pylibmc_pg--1.0.sql"] + ["pylibmc_pg--%s--%s.sql" % (a, b) for a, b in zip(chain, chain[1:])]
check(ext.get("file") == "pylibmc_pg--1.0.sql" and os.path.exists(os.path.join(repo, ext.get("file", "-")))
      and chain[-1] == dv and all(s in data for s in scripts)
      and not os.path.exists(os.path.join(repo, "pylibmc_pg--%s.sql" % dv)),
      "provides file is the install script CREATE EXTENSION starts from (1.0, then %s), all in DATA"
      % ", ".join("%s--%s" % (a, b) for a, b in zip(chain, chain[1:])), (ext.get("file"), chain, data))
check(ext.get("abstract") == control.get("comment") and meta.get("abstract") == control.get("comment"),
      "abstracts are the control's comment", (meta.get("abstract"), ext.get("abstract")))
lic = open(os.path.join(repo, "LICENSE")).readline().strip()
check(meta.get("license") == "postgresql" and lic == "PostgreSQL License", "license is the LICENSE file's", (meta.get("license"), lic))
compat = open(os.path.join(repo, "src", "compat.h")).read()
m = re.search(r'#define PMC_MODULE_VERSION "([^"]*)"', compat)
check(m is not None and m.group(1) == dv, "the module magic version (src/compat.h) is the default_version", m and m.group(1))
req = meta.get("prereqs", {}).get("runtime", {}).get("requires", {}).get("PostgreSQL")
check(req == "13.0.0", "requires PostgreSQL 13.0.0, the oldest major tested", req)
EOF
n=0
while IFS= read -r line; do
	desc=${line#ok }
	desc=${desc#not ok }
	if [[ $line == ok* ]]; then ok 0 "$desc"; else ok 1 "$desc"; fi
	n=$((n + 1))
done <"$WORK/meta.out"
# The Python part printed 12 lines unless it failed early.
if ((n != 12)); then
	sed 's/^/# /' "$WORK/meta.out"
	for ((; n < 12; n++)); do ok 1 "META.json check did not run"; done
fi

# make dist: the archive of HEAD, PGXN style (NAME-VERSION.zip, one top dir).
version=$("$PMC_PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$REPO/META.json" 2>/dev/null || echo unknown)
rc=0
make -s -C "$REPO" PG_CONFIG="$PMC_SYSTEM_PG_BINDIR/pg_config" dist DIST_DIR="$WORK" >"$WORK/dist.log" 2>&1 || rc=$?
zip="$WORK/pylibmc_pg-$version.zip"
[[ -f "$zip" ]] || rc=1
ok "$rc" "make dist writes pylibmc_pg-$version.zip"
[[ $rc -eq 0 ]] || sed 's/^/# /' "$WORK/dist.log"

# Its file list is git's list of tracked files, under pylibmc_pg-VERSION/.
got=$("$PMC_PYTHON" -c '
import sys, zipfile
names = [n for n in zipfile.ZipFile(sys.argv[1]).namelist() if not n.endswith("/")]
print("\n".join(sorted(names)))' "$zip" 2>/dev/null || true)
want=$(git -C "$REPO" ls-tree -r --name-only HEAD | sed "s|^|pylibmc_pg-$version/|" | LC_ALL=C sort)
got=$(printf '%s\n' "$got" | LC_ALL=C sort)
is "$(printf '%s\n' "$got" | wc -l)/$(printf '%s' "$got" | md5sum)" \
	"$(printf '%s\n' "$want" | wc -l)/$(printf '%s' "$want" | md5sum)" \
	"the archive holds exactly the committed files under pylibmc_pg-$version/"

# And what it holds builds (no install) with PGXS.
rc=0
"$PMC_PYTHON" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$zip" "$WORK/x" 2>/dev/null &&
	make -C "$WORK/x/pylibmc_pg-$version" PG_CONFIG="$PMC_SYSTEM_PG_BINDIR/pg_config" >"$WORK/build.log" 2>&1 &&
	[[ -f "$WORK/x/pylibmc_pg-$version/pylibmc_pg.so" ]] || rc=1
ok "$rc" "the unpacked archive builds with PGXS"
[[ $rc -eq 0 ]] || tail -n 20 "$WORK/build.log" | sed 's/^/# /'

tap_done
