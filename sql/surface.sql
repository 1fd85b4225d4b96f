--
-- surface: every function of the pylibmc Client API in SQL, over the ASCII
-- protocol, with its edge cases (what pylibmc does, and where pylibmc_pg
-- is stricter: bad keys, negative ttls, counters beyond bigint).
--
-- Run as a superuser (mc_flush_all is not for PUBLIC).  Keys start with
-- "surf:" so this file does not meet the other suites'.
--
\set VERBOSITY terse

-- Run a statement; show its SQLSTATE and message, with server addresses
-- (which depend on the test environment) replaced.
CREATE FUNCTION pg_temp.try(stmt text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE stmt;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' ||
		regexp_replace(SQLERRM, 'memcached server \S+', 'memcached server SERVER');
END
$$;

SELECT coalesce(current_setting('pylibmc_test.tcp', true), '127.0.0.1:11211') AS tcp,
	   current_setting('pylibmc_test.unix') AS unix,
	   coalesce(current_setting('pylibmc_test.down', true), '127.0.0.1:1') AS down \gset

SELECT mc_flush_all();
SELECT current_setting('pylibmc_pg.binary_protocol') AS binary_protocol;
SELECT mc_get('surf:anything') IS NULL AS flushed;
SELECT mc_set('surf:alive', 'yes');

------------------------------------------------------------------------
-- set, add, replace
------------------------------------------------------------------------
SELECT mc_set('surf:s', 'one'), mc_get('surf:s');
SELECT mc_set('surf:s', 'two'), mc_get('surf:s');
-- add: only when absent
SELECT mc_add('surf:s', 'three') AS add_on_present, mc_get('surf:s');
SELECT mc_add('surf:new', 'fresh') AS add_on_absent, mc_get('surf:new');
-- replace: only when present (false on absent, in both protocols)
SELECT mc_replace('surf:absent', 'x') AS replace_on_absent, mc_get('surf:absent') IS NULL AS still_absent;
SELECT mc_replace('surf:s', 'four') AS replace_on_present, mc_get('surf:s');
-- every writer takes each value type; add/replace keep the type flags
SELECT mc_replace('surf:s', 7), (mc_get_raw('surf:s')).flags, mc_get('surf:s', NULL::bigint);
SELECT mc_add('surf:addb', '\xdead'::bytea), (mc_get_raw('surf:addb')).*;
-- ttl < 0 is refused, in every writer
SELECT pg_temp.try($$SELECT mc_set('surf:s', 'x', -1)$$) AS set_neg_ttl;
SELECT pg_temp.try($$SELECT mc_add('surf:s', 'x', -1)$$) AS add_neg_ttl;
SELECT pg_temp.try($$SELECT mc_replace('surf:s', 'x', -5)$$) AS replace_neg_ttl;
SELECT mc_get('surf:s') AS unchanged;

------------------------------------------------------------------------
-- append, prepend: raw bytes, flags of the stored item untouched
------------------------------------------------------------------------
SELECT mc_append('surf:absent', 'x') AS append_on_absent,
	   mc_prepend('surf:absent', 'x') AS prepend_on_absent,
	   (mc_get_raw('surf:absent')).flags IS NULL AS still_absent;
SELECT mc_set('surf:ap', 'mid'), mc_append('surf:ap', '>'), mc_prepend('surf:ap', '<'::bytea);
SELECT * FROM mc_get_raw('surf:ap');
SELECT mc_get('surf:ap');
-- on an integer: the digits are appended, it stays an integer (flags 4)
SELECT mc_set('surf:apint', 5), mc_append('surf:apint', 5), mc_prepend('surf:apint', 1);
SELECT * FROM mc_get_raw('surf:apint');
SELECT mc_get('surf:apint', NULL::bigint) + 1 AS plus_one;
-- on bytea (flags 0): stays bytea
SELECT mc_set('surf:apb', '\x01'::bytea), mc_append('surf:apb', '\x02'::bytea), mc_prepend('surf:apb', 'A');
SELECT * FROM mc_get_raw('surf:apb');

------------------------------------------------------------------------
-- incr, decr
------------------------------------------------------------------------
SELECT mc_incr('surf:nocounter') IS NULL AS incr_missing_is_null,
	   mc_decr('surf:nocounter') IS NULL AS decr_missing_is_null,
	   mc_get('surf:nocounter') IS NULL AS not_created;
SELECT mc_set('surf:c', 10);
SELECT mc_incr('surf:c'), mc_incr('surf:c', 5), mc_decr('surf:c'), mc_decr('surf:c', 4);
-- decr stops at 0
SELECT mc_decr('surf:c', 100) AS clamped, mc_decr('surf:c') AS still_zero;
-- the flags of the stored item stay: a text counter is still text
SELECT mc_set('surf:ctext', '1'), mc_incr('surf:ctext', 41), (mc_get_raw('surf:ctext')).*;
-- memcached decr leaves the old width (a trailing space) in a text item;
-- the integer form reads it as a number
SELECT mc_set('surf:cw', '10'), mc_decr('surf:cw'), mc_get('surf:cw') = '9 ' AS trailing_space,
	   mc_get('surf:cw', NULL::bigint) AS as_bigint;
-- not a number
SELECT mc_set('surf:c', 'abc');
SELECT pg_temp.try($$SELECT mc_incr('surf:c')$$) AS incr_non_numeric;
SELECT pg_temp.try($$SELECT mc_decr('surf:c')$$) AS decr_non_numeric;
SELECT mc_get('surf:c') AS untouched;
SELECT mc_incr('surf:c');
-- delta: 0 .. 4294967295
SELECT mc_set('surf:c', 0);
SELECT pg_temp.try($$SELECT mc_incr('surf:c', -1)$$) AS incr_negative;
SELECT pg_temp.try($$SELECT mc_decr('surf:c', -1)$$) AS decr_negative;
SELECT pg_temp.try($$SELECT mc_incr('surf:c', 4294967296)$$) AS incr_too_big;
SELECT mc_incr('surf:c', 4294967295) AS max_delta, mc_incr('surf:c', 0) AS zero_delta;
-- beyond bigint: an ERROR, never a wrong number
SELECT mc_set('surf:c', '9223372036854775806');
SELECT mc_incr('surf:c', 1) AS bigint_max;
SELECT pg_temp.try($$SELECT mc_incr('surf:c', 1)$$) AS above_bigint;
SELECT mc_get('surf:c') AS memcached_holds, mc_get('surf:c', NULL::numeric) AS as_numeric;
SELECT mc_set('surf:c', '18446744073709551615');
SELECT pg_temp.try($$SELECT mc_incr('surf:c', 0)$$) AS max_uint64;
SELECT pg_temp.try($$SELECT mc_decr('surf:c', 0)$$) AS decr_above_bigint;
-- a wrap past 2^64-1
SELECT pg_temp.try($$SELECT mc_incr('surf:c', 10)$$) AS wrap;
SELECT mc_get('surf:c') AS wrapped_to;
-- the value must still be unsigned digits
SELECT mc_set('surf:c', -5);
SELECT pg_temp.try($$SELECT mc_incr('surf:c')$$) AS incr_negative_value;
SELECT mc_get('surf:alive');

------------------------------------------------------------------------
-- incr, decr with an initial value
------------------------------------------------------------------------
SELECT mc_delete('surf:ci');
-- missing: created holding initial (returned as is), as an integer
SELECT mc_incr('surf:ci', 5, 100) AS created, (mc_get_raw('surf:ci')).*;
-- present: counted
SELECT mc_incr('surf:ci', 5, 100) AS counted, mc_decr('surf:ci', 1, 7) AS decr_counted;
SELECT mc_delete('surf:ci');
SELECT mc_decr('surf:ci', 5, 100) AS created, mc_decr('surf:ci', 5, 100) AS counted;
SELECT mc_decr('surf:ci', 1000, 0) AS clamped;
-- the same argument checks
SELECT pg_temp.try($$SELECT mc_incr('surf:ci', 1, -1)$$) AS negative_initial;
SELECT pg_temp.try($$SELECT mc_incr('surf:ci', -1, 0)$$) AS negative_delta;
SELECT pg_temp.try($$SELECT mc_incr('surf:ci', 1, 0, -1)$$) AS negative_ttl;
SELECT mc_set('surf:ci', 'abc');
SELECT pg_temp.try($$SELECT mc_incr('surf:ci', 1, 0)$$) AS non_numeric;
-- a ttl applies to a created counter (checked after the sleep below)
SELECT mc_delete('surf:cttl');
SELECT mc_incr('surf:cttl', 1, 0, 1) AS created_with_ttl, mc_get('surf:cttl') AS now_present;

------------------------------------------------------------------------
-- gets, cas
------------------------------------------------------------------------
SELECT * FROM mc_gets('surf:absent');
SELECT value IS NULL AND cas IS NULL AS miss FROM mc_gets('surf:absent');
SELECT mc_set('surf:g', 'v1');
SELECT value, cas IS NOT NULL AND cas <> 0 AS has_token FROM mc_gets('surf:g');
SELECT cas AS token FROM mc_gets('surf:g') \gset
-- the token round-trips: the value was not changed since, so cas stores
SELECT mc_cas('surf:g', 'v2', :token) AS cas_current, mc_get('surf:g');
-- the same token is now stale
SELECT mc_cas('surf:g', 'v3', :token) AS cas_stale, mc_get('surf:g');
-- a write by anyone makes a token stale
SELECT cas AS token FROM mc_gets('surf:g') \gset
SELECT mc_set('surf:g', 'other writer');
SELECT mc_cas('surf:g', 'v4', :token) AS cas_after_write, mc_get('surf:g');
-- gone key
SELECT cas AS token FROM mc_gets('surf:g') \gset
SELECT mc_delete('surf:g');
SELECT mc_cas('surf:g', 'v5', :token) AS cas_on_gone, mc_get('surf:g') IS NULL AS still_gone;
-- token 0 is never issued: refused before anything is sent
SELECT pg_temp.try($$SELECT mc_cas('surf:g', 'v', 0)$$) AS token_zero;
SELECT pg_temp.try($$SELECT mc_cas('surf:g', 'v', 1, -1)$$) AS negative_ttl;
-- typed gets and cas
SELECT mc_set('surf:g', 41);
SELECT value + 1 AS next FROM mc_gets('surf:g', NULL::bigint);
SELECT cas AS token FROM mc_gets('surf:g', NULL::bigint) \gset
SELECT mc_cas('surf:g', 42, :token), (mc_get_raw('surf:g')).*;
SELECT mc_get('surf:alive');

------------------------------------------------------------------------
-- delete, touch, expiry
------------------------------------------------------------------------
SELECT mc_delete('surf:absent') AS delete_absent;
SELECT mc_set('surf:d', 'x'), mc_delete('surf:d') AS delete_present, mc_get('surf:d') IS NULL AS gone;
SELECT pg_temp.try($$SELECT mc_delete('surf:d', -1)$$) AS negative_ttl;
-- delete with a ttl: the key stays until the ttl runs out
SELECT mc_set('surf:dttl', 'x'), mc_delete('surf:dttl', 1) AS delete_later, mc_get('surf:dttl') AS still_there;
SELECT mc_delete('surf:absent', 1) AS delete_later_absent;
-- touch
SELECT mc_touch('surf:absent', 10) AS touch_absent;
SELECT pg_temp.try($$SELECT mc_touch('surf:absent', -1)$$) AS touch_negative;
SELECT mc_set('surf:short', 'x', 1), mc_set('surf:touched', 'x', 1), mc_touch('surf:touched', 100);
-- flush_all with a delay, on the other server: everything still readable now
SET pylibmc_pg.servers = :'unix';
SELECT mc_set('surf:fl', 'x'), mc_flush_all(2), mc_get('surf:fl') AS readable_now;
SET pylibmc_pg.servers = :'tcp';
SELECT pg_sleep(2);
SELECT mc_get('surf:dttl') IS NULL AS deleted_after_ttl,
	   mc_get('surf:short') IS NULL AS expired,
	   mc_get('surf:touched') AS touched_stays,
	   mc_get('surf:cttl') IS NULL AS counter_expired;
SET pylibmc_pg.servers = :'unix';
SELECT mc_get('surf:fl') IS NULL AS flushed_after_delay;
SELECT mc_set('surf:fl', 'y'), mc_get('surf:fl') AS later_writes_stay;
SELECT pg_temp.try($$SELECT mc_flush_all(-1)$$) AS flush_negative;
SELECT mc_delete('surf:fl');
SET pylibmc_pg.servers = :'tcp';

------------------------------------------------------------------------
-- delete_multi
------------------------------------------------------------------------
SELECT mc_set('surf:dm1', 1), mc_set('surf:dm2', 2);
-- true only if every key existed; the present ones are deleted anyway
SELECT mc_delete_multi(ARRAY['surf:dm1', 'surf:dm-absent', 'surf:dm2']) AS all_existed;
SELECT mc_get('surf:dm1') IS NULL AND mc_get('surf:dm2') IS NULL AS present_ones_deleted;
SELECT mc_set('surf:dm1', 1), mc_set('surf:dm2', 2);
SELECT mc_delete_multi(ARRAY['dm1', 'dm2'], 0, 'surf:') AS with_prefix,
	   mc_get('surf:dm1') IS NULL AS gone;
SELECT mc_delete_multi(ARRAY[]::text[]) AS empty_list;
SELECT pg_temp.try($$SELECT mc_delete_multi(ARRAY['surf:a', NULL])$$) AS null_key;
SELECT pg_temp.try($$SELECT mc_delete_multi(ARRAY['surf:a b'])$$) AS bad_key;

------------------------------------------------------------------------
-- get_multi
------------------------------------------------------------------------
SELECT mc_set('surf:m:a', 'A'), mc_set('surf:m:b', 2), mc_set('surf:m:c', '\xcc'::bytea);
-- misses give no row, duplicates one row, and the prefix is stripped
SELECT * FROM mc_get_multi(ARRAY['a', 'missing', 'b', 'a', 'c', 'a'], 'surf:m:') ORDER BY key;
SELECT * FROM mc_get_multi(ARRAY['surf:m:a', 'surf:m:b']) ORDER BY key;
-- typed
SELECT key, value + 1 AS plus_one FROM mc_get_multi(ARRAY['b'], NULL::bigint, 'surf:m:');
SELECT * FROM mc_get_multi(ARRAY['missing'], 'surf:m:');
SELECT * FROM mc_get_multi(ARRAY[]::text[]);
SELECT pg_temp.try($$SELECT * FROM mc_get_multi(ARRAY['surf:m:a', NULL])$$) AS null_key;
-- the prefix counts towards the 250 bytes
SELECT pg_temp.try($$SELECT * FROM mc_get_multi(ARRAY[repeat('k', 244)], 'surf:m:')$$) AS long_with_prefix;
SELECT count(*) AS ok_with_prefix FROM mc_get_multi(ARRAY[repeat('k', 243)], 'surf:m:');
-- 10,000 keys in one call
SELECT mc_set_multi(array_agg('k' || i), array_agg(i), 0, 'surf:big:')
FROM generate_series(1, 10000) AS i;
SELECT count(*), count(DISTINCT key), sum(value::bigint), min(key), max(key)
FROM mc_get_multi((SELECT array_agg('k' || i) FROM generate_series(1, 10001) AS i), 'surf:big:');
SELECT count(*) AS matching
FROM mc_get_multi((SELECT array_agg('k' || i) FROM generate_series(1, 10000) AS i), NULL::bigint, 'surf:big:')
WHERE key = 'k' || value;

------------------------------------------------------------------------
-- set_multi
------------------------------------------------------------------------
-- a JSON object: each value stored by its JSON type; nothing failed
SELECT mc_set_multi('{"a": 1, "b": "two", "c": true, "d": 1.5, "e": null, "f": [1]}'::jsonb,
					0, 'surf:sm:') AS failed;
SELECT k, (mc_get_raw('surf:sm:' || k)).flags, mc_get('surf:sm:' || k)
FROM unnest(ARRAY['a', 'b', 'c', 'd', 'e', 'f']) AS k;
-- arrays of keys and values, typed by the array
SELECT mc_set_multi(ARRAY['x', 'y'], ARRAY['\x01'::bytea, '\x02'], 0, 'surf:sm:') AS failed;
SELECT * FROM mc_get_multi(ARRAY['x', 'y'], NULL::bytea, 'surf:sm:') ORDER BY key;
SELECT mc_set_multi(ARRAY['z'], ARRAY[10], 1, 'surf:sm:') AS with_ttl, mc_get('surf:sm:z');
SELECT pg_temp.try($$SELECT mc_set_multi(ARRAY['x', 'y'], ARRAY[1])$$) AS length_mismatch;
SELECT pg_temp.try($$SELECT mc_set_multi(ARRAY['x', NULL], ARRAY[1, 2])$$) AS null_key;
SELECT pg_temp.try($$SELECT mc_set_multi('[1, 2]'::jsonb)$$) AS not_an_object;
SELECT pg_temp.try($$SELECT mc_set_multi('{"a b": 1}'::jsonb)$$) AS bad_key;
SELECT pg_temp.try($$SELECT mc_set_multi('{"a": 1}'::jsonb, -1)$$) AS negative_ttl;
-- a value over the server's item size (memcached -I 1m) is an ERROR, not a
-- failed key; the connection stays usable and compression makes it fit
SELECT pg_temp.try($$SELECT mc_set_multi(ARRAY['huge'], ARRAY[repeat('x', 2 * 1024 * 1024)], 0, 'surf:sm:')$$) AS too_big;
SELECT pg_temp.try($$SELECT mc_set('surf:sm:huge', repeat('x', 2 * 1024 * 1024))$$) AS too_big;
SELECT mc_get('surf:alive');
SELECT mc_set_multi(ARRAY['huge'], ARRAY[repeat('x', 2 * 1024 * 1024)], 0, 'surf:sm:', 1) AS compressed,
	   (mc_get_raw('surf:sm:huge')).flags, length(mc_get('surf:sm:huge'));
-- keys that could not be stored come back without the prefix: with
-- on_error = ignore a server failure is a failed key
SET pylibmc_pg.on_error = 'ignore';
SET pylibmc_pg.servers = :'down';
SELECT mc_set_multi('{"a": 1, "b": "two"}'::jsonb, 0, 'surf:sm:') AS failed;
SELECT mc_set_multi(ARRAY['x', 'y'], ARRAY[1, 2], 0, 'surf:sm:') AS failed;
SELECT count(*) AS nothing_read FROM mc_get_multi(ARRAY['a'], 'surf:sm:');
RESET pylibmc_pg.servers;
RESET pylibmc_pg.on_error;
SELECT mc_get('surf:alive');

------------------------------------------------------------------------
-- raw access, compression arguments
------------------------------------------------------------------------
SELECT mc_set_raw('surf:raw', '\x0102', 1);
SELECT * FROM mc_get_raw('surf:raw');
SELECT mc_get('surf:raw') IS NULL AS pickle_is_a_miss;
SELECT mc_set_raw('surf:raw', 'abc', 16), mc_get('surf:raw');
SELECT pg_temp.try($$SELECT mc_set_raw('surf:raw', 'abc', 0, -1)$$) AS negative_ttl;
SELECT mc_set('surf:z', repeat('ab', 100), 0, 100), (mc_get_raw('surf:z')).flags,
	   mc_get('surf:z') = repeat('ab', 100) AS round_trip;
SELECT pg_temp.try($$SELECT mc_set('surf:z', 'x', 0, 1, 10)$$) AS bad_level;
SELECT pg_temp.try($$SELECT mc_set('surf:z', 'x', 0, -1)$$) AS bad_min_len;

------------------------------------------------------------------------
-- keys
------------------------------------------------------------------------
SELECT what, pg_temp.try(format('SELECT mc_get(%L)', k)) AS get,
	   pg_temp.try(format('SELECT mc_set(%L, 1)', k)) = pg_temp.try(format('SELECT mc_get(%L)', k)) AS set_same
FROM (VALUES ('empty', ''), ('251 bytes', repeat('k', 251)), ('space', 'surf:a b'),
			 ('tab', 'surf:tab' || chr(9)), ('newline', 'surf:nl' || chr(10) || 'x'),
			 ('return', 'surf:cr' || chr(13)), ('DEL', 'surf:del' || chr(127)),
			 ('126 x 2-byte é', repeat('é', 126))) AS t(what, k);
-- the same checks in every function that takes a key
SELECT pg_temp.try($$SELECT mc_delete('surf:a b')$$) AS delete,
	   pg_temp.try($$SELECT mc_incr('surf:a b')$$) AS incr,
	   pg_temp.try($$SELECT mc_touch('', 1)$$) AS touch,
	   pg_temp.try($$SELECT mc_gets(repeat('k', 251))$$) AS gets,
	   pg_temp.try($$SELECT mc_append('surf:a' || chr(10), 'x')$$) AS append,
	   pg_temp.try($$SELECT mc_cas('surf:a b', 'x', 1)$$) AS cas,
	   pg_temp.try($$SELECT mc_get_raw('surf:a b')$$) AS get_raw;
-- 250 bytes is fine, counted in UTF-8 bytes
SELECT mc_set(repeat('k', 250), 'long'), mc_get(repeat('k', 250));
SELECT mc_set(repeat('é', 125), 'accents'), mc_get(repeat('é', 125)), octet_length(repeat('é', 125));
SELECT mc_set('surf:ключ', 'значение'), mc_get('surf:ключ');
SELECT * FROM mc_get_multi(ARRAY['ключ', 'ключ'], 'surf:');
SELECT mc_delete(repeat('k', 250)), mc_delete(repeat('é', 125)), mc_delete('surf:ключ');
-- no key injection: "a b" is never read as the two keys "a" and "b"
SELECT mc_set('surf:a', 'value of a'), mc_set('b', 'value of b');
SELECT mc_get('surf:a b');
SELECT pg_temp.try($$SELECT * FROM mc_get_multi(ARRAY['surf:a b'])$$) AS get_multi;
SELECT pg_temp.try($$SELECT * FROM mc_get_multi(ARRAY['a b'], 'surf:')$$) AS get_multi;
SELECT mc_set('surf:a' || chr(13) || chr(10) || 'delete b', 'x');
-- every error left the connection in a known state
SELECT mc_get('surf:a'), mc_get('b'), mc_get('surf:alive');
SELECT mc_delete('b');

------------------------------------------------------------------------
-- NULL arguments: STRICT functions return NULL without a round trip
------------------------------------------------------------------------
SELECT mc_get(NULL) AS get, mc_get(NULL, NULL::bigint) AS get_typed,
	   mc_set(NULL, 'x') AS set_key, mc_set('surf:n', NULL::text) AS set_value,
	   mc_set('surf:n', 'x', NULL) AS set_ttl, mc_add(NULL, 1) AS add,
	   mc_replace('surf:n', NULL::bytea) AS replace, mc_append('surf:n', NULL::text) AS append,
	   mc_prepend(NULL, 'x') AS prepend;
SELECT mc_incr(NULL) AS incr, mc_decr('surf:n', NULL) AS decr, mc_incr('surf:n', 1, NULL) AS incr_initial,
	   mc_cas('surf:n', 'x', NULL) AS cas, mc_delete(NULL) AS delete, mc_touch('surf:n', NULL) AS touch,
	   mc_set_raw('surf:n', 'x', NULL) AS set_raw, mc_flush_all(NULL) AS flush_all;
SELECT (mc_gets(NULL)).*, (mc_get_raw(NULL)).*;
SELECT mc_set_multi(NULL::jsonb) AS set_multi_json, mc_set_multi(NULL::text[], ARRAY[1]) AS set_multi_arrays,
	   mc_delete_multi(NULL) AS delete_multi;
SELECT count(*) AS get_multi_rows FROM mc_get_multi(NULL);
SELECT mc_get('surf:n') IS NULL AS nothing_written;

------------------------------------------------------------------------
-- statistics, connections, behaviors, sasl
------------------------------------------------------------------------
SELECT count(*) > 0 AS has_rows, count(DISTINCT server) AS servers,
	   bool_and(server = :'tcp') AS named_host_port,
	   count(*) FILTER (WHERE name IN ('pid', 'version', 'uptime', 'curr_items', 'total_connections')) AS known
FROM mc_stats();
SELECT value ~ '^\d+\.\d+\.\d+' AS version_looks_right FROM mc_stats() WHERE name = 'version';
SELECT count(*) > 0 AS slabs FROM mc_stats('slabs');
SELECT pg_temp.try($$SELECT * FROM mc_stats('a;b')$$) AS bad_arg;
SELECT pg_temp.try($$SELECT * FROM mc_stats('bogus')$$) AS refused_by_server;
SELECT server = :'tcp' AS server, version IS NOT NULL AS version, curr_items > 0 AS items
FROM mc_server_stats;
-- statistics of the UNIX-socket server name it by its path
SET pylibmc_pg.servers = :'unix';
SELECT bool_and(server = :'unix') AS named_by_path FROM mc_stats();
RESET pylibmc_pg.servers;
-- disconnect_all: the next call reconnects
SELECT value::bigint AS conns FROM mc_stats() WHERE name = 'total_connections' \gset
SELECT mc_disconnect_all();
SELECT mc_get('surf:alive') AS read_after_disconnect;
SELECT value::bigint - :conns AS new_connections FROM mc_stats() WHERE name = 'total_connections';
SELECT mc_disconnect_all(), mc_disconnect_all();
SELECT mc_set('surf:alive', 'still'), mc_get('surf:alive');
-- behaviors: the effective values (ours: cas on, tcp_nodelay on, bounded waits)
SELECT key, value FROM jsonb_each(mc_behaviors())
WHERE key IN ('cas', 'tcp_nodelay', 'connect_timeout', '_poll_timeout', 'retry_timeout',
			  'hash', 'distribution', 'ketama', 'pickle_protocol', 'verify_keys', '_noreply')
ORDER BY key;
SELECT (SELECT count(*) FROM jsonb_object_keys(mc_behaviors())) AS names;
SET pylibmc_pg.behaviors = 'tcp_nodelay=false, hash=md5, distribution=consistent ketama, connect_timeout=500, pickle_protocol=2';
SELECT key, value FROM jsonb_each(mc_behaviors())
WHERE key IN ('cas', 'tcp_nodelay', 'connect_timeout', 'hash', 'distribution', 'ketama', 'pickle_protocol')
ORDER BY key;
SELECT mc_get('surf:alive');
RESET pylibmc_pg.behaviors;
SELECT mc_behaviors() -> 'hash' AS hash, mc_behaviors() -> 'tcp_nodelay' AS tcp_nodelay;
-- over a UNIX socket, no tcp_nodelay
SET pylibmc_pg.servers = :'unix';
SELECT mc_behaviors() -> 'tcp_nodelay' AS unix_tcp_nodelay;
RESET pylibmc_pg.servers;
SELECT mc_support_sasl();

-- clean up
SELECT mc_flush_all();
