#!/usr/bin/env bash
#
# tools/check-layers.sh: the layers of src/ (src/README) hold: every file of
# src/ includes only the project headers of its own layer or of layers below
# it, so no file can call up by name; and no .c file declares an extern of
# its own (which would bypass the headers).  After a build (src/*.o newer
# than their sources), it also reads the objects' symbols (nm): no object
# refers to a function or variable that an object of a higher layer defines.
#
#   tools/check-layers.sh [SRC_DIR]      (make check-layers; tools/test.sh
#                                         counts it as one test)
#
# Prints each violation as FILE:LINE: what, and a closing line; exits 1 on
# any violation.  A file of src/ missing from the table below is one too:
# a new file takes its place in a layer when it is added.
set -euo pipefail

SRC=${1:-"$(cd "$(dirname "${BASH_SOURCE[0]}")/../src" && pwd)"}

# the layers, bottom first (src/README's picture)
LAYER_NAMES=(base guard settings client stats exchange keys codec operations invalidation replay module)

declare -A LAYER=(
	[compat.h]=0 [config.h]=0 [value.h]=0 [config.c]=0 [value.c]=0
	[guard.h]=1 [guard.c]=1
	[settings.h]=2 [guc.c]=2 [credentials.c]=2
	[client.h]=3 [client.c]=3
	[stats.h]=4 [stats.c]=4 [cluster_stats.c]=4
	[exchange.h]=5 [exchange.c]=5
	[keys.h]=6 [keys.c]=6
	[codec.h]=7 [codec.c]=7
	[operations.h]=8 [reads.c]=8 [writes.c]=8 [counters.c]=8 [multi.c]=8 [admin.c]=8 [lease.c]=8
	[inval.h]=9 [inval_queue.c]=9 [inval_send.c]=9 [inval_trigger.c]=9 [inval_log.c]=9
	[replay.h]=10 [inval_replay.c]=10
	[module.c]=11
)

bad=0
files=0
includes=0
violation() {
	echo "$1"
	bad=$((bad + 1))
}
layer_of() { echo "${LAYER_NAMES[$1]} ($1)"; }

for path in "$SRC"/*.c "$SRC"/*.h; do
	[[ -e "$path" ]] || continue
	f=$(basename "$path")
	files=$((files + 1))
	if [[ -z "${LAYER[$f]+x}" ]]; then
		violation "src/$f:1: not in tools/check-layers.sh's table of layers (give it its layer there and in src/README)"
		continue
	fi
	mine=${LAYER[$f]}
	while IFS=: read -r line inc; do
		# only the project's own headers: those in src/
		[[ -e "$SRC/$inc" ]] || continue
		includes=$((includes + 1))
		if [[ -z "${LAYER[$inc]+x}" ]]; then
			violation "src/$f:$line: includes \"$inc\", which is in no layer of tools/check-layers.sh's table"
		elif ((LAYER[$inc] > mine)); then
			violation "src/$f:$line: includes \"$inc\" of layer $(layer_of "${LAYER[$inc]}") from layer $(layer_of "$mine"): a layer includes only its own headers and those below it (src/README)"
		fi
	done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$path" |
		sed 's/^\([0-9]*\):[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1:\2/')
	if [[ $f == *.c ]]; then
		while IFS=: read -r line _; do
			violation "src/$f:$line: an extern declaration in a .c file: declare it in its layer's header"
		done < <(grep -n '^[[:space:]]*extern[[:space:]]' "$path" || true)
	fi
done

# After a build, the objects too: no object refers to a symbol that an
# object of a higher layer defines (whatever the includes say).
objects=0
refs=0
if command -v nm >/dev/null; then
	declare -A DEFINED_IN=()
	for path in "$SRC"/*.c; do
		o=${path%.c}.o
		[[ -f "$o" && "$o" -nt "$path" ]] || continue
		objects=$((objects + 1))
		while read -r sym; do
			DEFINED_IN[$sym]=$(basename "$path")
		done < <(nm --defined-only "$o" | awk '$2 ~ /^[TDBRC]$/ { print $3 }')
	done
	if ((objects > 0)); then
		for path in "$SRC"/*.c; do
			o=${path%.c}.o
			f=$(basename "$path")
			[[ -f "$o" && "$o" -nt "$path" && -n "${LAYER[$f]+x}" ]] || continue
			while read -r sym; do
				d=${DEFINED_IN[$sym]:-}
				[[ -n "$d" && "$d" != "$f" ]] || continue
				refs=$((refs + 1))
				if ((LAYER[$d] > LAYER[$f])); then
					violation "src/$f: calls or reads $sym of $d, layer $(layer_of "${LAYER[$d]}"), from layer $(layer_of "${LAYER[$f]}") (its object, src/${f%.c}.o)"
				fi
			done < <(nm --undefined-only "$o" | awk '{ print $NF }')
		done
	fi
fi

if ((bad > 0)); then
	echo "layers: $bad violation(s) in $files files of src/"
	exit 1
fi
line="layers: $files files of src/, $includes includes of project headers, each of its own layer or below"
((objects == 0)) || line+="; $objects objects, $refs references to other objects, none up"
echo "$line"
