# shellcheck shell=bash
#
# test/lib/tap.sh: TAP output for the bash tests (sourced, never run).
#
#   tap_plan N               print the plan
#   ok STATUS DESC           ok when STATUS is 0
#   is GOT WANT DESC         string equality
#   like GOT ERE DESC        GOT matches the extended regex
#   unlike GOT ERE DESC      GOT does not match it
#   between N LO HI DESC     integer LO <= N <= HI
#   tap_done                 the exit status: 0 when every test passed

T_N=0
T_FAILS=0

tap_plan() { echo "1..$1"; }

# ok STATUS DESCRIPTION: ok when STATUS is 0.
ok() {
	T_N=$((T_N + 1))
	if [[ $1 -eq 0 ]]; then
		printf 'ok %d - %s\n' "$T_N" "$2"
	else
		printf 'not ok %d - %s\n' "$T_N" "$2"
		T_FAILS=$((T_FAILS + 1))
	fi
}

# is GOT WANT DESCRIPTION
is() {
	if [[ "$1" == "$2" ]]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		printf '#   got:  %s\n#   want: %s\n' "${1//$'\n'/\\n}" "${2//$'\n'/\\n}"
	fi
}

# like GOT ERE DESCRIPTION: ok when GOT matches the extended regex.
like() {
	if [[ "$1" =~ $2 ]]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		printf '#   got:  %s\n#   want: /%s/\n' "${1//$'\n'/\\n}" "$2"
	fi
}

# unlike GOT ERE DESCRIPTION
unlike() {
	if [[ "$1" =~ $2 ]]; then
		ok 1 "$3"
		printf '#   got:  %s\n#   must not match: /%s/\n' "${1//$'\n'/\\n}" "$2"
	else
		ok 0 "$3"
	fi
}

# between N LO HI DESCRIPTION: integer LO <= N <= HI.
between() {
	if [[ "$1" =~ ^-?[0-9]+$ ]] && (($1 >= $2 && $1 <= $3)); then
		ok 0 "$4"
	else
		ok 1 "$4"
		printf '#   got: %s, want %s..%s\n' "$1" "$2" "$3"
	fi
}

# tap_done: the exit status (0 when every test passed).
tap_done() {
	((T_FAILS == 0))
}
