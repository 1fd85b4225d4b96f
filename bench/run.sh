#!/usr/bin/env bash
#
# bench/run.sh: pylibmc_pg against pgmemcache and a raw libmemcached client.
#
#   bench/run.sh [--smoke]
#
# Uses the installed extension and the harness's throwaway set-up
# (tools/lib/common.sh: memcached over TCP and a UNIX socket, a scratch
# PostgreSQL 15 cluster), or, when PGHOST and PMC_TCP are already set (inside
# ./tools/test.sh or after sourcing a dev env.sh), that environment as it is.
#
# Every case runs `pgbench -n -M prepared -T BENCH_SECS` at each client count,
# its variants interleaved (A B A B ..., BENCH_PAIRS rounds): pylibmc_pg,
# pgmemcache (Debian's postgresql-15-pgmemcache, in its own database) and
# bench/rawclient.c (libmemcached alone, the floor of any client). Then the
# backend's memory: VmRSS before and after many mc_get and mc_get_multi
# calls, VmHWM for one get_multi of 1,000 values of 100 KB.
#
# Writes to BENCH_OUT (default bench/results): results.md (the table),
# results.csv (every run), memory.csv, chart.png (gnuplot).
#
# Environment:
#   BENCH_SECS=5        seconds per pgbench run (smoke: pgbench -t 100
#                       transactions instead, 1 for the UPDATE case)
#   BENCH_PAIRS=3       interleaved rounds per case (smoke: 1)
#   BENCH_CLIENTS="1 2" pgbench client counts (smoke: "1")
#   BENCH_RAW_SECS=1    seconds per rawclient run (smoke: 0.2)
#   BENCH_OUT=DIR       where the results go (smoke: a temporary dir, printed)
#   BENCH_SMOKE=1       the same as --smoke: every case once, briefly
#   BENCH_CASES="g ..." run only these groups of cases (and no memory
#                       measures), e.g. BENCH_CASES="get100kz set100kz" for
#                       compression: get-tcp-ascii set-tcp-ascii (and the
#                       other get-/set- transports) multi getn get100k
#                       set100k get100kz set100kz get100kj set100kj
#                       update update-statement
#                       preload (mc_get and mc_set with and without
#                       pylibmc_pg preloaded), and instructions
#                       (bench/instructions.sh, also part of a full run)
#   PMC_SKIP_APT=1, PMC_SKIP_BUILD=1, PMC_KEEP=1 as for tools/test.sh
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tools/lib/common.sh
source "$BENCH_DIR/../tools/lib/common.sh"

usage() {
	awk 'NR < 3 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "${BASH_SOURCE[0]}"
}

SMOKE=${BENCH_SMOKE:-0}
case "${1:-}" in
--smoke) SMOKE=1 ;;
-h | --help)
	usage
	exit 0
	;;
"") ;;
*)
	usage >&2
	exit 2
	;;
esac

if [[ $SMOKE == 1 ]]; then
	SECS=${BENCH_SECS:-1} PAIRS=${BENCH_PAIRS:-1} CLIENTS=${BENCH_CLIENTS:-1}
	MEM_GETS=5000 MEM_MULTIS=500
else
	SECS=${BENCH_SECS:-5} PAIRS=${BENCH_PAIRS:-3} CLIENTS=${BENCH_CLIENTS:-"1 2"}
	MEM_GETS=1000000 MEM_MULTIS=100000
fi
if [[ $SMOKE == 1 ]]; then RAW_SECS=${BENCH_RAW_SECS:-0.2}; else RAW_SECS=${BENCH_RAW_SECS:-1}; fi
read -r -a CLIENT_COUNTS <<<"$CLIENTS"
MAX_CLIENTS=1
for c in "${CLIENT_COUNTS[@]}"; do ((c <= MAX_CLIENTS)) || MAX_CLIENTS=$c; done

WORK=""
BIG_STARTED=0
REUSE=0

# bench_cleanup: what this script made besides the harness's servers.
bench_cleanup() {
	! declare -F preload_finish >/dev/null || preload_finish
	if ((BIG_STARTED)); then
		pmc_mc_stop bench_big || true
		BIG_STARTED=0
	fi
	if ((REUSE)) && [[ -n "${PGHOST:-}" ]]; then
		"$PG_BINDIR/psql" -X -q -d postgres -c 'DROP DATABASE IF EXISTS bench_pmc' \
			-c 'DROP DATABASE IF EXISTS bench_pgm' >/dev/null 2>&1 || true
	fi
	if [[ -n "$WORK" && -d "$WORK" ]]; then
		case "$WORK" in /tmp/pmc-bench.??????) rm -rf "$WORK" ;; esac
	fi
	WORK=""
}

# shellcheck disable=SC2317 # called by the harness's EXIT trap
bench_exit_hook() {
	bench_cleanup
	return "$1"
}

if [[ -n "${PGHOST:-}" && -n "${PMC_TCP:-}" ]]; then
	REUSE=1
	[[ -n "${PMC_UNIX:-}" ]] || pmc_die "PMC_TCP is set but PMC_UNIX is not: the benchmark needs both servers"
	[[ -n "${PMC_SCRATCH:-}" && -d "$PMC_SCRATCH/fleet" ]] || pmc_die "PMC_SCRATCH is not a harness scratch dir"
	PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
	trap 'bench_cleanup' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	pmc_step "bench: reusing the environment (PGHOST=$PGHOST, tcp $PMC_TCP, unix $PMC_UNIX)"
else
	pmc_install_traps bench_exit_hook
	pmc_setup tcp unix
fi

WORK=$(mktemp -d /tmp/pmc-bench.XXXXXX)
chmod 755 "$WORK"
if [[ $SMOKE == 1 ]]; then
	OUT=${BENCH_OUT:-$WORK/results}
else
	OUT=${BENCH_OUT:-$BENCH_DIR/results}
fi
mkdir -p "$OUT"
LOG="$WORK/bench.log"
: >"$LOG"
PSQL=("$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1)
PGBENCH="$PG_BINDIR/pgbench"

pmc_step "bench: secs=$SECS pairs=$PAIRS clients=(${CLIENT_COUNTS[*]}) out=$OUT"

# --------------------------------------------------------------------------
# Preparation: the raw client, the values, the databases, the keys

gcc -O2 -Wall -o "$WORK/rawclient" "$BENCH_DIR/rawclient.c" -lmemcached -lz >>"$LOG" 2>&1 ||
	pmc_die "could not build bench/rawclient.c" "$LOG"

# The 100-byte and 100 KB values: random printable bytes (the same seed as
# rawclient's are not needed: only sizes and compressibility matter), and two
# compressible 100 KB values:
# - v100kz, one 40-byte phrase repeated: deflate (level 6) makes it 361 bytes
#   (284x), the repetitive extreme; libdeflate's level 6 compresses it in
#   about 140 µs, its easiest case;
# - v100kj, bench/jsonvalue.py: a JSON array of 189 user records (ids, uuids,
#   names, emails, numbers, timestamps, booleans, tags, nested address and
#   preferences objects), exactly 102,400 bytes, the same bytes every run;
#   deflate level 6 makes it 19,964 bytes with zlib, 19,564 with libdeflate
#   (5.2x), and libdeflate's level 6 takes about 750 µs for it, 5x the phrase.
# (the pipes end early on purpose: SIGPIPE is fine, the sizes are checked)
{ head -c 300000 /dev/urandom | tr -dc '!-~' | head -c 100 >"$WORK/v100"; } || true
{ head -c 300000 /dev/urandom | tr -dc '!-~' | head -c 102400 >"$WORK/v100k"; } || true
{ yes 'pylibmc_pg benchmark row, compressible; ' | tr -d '\n' | head -c 102400 >"$WORK/v100kz"; } || true
python3 "$BENCH_DIR/jsonvalue.py" 102400 >"$WORK/v100kj" || pmc_die "bench/jsonvalue.py failed"
for f in v100 v100k v100kz v100kj; do
	[[ $(stat -c %s "$WORK/$f") -eq $([[ $f == v100 ]] && echo 100 || echo 102400) ]] ||
		pmc_die "could not make the value $f"
done
V100=$(<"$WORK/v100")
V100K=$(<"$WORK/v100k")
V100KZ=$(<"$WORK/v100kz")
V100KJ=$(<"$WORK/v100kj")

# Keys hold no colon: pgbench would take ":name" inside a literal for a variable.
# keys_array PREFIX: a text[] literal of the 100 keys PREFIX000..PREFIX099
keys_array() {
	local i s="{"
	for ((i = 0; i < 100; i++)); do
		printf -v s '%s%s%s%03d' "$s" "$( ((i)) && echo ,)" "$1" "$i"
	done
	echo "$s}"
}
PMC_KEYS=$(keys_array bench.pmc.m)
PGM_KEYS=$(keys_array bench.pgm.m)

"${PSQL[@]}" -d postgres -c 'DROP DATABASE IF EXISTS bench_pmc' -c 'DROP DATABASE IF EXISTS bench_pgm' \
	-c 'CREATE DATABASE bench_pmc' -c 'CREATE DATABASE bench_pgm' >>"$LOG" 2>&1 ||
	pmc_die "could not create the databases bench_pmc and bench_pgm" "$LOG"
"${PSQL[@]}" -d bench_pmc -c 'CREATE EXTENSION pylibmc_pg' >>"$LOG" 2>&1 ||
	pmc_die "could not create the extension pylibmc_pg (is it installed?)" "$LOG"
# pgmemcache needs no shared_preload_libraries: pgmemcache.default_servers
# is a USERSET GUC read when the library loads in the session (here from
# PGOPTIONS); its default protocol is binary, BINARY_PROTOCOL:0 in
# pgmemcache.default_behavior makes it ASCII.
"${PSQL[@]}" -d bench_pgm -c 'CREATE EXTENSION pgmemcache' >>"$LOG" 2>&1 ||
	pmc_die "could not create the extension pgmemcache (Debian package postgresql-15-pgmemcache)" "$LOG"

HAVE_INVALIDATE=$("${PSQL[@]}" -At -d bench_pmc -c "SELECT to_regprocedure('mc_invalidate()') IS NOT NULL")

# pmc_opts TRANSPORT PROTOCOL: PGOPTIONS for pylibmc_pg
pmc_opts() {
	local srv=$PMC_TCP
	[[ $1 == unix ]] && srv=$PMC_UNIX
	printf -- '-c pylibmc_pg.servers=%s -c pylibmc_pg.binary_protocol=%s' "$srv" "$([[ $2 == binary ]] && echo on || echo off)"
}
# pgm_opts TRANSPORT PROTOCOL: PGOPTIONS for pgmemcache
pgm_opts() {
	local srv=$PMC_TCP
	[[ $1 == unix ]] && srv=$PMC_UNIX
	printf -- '-c pgmemcache.default_servers=%s' "$srv"
	[[ $2 == binary ]] || printf -- ' -c pgmemcache.default_behavior=BINARY_PROTOCOL:0'
}

# Every key the reads need, on both servers, written by each extension
# itself (pylibmc_pg writes text with flags 16, pgmemcache flags 0).
prepare_keys() {
	local t
	for t in tcp unix; do
		PGOPTIONS=$(pmc_opts "$t" ascii) "${PSQL[@]}" -d bench_pmc \
			-v v100="$V100" -v v100k="$V100K" -v v100kz="$V100KZ" -v v100kj="$V100KJ" -v keys="$PMC_KEYS" >>"$LOG" 2>&1 <<-'EOF' || pmc_die "could not prepare the pylibmc_pg keys on $t" "$LOG"
			SELECT mc_set('bench.pmc.v100', :'v100');
			SELECT mc_set('bench.pmc.v100k', :'v100k');
			SELECT mc_set('bench.pmc.v100kz', :'v100kz', 0, 1024);
			SELECT mc_set('bench.pmc.v100kzu', :'v100kz');
			SELECT mc_set('bench.pmc.v100kj', :'v100kj', 0, 1024);
			SELECT mc_set('bench.pmc.v100kju', :'v100kj');
			-- the compressed JSON value reads back as it was set (else: division by zero)
			SELECT 1 / (mc_get('bench.pmc.v100kj') = :'v100kj')::int AS v100kj_reads_back;
			SELECT count(mc_set(k, :'v100')) FROM unnest(:'keys'::text[]) AS k;
		EOF
		PGOPTIONS=$(pgm_opts "$t" ascii) "${PSQL[@]}" -d bench_pgm \
			-v v100="$V100" -v v100k="$V100K" -v v100kz="$V100KZ" -v v100kj="$V100KJ" -v keys="$PGM_KEYS" >>"$LOG" 2>&1 <<-'EOF' || pmc_die "could not prepare the pgmemcache keys on $t" "$LOG"
			SELECT memcache_set('bench.pgm.v100', :'v100'::text);
			SELECT memcache_set('bench.pgm.v100k', :'v100k'::text);
			SELECT memcache_set('bench.pgm.v100kz', :'v100kz'::text);
			SELECT memcache_set('bench.pgm.v100kj', :'v100kj'::text);
			SELECT count(memcache_set(k, :'v100'::text)) FROM unnest(:'keys'::text[]) AS k;
		EOF
	done
}
prepare_keys

# The UPDATE tables: 10,000 rows per pgbench client (grp = client_id).
make_upd_table() { # DB TABLE
	"${PSQL[@]}" -d "$1" >>"$LOG" 2>&1 <<-EOF || pmc_die "could not create $1.$2" "$LOG"
		CREATE TABLE $2 (grp int, id int, email text, v int, PRIMARY KEY (grp, id)) WITH (fillfactor = 50);
		INSERT INTO $2 SELECT g, i, 'user' || i || '@example.com', 0
		  FROM generate_series(0, $((MAX_CLIENTS - 1))) g, generate_series(1, 10000) i;
		VACUUM ANALYZE $2;
	EOF
}
make_upd_table bench_pmc upd_plain
make_upd_table bench_pmc upd_inv
make_upd_table bench_pgm upd_pgm
if [[ $HAVE_INVALIDATE == t ]]; then
	"${PSQL[@]}" -d bench_pmc >>"$LOG" 2>&1 <<-'EOF' || pmc_die "could not create the mc_invalidate trigger" "$LOG"
		CREATE TRIGGER upd_inv_invalidate AFTER UPDATE ON upd_inv
		  FOR EACH ROW EXECUTE FUNCTION mc_invalidate('bench.row.{grp}.{id}');
	EOF
fi
"${PSQL[@]}" -d bench_pgm >>"$LOG" 2>&1 <<-'EOF' || pmc_die "could not create the pgmemcache trigger" "$LOG"
	CREATE FUNCTION upd_pgm_delete() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		PERFORM memcache_delete('bench.row.' || OLD.grp || '.' || OLD.id);
		RETURN NULL;
	END $$;
	CREATE TRIGGER upd_pgm_delete AFTER UPDATE ON upd_pgm
	  FOR EACH ROW EXECUTE FUNCTION upd_pgm_delete();
EOF

# --------------------------------------------------------------------------
# The cases
#
# An item is one thing that is timed: ITEM_CASE, ITEM_CLIENT, ITEM_NET
# (transport/protocol), and how to run it: ITEM_KIND (pgbench | raw),
# ITEM_DB, ITEM_OPTS (PGOPTIONS), ITEM_SCRIPT (pgbench file) or ITEM_RAW
# (rawclient arguments). A group is a list of items run round-robin.

declare -A ITEM_CASE ITEM_CLIENT ITEM_NET ITEM_KIND ITEM_DB ITEM_OPTS ITEM_SCRIPT ITEM_RAW ITEM_PRE
GROUPS_LIST=()
declare -A GROUP_ITEMS
NITEMS=0
SKIPPED_CASES=()

# script NAME SQL: write a pgbench script, print its path
script() {
	printf '%s\n' "$2" >"$WORK/$1.sql"
	echo "$WORK/$1.sql"
}

# item GROUP CASE CLIENT NET KIND ...: add an item to a group
item() {
	local g=$1 id=$NITEMS
	NITEMS=$((NITEMS + 1))
	ITEM_CASE[$id]=$2 ITEM_CLIENT[$id]=$3 ITEM_NET[$id]=$4 ITEM_KIND[$id]=$5
	if [[ $5 == pgbench ]]; then
		ITEM_DB[$id]=$6 ITEM_OPTS[$id]=$7 ITEM_SCRIPT[$id]=$8 ITEM_PRE[$id]=${9:-}
	else
		ITEM_RAW[$id]=$6
	fi
	if [[ -z "${GROUP_ITEMS[$g]:-}" ]]; then
		GROUPS_LIST+=("$g")
		GROUP_ITEMS[$g]=$id
	else
		GROUP_ITEMS[$g]+=" $id"
	fi
}

raw_server() { if [[ $1 == unix ]]; then echo "$PMC_UNIX"; else echo "$PMC_TCP"; fi; }
raw_proto() { if [[ $1 == binary ]]; then echo "-b"; fi; }

# The SQL floor runs with the first group (mc_get over TCP, ASCII).
S_SELECT1=$(script select1 'SELECT 1;')
for net in tcp/ascii tcp/binary unix/ascii unix/binary; do
	t=${net%/*} p=${net#*/} g="get-$t-$p"
	[[ $net != tcp/ascii ]] || item "$g" "SELECT 1" "SQL" "-" pgbench bench_pmc "" "$S_SELECT1"
	item "$g" "get 100 B" pylibmc_pg "$net" pgbench bench_pmc "$(pmc_opts "$t" "$p")" \
		"$(script "pmc-get" "SELECT mc_get('bench.pmc.v100');")"
	item "$g" "get 100 B" pgmemcache "$net" pgbench bench_pgm "$(pgm_opts "$t" "$p")" \
		"$(script "pgm-get" "SELECT memcache_get('bench.pgm.v100'::text);")"
	item "$g" "get 100 B" "raw libmemcached" "$net" raw "$(raw_proto "$p") -s 100 -p bench.raw.v100 $(raw_server "$t") get"
	g="set-$t-$p"
	item "$g" "set 100 B" pylibmc_pg "$net" pgbench bench_pmc "$(pmc_opts "$t" "$p")" \
		"$(script "pmc-set" "SELECT mc_set('bench.pmc.s100', :v100::text);")"
	item "$g" "set 100 B" pgmemcache "$net" pgbench bench_pgm "$(pgm_opts "$t" "$p")" \
		"$(script "pgm-set" "SELECT memcache_set('bench.pgm.s100'::text, :v100::text);")"
	item "$g" "set 100 B" "raw libmemcached" "$net" raw "$(raw_proto "$p") -s 100 -p bench.raw.s100 $(raw_server "$t") set"
done

net=tcp/ascii
item multi "get_multi 100 x 100 B" pylibmc_pg $net pgbench bench_pmc "$(pmc_opts tcp ascii)" \
	"$(script pmc-multi "SELECT count(*) FROM mc_get_multi('$PMC_KEYS'::text[]);")"
item multi "get_multi 100 x 100 B" pgmemcache $net pgbench bench_pgm "$(pgm_opts tcp ascii)" \
	"$(script pgm-multi "SELECT count(*) FROM memcache_get_multi('$PGM_KEYS'::text[]);")"
item multi "get_multi 100 x 100 B" "raw libmemcached" $net raw "-s 100 -n 100 -p bench.raw.m $PMC_TCP mget"

item getn "100 x get 100 B, one statement" pylibmc_pg $net pgbench bench_pmc "$(pmc_opts tcp ascii)" \
	"$(script pmc-getn "SELECT count(mc_get(k)) FROM unnest('$PMC_KEYS'::text[]) AS k;")"
item getn "100 x get 100 B, one statement" pgmemcache $net pgbench bench_pgm "$(pgm_opts tcp ascii)" \
	"$(script pgm-getn "SELECT count(memcache_get(k)) FROM unnest('$PGM_KEYS'::text[]) AS k;")"
item getn "100 x get 100 B, one statement" "raw libmemcached" $net raw "-s 100 -n 100 -p bench.raw.m $PMC_TCP getn"

# 100 KB: octet_length() keeps the 100 KB off the wire to pgbench (the same
# for every client); sets ship the value as a bound parameter.
item get100k "get 100 KB" pylibmc_pg $net pgbench bench_pmc "$(pmc_opts tcp ascii)" \
	"$(script pmc-get100k "SELECT octet_length(mc_get('bench.pmc.v100k'));")"
item get100k "get 100 KB" pgmemcache $net pgbench bench_pgm "$(pgm_opts tcp ascii)" \
	"$(script pgm-get100k "SELECT octet_length(memcache_get('bench.pgm.v100k'::text));")"
item get100k "get 100 KB" "raw libmemcached" $net raw "-s 102400 -p bench.raw.v100k $PMC_TCP get"
item set100k "set 100 KB" pylibmc_pg $net pgbench bench_pmc "$(pmc_opts tcp ascii)" \
	"$(script pmc-set100k "SELECT mc_set('bench.pmc.s100k', :v100k::text);")"
item set100k "set 100 KB" pgmemcache $net pgbench bench_pgm "$(pgm_opts tcp ascii)" \
	"$(script pgm-set100k "SELECT memcache_set('bench.pgm.s100k'::text, :v100k::text);")"
item set100k "set 100 KB" "raw libmemcached" $net raw "-s 102400 -p bench.raw.s100k $PMC_TCP set"
# compressible 100 KB, compression on (min_compress_len 1024); pgmemcache has
# no compression, so it moves the 100 KB as they are; "pylibmc_pg
# uncompressed" is the same value without compression (the baseline of the
# compression targets).
# compressible_items z|j LABEL: the four variants of get100kX and
# set100kX on the value $WORK/v100kX (rawclient reads the same file)
compressible_items() {
	local x=$1 label=$2
	item "get100k$x" "get $label" pylibmc_pg $net pgbench bench_pmc "$(pmc_opts tcp ascii)" \
		"$(script "pmc-get100k$x" "SELECT octet_length(mc_get('bench.pmc.v100k$x'));")"
	item "get100k$x" "get $label" "pylibmc_pg uncompressed" $net pgbench bench_pmc "$(pmc_opts tcp ascii)" \
		"$(script "pmc-get100k${x}u" "SELECT octet_length(mc_get('bench.pmc.v100k${x}u'));")"
	item "get100k$x" "get $label" pgmemcache $net pgbench bench_pgm "$(pgm_opts tcp ascii)" \
		"$(script "pgm-get100k$x" "SELECT octet_length(memcache_get('bench.pgm.v100k$x'::text));")"
	item "get100k$x" "get $label" "raw libmemcached" $net raw "-f $WORK/v100k$x -z 1024 -p bench.raw.v100k$x $PMC_TCP get"
	item "set100k$x" "set $label" pylibmc_pg $net pgbench bench_pmc "$(pmc_opts tcp ascii)" \
		"$(script "pmc-set100k$x" "SELECT mc_set('bench.pmc.s100k$x', :v100k$x::text, 0, 1024);")"
	item "set100k$x" "set $label" "pylibmc_pg uncompressed" $net pgbench bench_pmc "$(pmc_opts tcp ascii)" \
		"$(script "pmc-set100k${x}u" "SELECT mc_set('bench.pmc.s100k${x}u', :v100k$x::text);")"
	item "set100k$x" "set $label" pgmemcache $net pgbench bench_pgm "$(pgm_opts tcp ascii)" \
		"$(script "pgm-set100k$x" "SELECT memcache_set('bench.pgm.s100k$x'::text, :v100k$x::text);")"
	item "set100k$x" "set $label" "raw libmemcached" $net raw "-f $WORK/v100k$x -z 1024 -p bench.raw.s100k$x $PMC_TCP set"
}
compressible_items z "100 KB compressible, zlib"
# the same four on the JSON value (bench/jsonvalue.py)
compressible_items j "100 KB compressible JSON"

UPD_CASE="UPDATE 10,000 rows + invalidation"
item update "$UPD_CASE" "no trigger" "-" pgbench bench_pmc "$(pmc_opts tcp ascii)" \
	"$(script upd-plain "UPDATE upd_plain SET v = v + 1 WHERE grp = :client_id;")" "VACUUM upd_plain"
if [[ $HAVE_INVALIDATE == t ]]; then
	item update "$UPD_CASE" "pylibmc_pg mc_invalidate" $net pgbench bench_pmc "$(pmc_opts tcp ascii)" \
		"$(script upd-inv "UPDATE upd_inv SET v = v + 1 WHERE grp = :client_id;")" "VACUUM upd_inv"
else
	SKIPPED_CASES+=("$UPD_CASE|pylibmc_pg mc_invalidate|mc_invalidate() does not exist yet in this build")
	pmc_step "bench: mc_invalidate() does not exist yet: its UPDATE case is skipped"
fi
item update "$UPD_CASE" "pgmemcache per-row memcache_delete" $net pgbench bench_pgm "$(pgm_opts tcp ascii)" \
	"$(script upd-pgm "UPDATE upd_pgm SET v = v + 1 WHERE grp = :client_id;")" "VACUUM upd_pgm"
# update-statement: the same UPDATE with the statement-level triggers of
# mc_invalidate_triggers() beside the row-level one (issue 14.2; the
# 1,000,000-row memory measure is in bench/invalidate_statement.sh)
if [[ $("${PSQL[@]}" -At -d bench_pmc -c "SELECT to_regproc('mc_invalidate_triggers') IS NOT NULL") == t ]]; then
	make_upd_table bench_pmc upd_stmt
	"${PSQL[@]}" -d bench_pmc -c "SELECT mc_invalidate_triggers('upd_stmt', 'bench.stmt.{grp}.{id}')" >>"$LOG" 2>&1 ||
		pmc_die "could not create the statement-level triggers" "$LOG"
	UPDS_CASE="UPDATE 10,000 rows, statement-level invalidation"
	item update-statement "$UPDS_CASE" "no trigger" "-" pgbench bench_pmc "$(pmc_opts tcp ascii)" \
		"$(script upds-plain "UPDATE upd_plain SET v = v + 1 WHERE grp = :client_id;")" "VACUUM upd_plain"
	item update-statement "$UPDS_CASE" "row-level mc_invalidate" $net pgbench bench_pmc "$(pmc_opts tcp ascii)" \
		"$(script upds-row "UPDATE upd_inv SET v = v + 1 WHERE grp = :client_id;")" "VACUUM upd_inv"
	item update-statement "$UPDS_CASE" "statement-level mc_invalidate" $net pgbench bench_pmc "$(pmc_opts tcp ascii)" \
		"$(script upds-stmt "UPDATE upd_stmt SET v = v + 1 WHERE grp = :client_id;")" "VACUUM upd_stmt"
fi

# The cost of the cluster-wide counters (issue 17), group "preload": mc_get
# and mc_set against two throwaway clusters of the same binaries and
# settings, one with shared_preload_libraries = 'pylibmc_pg' (every call
# also counted in shared memory), one without; both exist at once and
# their runs alternate (not preloaded, preloaded, ...).  The ratio
# preloaded / not preloaded (of the medians, the median of the rounds'
# ratios, best round to best round, each round) is printed at the end and
# written to preload.md.
PRELOAD_CASES=("get 100 B, preload cost" "set 100 B, preload cost")
PRELOAD_DIR=""
PRELOAD_DATA=()
# preload_cluster NAME EXTRA_CONF: initdb and start one; its port in PRELOAD_PORT
preload_cluster() {
	local data="$PRELOAD_DIR/$1" port
	port=$(pmc_free_port) || return 1
	PRELOAD_PORT=$port
	(cd "$PRELOAD_DIR" && runuser -u postgres -- "$PG_BINDIR/initdb" -D "$data" -U postgres \
		--auth=trust --no-sync -E UTF8 --locale=C.UTF-8) >>"$LOG" 2>&1 || return 1
	printf '%s\n' "port = $port" "listen_addresses = ''" "unix_socket_directories = '$PRELOAD_DIR'" \
		"fsync = off" "synchronous_commit = off" "full_page_writes = off" "shared_buffers = 32MB" \
		"pylibmc_pg.servers = '$PMC_TCP'" "$2" >>"$data/postgresql.conf"
	PRELOAD_DATA+=("$data")
	(cd "$PRELOAD_DIR" && runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$data" -l "$data.log" -w -t 60 start) \
		>>"$LOG" 2>&1 || return 1
	"${PSQL[@]}" -h "$PRELOAD_DIR" -p "$port" -U postgres -d postgres -c 'CREATE DATABASE bench_pmc' \
		>>"$LOG" 2>&1 || return 1
	"${PSQL[@]}" -h "$PRELOAD_DIR" -p "$port" -U postgres -d bench_pmc -c 'CREATE EXTENSION pylibmc_pg' \
		>>"$LOG" 2>&1 || return 1
}
# preload_finish (from bench_cleanup): print and write the ratios, stop the clusters
preload_finish() {
	local d
	if [[ -n "${CSV:-}" && -r "$CSV" ]] && grep -q 'preload cost' "$CSV"; then
		python3 - "$CSV" "$OUT/preload.md" <<-'PY' || true
			import csv, statistics, sys
			runs = {}
			for r in csv.DictReader(open(sys.argv[1])):
			    if r["case"].endswith("preload cost"):
			        runs.setdefault((r["case"], int(r["clients"])), {}).setdefault(r["client"], {})[int(r["round"])] = float(r["tps"])
			out = ["| case | clients | not preloaded (median TPS) | preloaded | preloaded / not "
			       "| median of the rounds' ratios | best round / best round | per round |",
			       "|---|---:|---:|---:|---:|---:|---:|---|"]
			for (case, n), by in sorted(runs.items()):
			    off, on = by.get("not preloaded", {}), by.get("preloaded", {})
			    if not off or not on:
			        continue
			    mo, mn = statistics.median(off.values()), statistics.median(on.values())
			    rounds = " ".join(f"{on[r] / off[r]:.3f}" if off.get(r) else "n/a" for r in sorted(on))
			    pr = [on[r] / off[r] for r in sorted(on) if off.get(r)]
			    out.append(f"| {case} | {n} | {mo:,.0f} | {mn:,.0f} | {mn / mo if mo else 0:.3f} "
			               f"| {statistics.median(pr) if pr else 0:.3f} "
			               f"| {max(on.values()) / max(off.values()) if max(off.values()) else 0:.3f} | {rounds} |")
			open(sys.argv[2], "w").write("\n".join(out) + "\n")
			print("\n".join(out))
		PY
	fi
	for d in "${PRELOAD_DATA[@]}"; do
		(cd / && runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$d" -w -t 30 stop -m fast) >/dev/null 2>&1 || true
	done
	PRELOAD_DATA=()
}
if [[ -z "${BENCH_CASES:-}" || " $BENCH_CASES " == *" preload "* ]]; then
	PRELOAD_DIR="$WORK/preload"
	mkdir -p "$PRELOAD_DIR"
	chown postgres "$PRELOAD_DIR"
	preload_cluster off "" || pmc_die "could not start the cluster without preload" "$LOG"
	PORT_OFF=$PRELOAD_PORT
	preload_cluster on "shared_preload_libraries = 'pylibmc_pg'" ||
		pmc_die "could not start the cluster with pylibmc_pg preloaded" "$LOG"
	PORT_ON=$PRELOAD_PORT
	"${PSQL[@]}" -At -h "$PRELOAD_DIR" -p "$PORT_ON" -U postgres -d bench_pmc \
		-c "SELECT mc_get('bench.pmc.v100') IS NOT NULL, count(*) >= 0 FROM mc_cluster_stats" 2>>"$LOG" |
		grep -qx 't|t' || pmc_die "the preloaded cluster does not count in mc_cluster_stats" "$LOG"
	S_PRE_GET=$(script preload-get "SELECT mc_get('bench.pmc.v100');")
	S_PRE_SET=$(script preload-set "SELECT mc_set('bench.pmc.s100', :v100::text);")
	for pre in "${PRELOAD_CASES[@]}"; do
		s=$S_PRE_GET
		[[ $pre == set* ]] && s=$S_PRE_SET
		item preload "$pre" "not preloaded" tcp/ascii pgbench \
			"host=$PRELOAD_DIR port=$PORT_OFF user=postgres dbname=bench_pmc" "$(pmc_opts tcp ascii)" "$s"
		item preload "$pre" "preloaded" tcp/ascii pgbench \
			"host=$PRELOAD_DIR port=$PORT_ON user=postgres dbname=bench_pmc" "$(pmc_opts tcp ascii)" "$s"
	done
fi

# Instructions per call (bench/instructions.sh, callgrind): in a full run,
# or with the group "instructions" in BENCH_CASES; its table goes into results.md.
INSTR_RAN=0
if [[ " ${BENCH_CASES:-} " == *" instructions "* || (-z "${BENCH_CASES:-}" && $SMOKE != 1) ]]; then
	INSTR_OUT=$OUT "$BENCH_DIR/instructions.sh" || pmc_die "bench/instructions.sh failed"
	INSTR_RAN=1
	if [[ -n "${BENCH_CASES:-}" ]]; then
		BENCH_CASES=$(tr ' ' '\n' <<<"$BENCH_CASES" | grep -vx 'instructions' | tr '\n' ' ' || true)
		[[ -n "${BENCH_CASES// /}" ]] || exit 0
	fi
fi

# BENCH_CASES: keep only the groups named
if [[ -n "${BENCH_CASES:-}" ]]; then
	kept=()
	for g in "${GROUPS_LIST[@]}"; do
		[[ " $BENCH_CASES " != *" $g "* ]] || kept+=("$g")
	done
	for g in $BENCH_CASES; do
		[[ -n "${GROUP_ITEMS[$g]:-}" ]] || pmc_die "BENCH_CASES: no group $g (groups: ${GROUPS_LIST[*]})"
	done
	GROUPS_LIST=("${kept[@]}")
	SKIPPED_CASES=()
fi

# --------------------------------------------------------------------------
# Running

CSV="$OUT/results.csv"
echo "case,client,net,clients,round,tps" >"$CSV"

# run_item ID NCLIENTS: print the TPS (0 on failure, with the log kept)
run_item() {
	local id=$1 n=$2 out rc=0 tps
	if [[ ${ITEM_KIND[$id]} == raw ]]; then
		local -a args pids=()
		read -r -a args <<<"${ITEM_RAW[$id]}"
		local i
		for ((i = 0; i < n; i++)); do
			"$WORK/rawclient" -S "$RAW_SECS" "${args[@]}" >"$WORK/raw.$i" 2>>"$LOG" &
			pids+=($!)
		done
		for i in "${pids[@]}"; do wait "$i" || rc=1; done
		if ((rc)); then
			echo 0
			return
		fi
		cat "$WORK"/raw.[0-9]* | awk '{ s += $1 } END { printf "%.1f\n", s }'
		rm -f "$WORK"/raw.[0-9]*
		return
	fi
	if [[ -n "${ITEM_PRE[$id]}" ]]; then
		"${PSQL[@]}" -d "${ITEM_DB[$id]}" -c "${ITEM_PRE[$id]}" >>"$LOG" 2>&1 || true
	fi
	# smoke: a fixed number of transactions (pgbench -T is whole seconds)
	local -a duration=(-T "$SECS")
	if [[ $SMOKE == 1 ]]; then
		duration=(-t 100)
		[[ ${ITEM_CASE[$id]} != UPDATE* ]] || duration=(-t 1)
	fi
	out=$(PGOPTIONS=${ITEM_OPTS[$id]} timeout -k 10 $((SECS + 120)) "$PGBENCH" -n -M prepared \
		"${duration[@]}" -c "$n" -j "$n" -f "${ITEM_SCRIPT[$id]}" \
		-D v100="$V100" -D v100k="$V100K" -D v100kz="$V100KZ" -D v100kj="$V100KJ" "${ITEM_DB[$id]}" 2>&1) || rc=$?
	tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)$/\1/p' <<<"$out")
	if ((rc != 0)) || [[ -z "$tps" ]] || grep -q 'ERROR\|aborted' <<<"$out"; then
		{
			echo "--- pgbench failed: ${ITEM_CASE[$id]} / ${ITEM_CLIENT[$id]} / ${ITEM_NET[$id]} (status $rc)"
			head -c 4000 <<<"$out"
			echo
		} >>"$LOG"
		echo 0
		return
	fi
	echo "$tps"
}

csvq() { printf '"%s"' "${1//\"/\"\"}"; }

START=$SECONDS
NRUNS=0
for n in "${CLIENT_COUNTS[@]}"; do
	for g in "${GROUPS_LIST[@]}"; do
		read -r -a ids <<<"${GROUP_ITEMS[$g]}"
		for ((r = 1; r <= PAIRS; r++)); do
			line=""
			for id in "${ids[@]}"; do
				tps=$(run_item "$id" "$n")
				NRUNS=$((NRUNS + 1))
				printf '%s,%s,%s,%s,%s,%s\n' "$(csvq "${ITEM_CASE[$id]}")" "$(csvq "${ITEM_CLIENT[$id]}")" \
					"${ITEM_NET[$id]}" "$n" "$r" "$tps" >>"$CSV"
				line+=" ${ITEM_CLIENT[$id]%% *}=$tps"
			done
			printf '    [%4ds] c=%s %-14s round %d:%s\n' $((SECONDS - START)) "$n" "$g" "$r" "$line"
		done
	done
done
pmc_step "bench: $NRUNS runs in $((SECONDS - START)) s"

# --------------------------------------------------------------------------
# Memory (not with BENCH_CASES): one psql backend, its /proc status read as root between statements

MEMCSV="$OUT/memory.csv"
echo "client,measure,before_kb,after_kb" >"$MEMCSV"
if [[ -z "${BENCH_CASES:-}" ]]; then
MEMRAW="$WORK/mem.txt"

# mem_session DB PGOPTIONS SQL-FILE: run it; the file writes "label field
# kB" lines to $MEMRAW with \! (see mark below).
mem_session() {
	: >"$MEMRAW"
	PGOPTIONS=$2 "${PSQL[@]}" -At -d "$1" -f "$3" >>"$LOG" 2>&1 ||
		pmc_die "memory session failed" "$LOG"
}
# mark LABEL: the psql lines that record VmRSS and VmHWM under LABEL
mark() {
	printf '\\! echo "%s $(grep -E "^(VmRSS|VmHWM):" /proc/$BPID/status | tr -s " \\t" " " | tr "\\n" " ")" >> %s\n' "$1" "$MEMRAW"
}
# mem_value LABEL FIELD: a recorded value in kB
mem_value() {
	awk -v l="$1" -v f="$2:" '$1 == l { for (i = 2; i <= NF; i++) if ($i == f) print $(i + 1) }' "$MEMRAW"
}

pmc_step "bench: memory: $MEM_GETS x mc_get, $MEM_MULTIS x mc_get_multi(100)"
{
	echo 'SELECT pg_backend_pid() AS pid \gset'
	echo '\setenv BPID :pid'
	echo "SELECT mc_get('bench.pmc.v100'); SELECT count(*) FROM mc_get_multi('$PMC_KEYS'::text[]);"
	mark start
	echo "SELECT count(mc_get('bench.pmc.v100')) FROM generate_series(1, $MEM_GETS);"
	mark gets
	echo "DO \$\$ BEGIN FOR i IN 1..$MEM_MULTIS LOOP PERFORM count(*) FROM mc_get_multi('$PMC_KEYS'::text[]); END LOOP; END \$\$;"
	mark multis
} >"$WORK/mem-pmc.sql"
mem_session bench_pmc "$(pmc_opts tcp ascii)" "$WORK/mem-pmc.sql"
echo "pylibmc_pg,VmRSS $MEM_GETS x get,$(mem_value start VmRSS),$(mem_value gets VmRSS)" >>"$MEMCSV"
echo "pylibmc_pg,VmRSS $MEM_MULTIS x get_multi(100),$(mem_value gets VmRSS),$(mem_value multis VmRSS)" >>"$MEMCSV"

{
	echo 'SELECT pg_backend_pid() AS pid \gset'
	echo '\setenv BPID :pid'
	echo "SELECT memcache_get('bench.pgm.v100'::text); SELECT count(*) FROM memcache_get_multi('$PGM_KEYS'::text[]);"
	mark start
	echo "SELECT count(memcache_get('bench.pgm.v100'::text)) FROM generate_series(1, $MEM_GETS);"
	mark gets
	echo "DO \$\$ BEGIN FOR i IN 1..$MEM_MULTIS LOOP PERFORM count(*) FROM memcache_get_multi('$PGM_KEYS'::text[]); END LOOP; END \$\$;"
	mark multis
} >"$WORK/mem-pgm.sql"
mem_session bench_pgm "$(pgm_opts tcp ascii)" "$WORK/mem-pgm.sql"
echo "pgmemcache,VmRSS $MEM_GETS x get,$(mem_value start VmRSS),$(mem_value gets VmRSS)" >>"$MEMCSV"
echo "pgmemcache,VmRSS $MEM_MULTIS x get_multi(100),$(mem_value gets VmRSS),$(mem_value multis VmRSS)" >>"$MEMCSV"

# Peak for one get_multi of 1,000 values of 100 KB (~100 MB): a private
# memcached with room for them.
pmc_step "bench: memory: peak for one get_multi of 1,000 x 100 KB"
pmc_mc_start bench_big -m 512 >/dev/null || pmc_die "could not start a private memcached"
BIG_STARTED=1
BIG=$(pmc_mc_addr bench_big)
"${PSQL[@]}" -d bench_pmc -c "SET pylibmc_pg.servers = '$BIG'" \
	-c "SELECT count(mc_set('bench.big.' || lpad(i::text, 4, '0'), repeat(md5(i::text), 3200))) FROM generate_series(1, 1000) i" \
	>>"$LOG" 2>&1 || pmc_die "could not fill the private memcached" "$LOG"
BIG_KEYS="{$(seq -f 'bench.big.%04g' -s, 1 1000)}"
{
	echo 'SELECT pg_backend_pid() AS pid \gset'
	echo '\setenv BPID :pid'
	echo "SELECT octet_length(mc_get('bench.big.0001'));"
	mark start
	echo "SELECT count(*), sum(octet_length(value)) FROM mc_get_multi('$BIG_KEYS'::text[]);"
	mark peak
} >"$WORK/mem-big.sql"
mem_session bench_pmc "-c pylibmc_pg.servers=$BIG" "$WORK/mem-big.sql"
BIG_ROWS=$(grep -E '^1000\|102400000$' "$LOG" | tail -n 1 || true)
[[ -n "$BIG_ROWS" ]] || pmc_error "get_multi of 1,000 x 100 KB did not return 1,000 values of 102,400 bytes"
echo "pylibmc_pg,VmHWM one get_multi(1000 x 100 KB),$(mem_value start VmHWM),$(mem_value peak VmHWM)" >>"$MEMCSV"
pmc_mc_stop bench_big
BIG_STARTED=0
fi # BENCH_CASES

# --------------------------------------------------------------------------
# The report: results.md, chart.png

{
	printf '%s\n' "${SKIPPED_CASES[@]}" | sed '/^$/d'
} >"$WORK/skipped.txt"
DURATION="pgbench -T $SECS"
[[ $SMOKE != 1 ]] || DURATION="smoke: pgbench -t 100 (UPDATE -t 1)"
BENCH_META="$DURATION, pairs=$PAIRS clients=${CLIENT_COUNTS[*]} raw_secs=$RAW_SECS; $(nproc) CPUs; $(memcached -V); PostgreSQL $("$PG_BINDIR/postgres" -V | awk '{ print $3 }'); pylibmc_pg.so of $(stat -c %y "$("$PMC_PG_CONFIG" --pkglibdir)/pylibmc_pg.so" | cut -d. -f1), checkout $(git -C "$BENCH_DIR/.." rev-parse --short HEAD 2>/dev/null || echo unknown); $(date -u '+%F %H:%M UTC')"
python3 "$BENCH_DIR/report.py" "$OUT" "$WORK/skipped.txt" "$BENCH_META" || pmc_die "report.py failed"
((INSTR_RAN == 0)) || { echo; cat "$OUT/instructions.md"; } >>"$OUT/results.md"
if command -v gnuplot >/dev/null; then
	gnuplot "$OUT/chart.gp" >>"$LOG" 2>&1 || pmc_error "gnuplot failed (log: $LOG)"
fi
if grep -q '^--- pgbench failed' "$LOG"; then
	pmc_error "some pgbench runs failed (TPS 0); first failure:"
	sed -n '/^--- pgbench failed/,/^$/p' "$LOG" | head -n 20 >&2
	cp "$LOG" "$OUT/bench.log"
fi
pmc_step "bench: done in $((SECONDS - START)) s: $OUT/results.md"
cat "$OUT/results.md"
