# shellcheck shell=bash
#
# test/exchange/lib.sh: helpers of the exchange tests still in bash
# (locale.t: it runs localedef, which needs root; the others are Perl TAP
# in test/t/), sourced, never run.  On top of test/fault/lib.sh (fault_db,
# q, sess, mc_private, TAP):
#
#   qv SQL...              q with VERBOSITY verbose (SQLSTATEs shown)

# shellcheck source=test/fault/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../fault/lib.sh"

qv() {
	local -a args=(-v VERBOSITY=verbose)
	local s
	for s in "$@"; do args+=(-c "$s"); done
	"$PG_BINDIR/psql" -X -q -At -d "$FAULT_DB" "${args[@]}" 2>&1
}

exchange__cleanup() {
	fault__cleanup
}
