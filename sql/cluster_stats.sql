--
-- cluster_stats.sql: mc_cluster_stats on a server that does not preload
-- pylibmc_pg (the harness's cluster): reading the views or calling the
-- functions is ERROR 55000 with a hint saying how to preload, everything
-- else works as before; the views' columns and who may read and reset.
-- test/t/010_monitoring_cluster_stats.pl covers a preloaded server.  Keys start
-- with "cs:".
--
SELECT coalesce(current_setting('pylibmc_test.tcp', true), '127.0.0.1:11211') AS tcp \gset
LOAD 'pylibmc_pg';
-- SQLSTATE, message and hint of a statement
CREATE FUNCTION pg_temp.cs_try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	r text;
	st text;
	msg text;
	hint text;
BEGIN
	EXECUTE q INTO r;
	RETURN 'ok: ' || coalesce(r, 'NULL');
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
	RETURN st || ': ' || msg || coalesce(nullif(E'\nHINT: ' || hint, E'\nHINT: '), '');
END
$$;
SELECT setting LIKE '%pylibmc_pg%' AS preloaded
FROM pg_settings WHERE name = 'shared_preload_libraries';
--
-- Not preloaded: no shared memory, so no cluster-wide counters
--
SELECT pg_temp.cs_try('SELECT count(*) FROM mc_cluster_stats');
SELECT pg_temp.cs_try('SELECT count(*) FROM mc_cluster_stats()');
SELECT pg_temp.cs_try('SELECT evicted FROM mc_cluster_stats_info');
SELECT pg_temp.cs_try('SELECT mc_cluster_stats_reset()');
-- the setting exists only in a preloaded server
SELECT current_setting('pylibmc_pg.cluster_stats_max', true) IS NULL AS no_max_setting;
-- everything else works, and this backend's own counters still count
SET pylibmc_pg.servers = :'tcp';
SELECT mc_set('cs:k', 'v') AS set, mc_get('cs:k') AS get, mc_get('cs:none') AS miss;
SELECT calls, hits, misses, errors FROM mc_client_stats() WHERE server = :'tcp' AND operation = 'get';
BEGIN;
SELECT mc_delete_on_commit('cs:k');
COMMIT;
SELECT mc_get('cs:k') AS deleted_at_commit;
SELECT calls, hits, errors FROM mc_client_stats() WHERE server = :'tcp' AND operation = 'delete_on_commit';
--
-- The views' columns
--
SELECT attname, atttypid::regtype
FROM pg_attribute WHERE attrelid = 'mc_cluster_stats'::regclass AND attnum > 0 ORDER BY attnum;
SELECT attname, atttypid::regtype
FROM pg_attribute WHERE attrelid = 'mc_cluster_stats_info'::regclass AND attnum > 0 ORDER BY attnum;
--
-- Who may read (pg_monitor) and reset (superusers)
--
SET client_min_messages = warning;
DROP ROLE IF EXISTS pmc_cs_plain;
DROP ROLE IF EXISTS pmc_cs_monitor;
RESET client_min_messages;
CREATE ROLE pmc_cs_plain;
CREATE ROLE pmc_cs_monitor IN ROLE pg_monitor;
SELECT r AS role,
       has_table_privilege(r, 'mc_cluster_stats', 'SELECT') AS view,
       has_function_privilege(r, 'mc_cluster_stats()', 'EXECUTE') AS function,
       has_table_privilege(r, 'mc_cluster_stats_info', 'SELECT') AS info_view,
       has_function_privilege(r, 'mc_cluster_stats_info()', 'EXECUTE') AS info_function,
       has_function_privilege(r, 'mc_cluster_stats_reset()', 'EXECUTE') AS reset
FROM unnest(ARRAY['pmc_cs_plain', 'pmc_cs_monitor']) AS r;
SET ROLE pmc_cs_plain;
SELECT pg_temp.cs_try('SELECT count(*) FROM mc_cluster_stats');
SELECT pg_temp.cs_try('SELECT count(*) FROM mc_cluster_stats_info');
SELECT pg_temp.cs_try('SELECT mc_cluster_stats_reset()');
RESET ROLE;
-- a pg_monitor member passes the privilege check and meets the missing preload
SET ROLE pmc_cs_monitor;
SELECT pg_temp.cs_try('SELECT count(*) FROM mc_cluster_stats');
SELECT pg_temp.cs_try('SELECT mc_cluster_stats_reset()');
RESET ROLE;
DROP ROLE pmc_cs_plain;
DROP ROLE pmc_cs_monitor;
