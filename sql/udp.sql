--
-- udp: over UDP libmemcached only sends, it never reads a reply.  The
-- writes return true and really reach the server (checked over TCP: the
-- UDP test server listens on TCP on the same port number); every call that
-- needs a reply is ERROR 0A000.
--
-- Keys start with "udp:" so this file does not meet the other suites'.
-- Each key gets at most one UDP request: memcached may handle datagrams
-- on several threads, so two requests on one key could pass each other.
--
\set VERBOSITY terse
LOAD 'pylibmc_pg';

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

SELECT current_setting('pylibmc_test.udp') AS udp,
	   regexp_replace(current_setting('pylibmc_test.udp'), '^udp:', '') AS udp_over_tcp \gset
SELECT :'udp' ~ '^udp:127\.0\.0\.1:\d+$' AS udp_setting_looks_right;

-- The starting state, written over TCP
SET pylibmc_pg.servers = :'udp_over_tcp';
SELECT mc_delete_multi(ARRAY['set', 'set-int', 'add', 'raw', 'large', 'replace-absent', 'delete-absent', 'multi1'], 0, 'udp:') IS NOT NULL;
SELECT mc_set('udp:add-present', 'kept'), mc_set('udp:replace', 'old'),
	   mc_set('udp:append', 'mid'), mc_set('udp:prepend', 'mid'), mc_set('udp:delete', 'x'),
	   mc_set('udp:multi3', 'x'), mc_set('udp:flushed', 'x');

-- Over UDP: every write says true, whether or not the server stored it
SET pylibmc_pg.servers = :'udp';
SELECT mc_set('udp:set', 'over udp') AS set,
	   mc_set('udp:set-int', 42) AS set_int,
	   mc_add('udp:add', 'new') AS add,
	   mc_add('udp:add-present', 'ignored') AS add_present,
	   mc_replace('udp:replace', 'new') AS replace,
	   mc_replace('udp:replace-absent', 'x') AS replace_absent,
	   mc_append('udp:append', '>') AS append,
	   mc_prepend('udp:prepend', '<') AS prepend,
	   mc_delete('udp:delete') AS delete,
	   mc_delete('udp:delete-absent') AS delete_absent,
	   mc_set_raw('udp:raw', '\x0102', 0) AS set_raw,
	   mc_delete_multi(ARRAY['multi1', 'multi3'], 0, 'udp:') AS delete_multi;
-- a large value fits in one datagram
SELECT mc_set('udp:large', repeat('x', 50000)) AS large;
-- ttl and key checks are the same as over TCP
SELECT pg_temp.try($$SELECT mc_set('udp:x', 'x', -1)$$) AS negative_ttl;
SELECT pg_temp.try($$SELECT mc_set('udp:a b', 'x')$$) AS bad_key;

-- Everything that needs a reply is refused
SELECT f AS call, pg_temp.try(stmt) AS result
FROM (VALUES ('get', $$SELECT mc_get('udp:set')$$),
			 ('get typed', $$SELECT mc_get('udp:set', NULL::text)$$),
			 ('gets', $$SELECT mc_gets('udp:set')$$),
			 ('get_raw', $$SELECT mc_get_raw('udp:set')$$),
			 ('get_multi', $$SELECT * FROM mc_get_multi(ARRAY['udp:set'])$$),
			 ('touch', $$SELECT mc_touch('udp:set', 10)$$),
			 ('incr', $$SELECT mc_incr('udp:set-int')$$),
			 ('decr', $$SELECT mc_decr('udp:set-int', 2)$$),
			 ('incr initial', $$SELECT mc_incr('udp:set-int', 1, 0)$$),
			 ('decr initial', $$SELECT mc_decr('udp:set-int', 1, 0)$$),
			 ('cas', $$SELECT mc_cas('udp:set', 'x', 1)$$),
			 ('stats', $$SELECT * FROM mc_stats()$$),
			 ('server_stats', $$SELECT * FROM mc_server_stats$$),
			 ('delete with ttl', $$SELECT mc_delete('udp:set', 10)$$)) AS t(f, stmt);
SELECT mc_get('udp:set');
-- nor can the binary protocol be used
SET pylibmc_pg.binary_protocol = on;
SELECT pg_temp.try($$SELECT mc_set('udp:bin', 'x')$$) AS binary_over_udp;
RESET pylibmc_pg.binary_protocol;
-- the client itself is fine
SELECT mc_behaviors() -> 'tcp_nodelay' AS tcp_nodelay;

-- Read back over TCP: what the server did with the datagrams (give it a
-- moment to take them from its socket)
SELECT pg_sleep(0.5);
SET pylibmc_pg.servers = :'udp_over_tcp';
SELECT mc_get('udp:set') AS set, mc_get('udp:set-int', NULL::bigint) AS set_int,
	   mc_get('udp:add') AS add, mc_get('udp:add-present') AS add_present,
	   mc_get('udp:replace') AS replace, mc_get('udp:replace-absent') AS replace_absent;
SELECT mc_get('udp:append') AS append, mc_get('udp:prepend') AS prepend,
	   mc_get('udp:delete') AS delete, mc_get('udp:delete-absent') AS delete_absent,
	   (mc_get_raw('udp:raw')).value AS raw, length(mc_get('udp:large')) AS large;
SELECT mc_get('udp:multi3') IS NULL AS deleted_by_delete_multi;
SELECT (mc_get_raw('udp:set')).flags AS text_flags, (mc_get_raw('udp:set-int')).flags AS int_flags;

-- flush_all over UDP reaches the server too
SET pylibmc_pg.servers = :'udp';
SELECT mc_flush_all();
SELECT pg_sleep(0.5);
SET pylibmc_pg.servers = :'udp_over_tcp';
SELECT mc_get('udp:flushed') IS NULL AS flushed, mc_get('udp:set') IS NULL AS set_flushed;
RESET pylibmc_pg.servers;
