#!/usr/bin/env bash
#
# test/docs/examples.t: every ```sql block of README.md and doc/*.md runs,
# one TAP check per block, so the documentation cannot drift from the code
# (the convention is written down for authors in doc/contributing.md, "The
# examples in the documentation").
#
#   - A throwaway cluster of its own (shared_preload_libraries = 'pylibmc_pg',
#     so the cluster-wide statistics exist; max_prepared_transactions > 0)
#     and a private memcached that pylibmc_pg.servers names.
#   - Each file: a fresh database "app" (no extension: the file creates it),
#     memcached flushed; its blocks run in order, each in a new psql session
#     with ON_ERROR_STOP and VERBOSITY verbose. After a block that uses ALTER
#     SYSTEM: ALTER SYSTEM RESET ALL and a reload, then a wait until new
#     sessions see the configured settings again. After the file: its
#     database and the roles it created are dropped.
#   - A line that starts with SELECT and ends with "; --> TEXT" is checked:
#     psql's unaligned output for that statement (" | " between columns,
#     ", " between rows) must be TEXT.
#   - The line before a block may be <!-- example: error SQLSTATE --> (the
#     block must fail with that SQLSTATE) or <!-- example: skip: REASON -->
#     (not run: a TAP skip, not a pass). Any other <!-- example: ... --> is
#     a failure, so that a typo cannot silently change what is checked.
#
# PMC_DOCS_FILES (paths relative to the checkout, space-separated) narrows
# the files; the default is README.md and doc/*.md.
set -uo pipefail

# shellcheck source=tools/lib/common.sh
source "${PMC_COMMON:-$(dirname "$0")/../../tools/lib/common.sh}"
# shellcheck source=test/lib/tap.sh
source "$(dirname "$0")/../lib/tap.sh"

diag() { printf '# %s\n' "$*"; }

REPO=${PMC_REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
PSQL="$PG_BINDIR/psql"
DIR=$(mktemp -d /tmp/pmc-docs.XXXXXX)
chmod 0755 "$DIR"
chown postgres "$DIR"
DATA="$DIR/pgdata"
LOG="$DIR/pg.log"
MC_NAME="docs-examples-$$"
MC_STARTED=0

cleanup() {
	if [[ -f "$DATA/postmaster.pid" ]]; then
		(cd "$DIR" && runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$DATA" -w -t 30 stop -m fast) >/dev/null 2>&1 || true
	fi
	if ((MC_STARTED)); then
		pmc_mc_stop "$MC_NAME" >/dev/null 2>&1 || true
		rm -rf "$(pmc__mc_dir "$MC_NAME")"
	fi
	if ((T_FAILS == 0)); then rm -rf "$DIR"; else echo "# kept $DIR (blocks, outputs, server log)"; fi
}
trap cleanup EXIT

# ---------- the blocks ----------

FILES=()
if [[ -n "${PMC_DOCS_FILES:-}" ]]; then
	read -r -a FILES <<<"$PMC_DOCS_FILES"
else
	FILES=(README.md)
	for f in "$REPO"/doc/*.md; do [[ -f "$f" ]] && FILES+=("doc/$(basename "$f")"); done
fi

# extract FILE OUTDIR: write each ```sql block of FILE to OUTDIR/NNN.sql and
# print one line per block: NNN<TAB>LINE<TAB>DIRECTIVE (the text of an
# <!-- example: ... --> comment on the line before the fence, or empty).
# Fences may be indented (inside a list); other fenced blocks are skipped.
extract() {
	awk -v out="$2" '
		function flush_directive() { d = "" }
		!inb && /^[ \t]*```/ {
			fence = $0; sub(/^[ \t]*/, "", fence)
			if (fence ~ /^```sql[ \t]*$/) {
				inb = 1; kind = "sql"; n++
				indent = $0; sub(/```.*/, "", indent)
				file = sprintf("%s/%03d.sql", out, n)
				printf "" > file
				printf "%03d\t%d\t%s\n", n, NR, prev_directive
			} else {
				inb = 1; kind = "other"
			}
			prev_directive = ""
			next
		}
		inb && /^[ \t]*```[ \t]*$/ {
			if (kind == "sql") close(file)
			inb = 0; next
		}
		inb {
			if (kind == "sql") {
				line = $0
				if (indent != "" && index(line, indent) == 1) line = substr(line, length(indent) + 1)
				print line > file
			}
			next
		}
		/^[ \t]*<!--[ \t]*example:/ {
			d = $0
			sub(/^[ \t]*<!--[ \t]*example:[ \t]*/, "", d)
			sub(/[ \t]*-->[ \t]*$/, "", d)
			prev_directive = d
			next
		}
		{ prev_directive = "" }
	' "$1"
}

WORK="$DIR/blocks"
mkdir -p "$WORK"
chmod 0755 "$WORK"
declare -a B_FILE=() B_ID=() B_LINE=() B_DIR=()
for f in "${FILES[@]}"; do
	sub="$WORK/${f//\//_}"
	mkdir -p "$sub"
	while IFS=$'\t' read -r id line d; do
		B_FILE+=("$f")
		B_ID+=("$sub/$id")
		B_LINE+=("$line")
		B_DIR+=("$d")
	done < <(extract "$REPO/$f" "$sub")
done

if ((${#B_FILE[@]} == 0)); then
	echo "1..0 # SKIP no sql blocks found in ${FILES[*]}"
	exit 0
fi
# Two more checks on a full run: every function and view of the extension is
# named in doc/reference.md, every setting in doc/configuration.md.
COVERAGE=0
[[ -n "${PMC_DOCS_FILES:-}" ]] || COVERAGE=2
tap_plan "$((${#B_FILE[@]} + COVERAGE))"

# ---------- the cluster and the memcached ----------

MC_ADDR=$(pmc_mc_start "$MC_NAME") || {
	echo "Bail out! could not start a memcached"
	exit 1
}
MC_STARTED=1
PORT=$(pmc_free_port)
pmc_throwaway_initdb "$DIR" "$DATA" "$PORT"
cat >>"$DATA/postgresql.conf" <<EOF
shared_preload_libraries = 'pylibmc_pg'
pylibmc_pg.servers = '$MC_ADDR'
max_prepared_transactions = 10
log_min_messages = warning
EOF
(cd "$DIR" && runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start) >/dev/null 2>&1 || {
	sed 's/^/#   /' "$LOG" | tail -5
	echo "Bail out! the throwaway cluster did not start"
	exit 1
}

# admin SQL...: statements as the superuser in database postgres
admin() {
	local -a cmds=()
	local c
	for c in "$@"; do cmds+=(-c "$c"); done
	"$PSQL" -X -q -At -h "$DIR" -p "$PORT" -U postgres -d postgres "${cmds[@]}" 2>&1
}

admin "CREATE EXTENSION pylibmc_pg" >/dev/null
SETTINGS_SQL="SELECT string_agg(name || '=' || setting, ',' ORDER BY name) FROM pg_settings WHERE name LIKE 'pylibmc_pg.%'"
BASELINE=$(admin "$SETTINGS_SQL")

# settings_restored: ALTER SYSTEM RESET ALL, reload, and wait (10 s) until a
# new session sees the baseline settings
settings_restored() {
	admin "ALTER SYSTEM RESET ALL" "SELECT pg_reload_conf()" >/dev/null
	local _
	for _ in $(seq 1 100); do
		[[ "$(admin "$SETTINGS_SQL")" == "$BASELINE" ]] && return 0
		sleep 0.1
	done
	return 1
}

# file_start: a fresh database "app" and an empty memcached
file_start() {
	admin "DROP DATABASE IF EXISTS app WITH (FORCE)" "CREATE DATABASE app" "SELECT mc_flush_all()" >/dev/null
}

# file_end: drop its database and every role it created
file_end() {
	local r
	admin "DROP DATABASE IF EXISTS app WITH (FORCE)" >/dev/null
	while IFS= read -r r; do
		[[ -n "$r" ]] || continue
		admin "DROP OWNED BY \"$r\" CASCADE" "DROP ROLE \"$r\"" >/dev/null
	done < <(admin "SELECT rolname FROM pg_roles WHERE rolname !~ '^pg_' AND rolname <> 'postgres'")
}

# prepare BLOCK: write BLOCK.run, the block with each "SELECT ...; --> TEXT"
# line wrapped in \o BLOCK.outN ... \o, and BLOCK.expN holding TEXT
prepare() {
	awk -v base="$1" '
		/^SELECT .*;[ \t]*-->[ \t]/ {
			n++
			stmt = $0; sub(/[ \t]*-->.*$/, "", stmt)
			want = $0; sub(/^.*;[ \t]*-->[ \t]*/, "", want); sub(/[ \t]+$/, "", want)
			printf "%s\n", want > (base ".exp" n); close(base ".exp" n)
			printf "\\o %s.out%d\n%s\n\\o\n", base, n, stmt
			next
		}
		{ print }
	' "$1.sql" >"$1.run"
	chmod 0644 "$1.run"
}

# run_block BLOCK: run BLOCK.run in database app; sets OUT and RC
run_block() {
	OUT=$("$PSQL" -X -q -At -F ' | ' -v ON_ERROR_STOP=1 -v VERBOSITY=verbose \
		-h "$DIR" -p "$PORT" -U postgres -d app -f "$1.run" 2>&1)
	RC=$?
}

# first_sqlstate OUTPUT: the SQLSTATE of the first ERROR, or "none"
first_sqlstate() {
	local s
	s=$(sed -n 's/^\(psql:[^ ]* \)\{0,1\}ERROR:  \([0-9A-Z]\{5\}\): .*/\2/p' <<<"$1" | head -n 1)
	echo "${s:-none}"
}

# check_results BLOCK: every BLOCK.expN against BLOCK.outN; sets WHY
check_results() {
	local exp n want got
	WHY=""
	for exp in "$1".exp*; do
		[[ -e "$exp" ]] || continue
		n=${exp##*.exp}
		want=$(cat "$exp")
		got=""
		[[ -e "$1.out$n" ]] && got=$(paste -sd '\n' "$1.out$n" | sed ':a;N;$!ba;s/\n/, /g')
		if [[ "$got" != "$want" ]]; then
			WHY+="result $n: got '$got', want '$want'; "
		fi
	done
}

# ---------- run them ----------

current=""
for i in "${!B_FILE[@]}"; do
	f=${B_FILE[i]} b=${B_ID[i]} line=${B_LINE[i]} d=${B_DIR[i]}
	desc="$f:$line"
	if [[ "$f" != "$current" ]]; then
		[[ -z "$current" ]] || file_end
		file_start
		current=$f
	fi
	case "$d" in
	"")
		want_err=""
		;;
	error\ *)
		want_err=${d#error }
		want_err=${want_err// /}
		;;
	skip:*)
		reason=${d#skip:}
		reason=${reason# }
		printf 'ok %d - %s # SKIP %s\n' "$((T_N + 1))" "$desc" "$reason"
		T_N=$((T_N + 1))
		continue
		;;
	*)
		ok 1 "$desc: unknown directive <!-- example: $d -->"
		continue
		;;
	esac
	prepare "$b"
	run_block "$b"
	if [[ -n "$want_err" ]]; then
		got_err=$(first_sqlstate "$OUT")
		if ((RC != 0)) && [[ "$got_err" == "$want_err" ]]; then
			ok 0 "$desc (error $want_err)"
		else
			ok 1 "$desc (error $want_err)"
			diag "psql status $RC, first SQLSTATE $got_err, want $want_err"
			sed 's/^/#   /' <<<"$OUT" | head -n 20
		fi
	else
		check_results "$b"
		if ((RC == 0)) && [[ -z "$WHY" ]]; then
			ok 0 "$desc"
		else
			ok 1 "$desc"
			((RC == 0)) || diag "psql status $RC"
			[[ -z "$WHY" ]] || diag "$WHY"
			sed 's/^/#   /' <<<"$OUT" | grep -v '^#   $' | head -n 20
		fi
	fi
	if grep -qi 'ALTER[[:space:]]\+SYSTEM' "$b.sql"; then
		settings_restored || diag "the settings did not come back after $desc"
	fi
done
file_end

# ---------- nothing of the extension goes undocumented ----------

# undocumented DOC SQL: the names SQL prints that DOC does not name (as words)
undocumented() {
	local name missing=""
	while IFS= read -r name; do
		[[ -n "$name" ]] || continue
		grep -qwF -- "$name" "$REPO/$1" || missing+=" $name"
	done < <(admin "$2")
	printf '%s' "$missing"
}

if ((COVERAGE)); then
	missing=$(undocumented doc/reference.md "
		SELECT p.proname FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
		JOIN pg_proc p ON p.oid = d.objid
		WHERE d.classid = 'pg_proc'::regclass AND e.extname = 'pylibmc_pg'
		UNION
		SELECT c.relname FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
		JOIN pg_class c ON c.oid = d.objid
		WHERE d.classid = 'pg_class'::regclass AND e.extname = 'pylibmc_pg'")
	is "$missing" "" "doc/reference.md names every function and view of the extension"
	# pg_settings leaves out the password (GUC_NO_SHOW_ALL): named here
	missing=$(undocumented doc/configuration.md "
		SELECT name FROM pg_settings WHERE name LIKE 'pylibmc_pg.%'
		UNION SELECT 'pylibmc_pg.password'")
	is "$missing" "" "doc/configuration.md names every setting"
fi

tap_done
