--
-- monitoring.sql: mc_stats(), the mc_server_stats view and this backend's
-- own counters, mc_client_stats().  Numbers that move on their own
-- (uptime, sizes, times) are shown as booleans or deltas.  Keys start
-- with "mon:".
--
SELECT coalesce(current_setting('pylibmc_test.tcp', true), '127.0.0.1:11211') AS tcp,
       current_setting('pylibmc_test.multi') AS multi,
       coalesce(current_setting('pylibmc_test.down', true), '127.0.0.1:1') AS down \gset
LOAD 'pylibmc_pg';
-- SQLSTATE and message of a statement
CREATE FUNCTION pg_temp.mon_try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	r text;
	st text;
	msg text;
BEGIN
	EXECUTE q INTO r;
	RETURN 'ok: ' || coalesce(r, 'NULL');
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
	RETURN st || ': ' || msg;
END
$$;
--
-- mc_stats(): (server, name, value), one set of rows per server
--
SELECT a.name, a.type
FROM pg_proc p, unnest(p.proargnames, p.proallargtypes::regtype[], p.proargmodes) AS a(name, type, mode)
WHERE p.oid = 'mc_stats(text)'::regprocedure;
SET pylibmc_pg.servers = :'multi';
SELECT count(DISTINCT server) AS servers,
       array_agg(DISTINCT server ORDER BY server) = (SELECT array_agg(s ORDER BY s) FROM unnest(string_to_array(:'multi', ',')) AS s) AS same_servers
FROM mc_stats();
-- every server reports the same statistics, once each
SELECT count(DISTINCT n) AS distinct_row_counts, min(n) > 50 AS many_each,
       bool_and(n = d) AS names_unique
FROM (SELECT server, count(*) AS n, count(DISTINCT name) AS d FROM mc_stats() GROUP BY server) s;
SELECT name, count(*) AS servers, bool_and(value ~ '^[0-9.]+$') AS numeric
FROM mc_stats()
WHERE name IN ('pid', 'uptime', 'version', 'curr_items', 'get_hits', 'get_misses',
               'limit_maxbytes', 'evictions', 'curr_connections', 'bytes')
GROUP BY name ORDER BY name;
-- the servers come in the order of pylibmc_pg.servers
SELECT array_agg(server ORDER BY first) = string_to_array(:'multi', ',') AS list_order
FROM (SELECT server, min(ord) AS first
      FROM mc_stats() WITH ORDINALITY AS t(server, name, value, ord) GROUP BY server) s;
-- a statistics group: "stats settings"
SELECT count(DISTINCT server) AS servers,
       bool_and(value::bigint > 0) AS maxbytes_positive
FROM mc_stats('settings') WHERE name = 'maxbytes';
SELECT array_position(string_to_array(:'multi', ','), s.server) AS server_no,
       s.value = m.value AS maxbytes_is_limit_maxbytes
FROM mc_stats('settings') s
JOIN mc_stats() m ON m.server = s.server AND m.name = 'limit_maxbytes'
WHERE s.name = 'maxbytes'
ORDER BY 1;
SELECT count(*) > 0 AS has_rows FROM mc_stats('settings') WHERE name IN ('item_size_max', 'tcpport');
-- other groups
SELECT mc_set('mon:item', 'x') AS set;
SELECT count(*) > 0 AS items_rows FROM mc_stats('items');
SELECT count(*) > 0 AS slabs_rows FROM mc_stats('slabs');
-- an argument that is not a statistics group name is refused
SELECT pg_temp.mon_try($$SELECT count(*) FROM mc_stats('items; flush_all')$$);
SELECT pg_temp.mon_try($$SELECT count(*) FROM mc_stats(E'items\nflush_all')$$);
--
-- mc_server_stats: one row per server with the columns DBAs look at
--
SELECT attname, atttypid::regtype
FROM pg_attribute WHERE attrelid = 'mc_server_stats'::regclass AND attnum > 0 ORDER BY attnum;
CREATE TEMP TABLE mon_before AS SELECT * FROM mc_server_stats;
SELECT count(*) AS rows, count(DISTINCT server) AS servers,
       bool_and(version ~ '^[0-9]+\.[0-9]+') AS versions,
       bool_and(uptime_s >= 0 AND curr_items >= 0 AND bytes >= 0 AND limit_maxbytes > 0
                AND curr_connections > 0 AND evictions >= 0) AS sane
FROM mon_before;
-- 6 hits and 4 misses spread over the servers
SELECT mc_set_multi('{"mon:h1": 1, "mon:h2": 2, "mon:h3": 3}'::jsonb) AS failed;
SELECT count(mc_get(k)) AS hits
FROM unnest(ARRAY['mon:h1', 'mon:h2', 'mon:h3', 'mon:h1', 'mon:h2', 'mon:h3',
                  'mon:m1', 'mon:m2', 'mon:m3', 'mon:m4']) AS k;
SELECT sum(a.get_hits - b.get_hits) AS get_hits_delta,
       sum(a.get_misses - b.get_misses) AS get_misses_delta,
       sum(a.curr_items - b.curr_items) AS items_delta
FROM mc_server_stats a JOIN mon_before b USING (server);
-- (a server that served no get has no ratio: NULL, not a division by zero)
SELECT bool_and(hit_ratio BETWEEN 0 AND 1) AS ratio_in_0_1,
       bool_and(hit_ratio = round(get_hits::numeric / nullif(get_hits + get_misses, 0), 4)) AS ratio_formula,
       count(hit_ratio) = count(*) FILTER (WHERE get_hits + get_misses > 0) AS null_only_without_gets,
       count(hit_ratio) > 0 AS some_ratio
FROM mc_server_stats;
-- the view reads the servers of the current setting
SET pylibmc_pg.servers = :'tcp';
SELECT count(*) AS rows, bool_and(server = :'tcp') AS is_tcp FROM mc_server_stats;
--
-- mc_client_stats(): this backend's own counters, per server and operation
--
SELECT a.name, a.type
FROM pg_proc p, unnest(p.proargnames, p.proallargtypes::regtype[], p.proargmodes) AS a(name, type, mode)
WHERE p.oid = 'mc_client_stats()'::regprocedure AND a.mode = 'o';
CREATE TEMP TABLE mon_snap AS SELECT * FROM mc_client_stats();
-- the change of the counters since the last snapshot, for one server and operation
CREATE FUNCTION pg_temp.mon_delta(srv text, op text)
RETURNS TABLE (calls bigint, hits bigint, misses bigint, errors bigint,
               bytes_sent bigint, bytes_received bigint, time_ok boolean)
LANGUAGE sql AS $$
	SELECT a.calls - coalesce(b.calls, 0), a.hits - coalesce(b.hits, 0),
	       a.misses - coalesce(b.misses, 0), a.errors - coalesce(b.errors, 0),
	       a.bytes_sent - coalesce(b.bytes_sent, 0), a.bytes_received - coalesce(b.bytes_received, 0),
	       a.time_ms >= coalesce(b.time_ms, 0) AND a.time_ms >= 0
	FROM mc_client_stats() a
	LEFT JOIN pg_temp.mon_snap b ON b.server = a.server AND b.operation = a.operation
	WHERE a.server = srv AND a.operation = op
$$;
CREATE FUNCTION pg_temp.mon_snapshot() RETURNS void LANGUAGE sql AS $$
	DELETE FROM pg_temp.mon_snap;
	INSERT INTO pg_temp.mon_snap SELECT * FROM mc_client_stats();
$$;
-- sets: 3 stored, 1 not (add of an existing key); bytes are key + value
SELECT pg_temp.mon_snapshot();
SELECT mc_set('mon:k1', 'abcde') AS s1, mc_set('mon:k2', 'xyz') AS s2,
       mc_set('mon:k3', '1234567890') AS s3, mc_add('mon:k1', 'no') AS a1;
SELECT * FROM pg_temp.mon_delta(:'tcp', 'set');
SELECT * FROM pg_temp.mon_delta(:'tcp', 'add');
-- gets: 5 hits and 3 misses; bytes sent are the keys, received the values
SELECT pg_temp.mon_snapshot();
SELECT count(mc_get(k)) AS hits
FROM unnest(ARRAY['mon:k1', 'mon:k2', 'mon:k3', 'mon:k1', 'mon:k3',
                  'mon:no1', 'mon:no2', 'mon:no3']) AS k;
SELECT * FROM pg_temp.mon_delta(:'tcp', 'get');
-- operations that were not used have no row
SELECT count(*) AS touch_rows FROM mc_client_stats() WHERE server = :'tcp' AND operation = 'touch';
-- other operations count under their own name
SELECT pg_temp.mon_snapshot();
SELECT mc_delete('mon:k2') AS d1, mc_delete('mon:k2') AS d2, mc_touch('mon:k1', 60) AS t1,
       mc_set('mon:n', 1) AS s, mc_incr('mon:n') AS i, mc_decr('mon:n') AS d;
SELECT op, (pg_temp.mon_delta(:'tcp', op)).*
FROM unnest(ARRAY['delete', 'touch', 'incr', 'decr']) AS op;
-- a multi-get is one call, counted under the server "(all)"
SELECT pg_temp.mon_snapshot();
SELECT count(*) AS found FROM mc_get_multi(ARRAY['mon:k1', 'mon:k3', 'mon:none']);
SELECT * FROM pg_temp.mon_delta('(all)', 'get_multi');
-- mc_stats() too
SELECT pg_temp.mon_snapshot();
SELECT count(*) > 0 AS stats FROM mc_stats();
SELECT calls, hits, errors FROM pg_temp.mon_delta('(all)', 'stats');
-- failures count as errors, whatever on_error does with them
SET pylibmc_pg.servers = :'down';
SET pylibmc_pg.on_error = ignore;
SELECT pg_temp.mon_snapshot();
SELECT mc_get('mon:k1') AS get1, mc_get('mon:k3') AS get2, mc_set('mon:k1', 'v') AS set;
SELECT calls, hits, misses, errors FROM pg_temp.mon_delta(:'down', 'get');
SELECT calls, hits, misses, errors FROM pg_temp.mon_delta(:'down', 'set');
SELECT count(*) AS stats_rows FROM mc_stats();
SELECT calls, hits, errors FROM pg_temp.mon_delta('(all)', 'stats');
RESET pylibmc_pg.on_error;
-- counters survive a change of settings (a rebuilt client)
SET pylibmc_pg.servers = :'tcp';
SELECT pg_temp.mon_snapshot();
SELECT mc_get('mon:k1') AS get;
SELECT calls, hits FROM pg_temp.mon_delta(:'tcp', 'get');
SELECT (SELECT calls FROM mc_client_stats() WHERE server = :'tcp' AND operation = 'get')
     = (SELECT calls FROM mon_snap WHERE server = :'tcp' AND operation = 'get') + 1 AS kept;
-- every row is sane
SELECT bool_and(calls > 0 AND calls = hits + misses + errors AND bytes_sent >= 0
                AND bytes_received >= 0 AND time_ms >= 0) AS sane
FROM mc_client_stats();
-- clean up
SELECT mc_delete_multi(ARRAY['k1', 'k3', 'n'], 0, 'mon:') AS deleted;
SET pylibmc_pg.servers = :'multi';
SELECT mc_delete_multi(ARRAY['h1', 'h2', 'h3', 'item'], 0, 'mon:') AS deleted;
