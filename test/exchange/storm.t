#!/usr/bin/env bash
#
# test/exchange/storm.t: issue 12, point 3.  A signal never changes a
# result, and never leaves a reply on a connection for a later call.
#
# Three servers, 30 keys stored.  One session runs mc_get_multi of the 30
# keys in a loop for LOOP_S seconds (each call's rows checked: all 30, all
# with their own value; every tenth call an mc_incr of a counter that must
# go up by exactly one) while another session runs pg_reload_conf() every
# 3 ms (each reload signals every backend).  Then the same with
# pg_cancel_backend hitting some of the calls: a cancelled call may end in
# 57014, every other one must be whole and right.  Afterwards mc_get,
# mc_incr and mc_get_multi in the same session read right values.  In both
# protocols.
#
# With libmemcached 1.1.4 an EINTR shortens the poll (see signals.t), so a
# multi-get ends early with part of the rows and no error; in binary the
# unread replies are then read by the next calls.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=test/exchange/lib.sh
source test/exchange/lib.sh

LOOP_S=${PMC_STORM_SECONDS:-12}
CANCEL_S=8
tap_plan 30
fault_db pmc_exch_storm
work=$(mktemp -d)
trap 'rm -rf "$work"; exchange__cleanup' EXIT

q "CREATE FUNCTION storm_loop(secs float8) RETURNS text LANGUAGE plpgsql AS \$\$
DECLARE
	keys text[] := ARRAY(SELECT 'sm:' || i FROM generate_series(1, 30) i);
	t_end timestamptz := clock_timestamp() + secs * interval '1 s';
	calls int := 0; short int := 0; wrong int := 0; badincr int := 0;
	c int; w int; n bigint; prev bigint := 0;
BEGIN
	PERFORM mc_set('sm:ctr', 0);
	WHILE clock_timestamp() < t_end LOOP
		SELECT count(*), count(*) FILTER (WHERE value IS DISTINCT FROM 'v' || substr(key, 4))
			INTO c, w FROM mc_get_multi(keys);
		calls := calls + 1;
		IF c <> 30 THEN short := short + 1; END IF;
		IF w <> 0 THEN wrong := wrong + 1; END IF;
		IF calls % 10 = 0 THEN
			n := mc_incr('sm:ctr');
			IF n IS DISTINCT FROM prev + 1 THEN badincr := badincr + 1; END IF;
			prev := coalesce(n, prev);
		END IF;
	END LOOP;
	RETURN format('calls=%s short=%s wrong=%s badincr=%s', calls, short, wrong, badincr);
END \$\$" >/dev/null

sess_start_verbose
TARGET_PID=$(sess "SELECT pg_backend_pid()")

GOOD_MULTI="SELECT count(*) FILTER (WHERE value = 'v' || substr(key, 4)) FROM mc_get_multi(ARRAY(SELECT 'sm:' || i FROM generate_series(1, 30) i))"

for proto in off on; do
	sess "RESET ALL; SET pylibmc_pg.servers = '$PMC_MULTI'; SET pylibmc_pg.binary_protocol = $proto" >/dev/null
	is "$(sess "SELECT bool_and(mc_set('sm:' || i, 'v' || i)) FROM generate_series(1, 30) i")" t \
		"binary=$proto: 30 keys stored on three servers"

	# ---- the loop under a SIGHUP storm ----
	signaller "$(storm $((LOOP_S + 1)) 3)"
	out=$(sess "SELECT storm_loop($LOOP_S)" $((LOOP_S + 60)))
	signaller_wait
	diag "binary=$proto: $out"
	unlike "$out" "ERROR" "binary=$proto: $LOOP_S s of get_multi under pg_reload_conf every 3 ms: no error"
	calls=$(sed -n 's/.*calls=\([0-9]*\).*/\1/p' <<<"$out")
	between "${calls:-0}" 200 100000000 "binary=$proto: ... ${calls:-0} calls made"
	like "$out" "short=0 " "binary=$proto: ... no short result"
	like "$out" "wrong=0 " "binary=$proto: ... no wrong value"
	like "$out" "badincr=0$" "binary=$proto: ... every mc_incr went up by one"
	is "$(sess "SELECT mc_set('sm:after', 'fresh') AND mc_get('sm:after') = 'fresh'")" t \
		"binary=$proto: afterwards a set and a get in the same session are right"
	before=$(sess "SELECT mc_get('sm:ctr', NULL::bigint)")
	is "$(sess "SELECT mc_incr('sm:ctr', 5)")" "$((${before:-0} + 5))" \
		"binary=$proto: ... mc_incr gives the counter + 5 (${before:-?} + 5)"

	# ---- the same, with cancels hitting some calls ----
	# as many single statements as the loop made calls in CANCEL_S
	n=$(( ${calls:-6000} * CANCEL_S / LOOP_S ))
	((n >= 200)) || n=200
	((n <= 4000)) || n=4000
	for ((i = 1; i <= n; i++)); do
		if ((i % 10 == 0)); then echo "SELECT 'i:' || coalesce(mc_incr('sm:ctr2')::text, 'NULL');"; else echo "$GOOD_MULTI;"; fi
	done >"$work/batch.sql"
	sess "SELECT mc_set('sm:ctr2', 0)" >/dev/null
	"$PG_BINDIR/psql" -X -q -At -d "$FAULT_DB" -c "DO \$\$ DECLARE t_end timestamptz := clock_timestamp() + interval '$((CANCEL_S + 4)) s'; k int := 0; hits int := 0; BEGIN
		WHILE clock_timestamp() < t_end LOOP
			PERFORM pg_reload_conf();
			k := k + 1;
			IF k % 20 = 0 THEN PERFORM pg_stat_clear_snapshot(); END IF;
			IF k % 20 = 0 AND EXISTS (SELECT FROM pg_stat_activity WHERE pid = $TARGET_PID AND state = 'active' AND query LIKE '%mc_%') THEN
				IF pg_cancel_backend($TARGET_PID) THEN hits := hits + 1; END IF;
			END IF;
			PERFORM pg_sleep(0.003);
		END LOOP;
		RAISE NOTICE 'cancels sent: %', hits; END \$\$" >"$work/signaller.out" 2>&1 &
	SIG_PID=$!
	t0=$(now_ms)
	out=$(sess_include "$work/batch.sql" $((CANCEL_S * 4 + 60)))
	batch_ms=$(($(now_ms) - t0))
	signaller_wait
	diag "binary=$proto: the batch took ${batch_ms} ms; $(grep -o 'cancels sent: [0-9]*' "$work/signaller.out")"
	# (psql prefixes the messages of an \i file with psql:FILE:LINE: )
	cancelled=$(grep -c 'ERROR:  57014:' <<<"$out")
	others=$(grep 'ERROR:' <<<"$out" | grep -vc 'ERROR:  57014:')
	results=$(grep -Ec '^([0-9]+|i:[0-9]+|i:NULL)$' <<<"$out")
	nulls=$(grep -c '^i:NULL$' <<<"$out")
	short=$(grep -E '^[0-9]+$' <<<"$out" | grep -vcx 30)
	nonmono=$(sed -n 's/^i:\([0-9]*\)$/\1/p' <<<"$out" | awk 'NR > 1 && $1 <= prev { bad++ } { prev = $1 } END { print bad + 0 }')
	diag "binary=$proto: $n statements: $results results, $cancelled cancelled, $others other errors, $short short, $nulls NULL increments, $nonmono counter steps backwards"
	between "$cancelled" 1 "$n" "binary=$proto: with cancels: some calls were cancelled ($cancelled)"
	is "$others" 0 "binary=$proto: ... no error other than the cancel"
	grep 'ERROR:' <<<"$out" | grep -v 'ERROR:  57014:' | sed 's/^psql:[^ ]*: //' | sort | uniq -c | head -5 | sed 's/^/# /'
	is "$short" 0 "binary=$proto: ... every get_multi that was not cancelled returned its 30 right rows"
	is "$nonmono" 0 "binary=$proto: ... the counter never went backwards"
	is "$nulls" 0 "binary=$proto: ... and no mc_incr of it came back NULL"
	is "$(sess "SELECT mc_set('sm:after', 'fresh2') AND mc_get('sm:after') = 'fresh2'")" t \
		"binary=$proto: afterwards a set and a get in the same session are right"
	before=$(sess "SELECT mc_get('sm:ctr', NULL::bigint)")
	is "$(sess "SELECT mc_incr('sm:ctr', 5)")" "$((${before:-0} + 5))" \
		"binary=$proto: ... mc_incr gives the counter + 5"
done

sess_stop
tap_done
