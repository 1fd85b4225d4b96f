/* pylibmc_pg--1.1.sql: the pylibmc Client API in SQL */

\echo Use "CREATE EXTENSION pylibmc_pg" to load this file. \quit

-- Every function talks to memcached over this backend's own connection,
-- so all are VOLATILE and PARALLEL RESTRICTED (the connection and its
-- counters live in the leader only).

------------------------------------------------------------------------
-- Reads
------------------------------------------------------------------------

CREATE FUNCTION mc_get(key text)
RETURNS text
AS 'MODULE_PATHNAME', 'pylibmc_pg_get'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION mc_get(text) IS
'value of key in its text form, NULL on a miss (pylibmc get)';

CREATE FUNCTION mc_get(key text, as_type anyelement)
RETURNS anyelement
AS 'MODULE_PATHNAME', 'pylibmc_pg_get'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL RESTRICTED;
COMMENT ON FUNCTION mc_get(text, anyelement) IS
'value of key read as the type of as_type, e.g. mc_get(''k'', NULL::jsonb); NULL on a miss';

CREATE FUNCTION mc_gets(key text, OUT value text, OUT cas bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'pylibmc_pg_gets'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION mc_gets(text) IS
'value and CAS token of key, (NULL, NULL) on a miss (pylibmc gets)';

CREATE FUNCTION mc_gets(key text, as_type anyelement, OUT value anyelement, OUT cas bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'pylibmc_pg_gets'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL RESTRICTED;
COMMENT ON FUNCTION mc_gets(text, anyelement) IS
'typed value and CAS token of key, (NULL, NULL) on a miss';

CREATE FUNCTION mc_get_multi(keys text[], key_prefix text DEFAULT NULL)
RETURNS TABLE (key text, value text)
AS 'MODULE_PATHNAME', 'pylibmc_pg_get_multi'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL RESTRICTED ROWS 100;
COMMENT ON FUNCTION mc_get_multi(text[], text) IS
'the keys found, without key_prefix, with their values in text form: one pipelined multi-get (pylibmc get_multi)';

CREATE FUNCTION mc_get_multi(keys text[], as_type anyelement, key_prefix text DEFAULT NULL)
RETURNS TABLE (key text, value anyelement)
AS 'MODULE_PATHNAME', 'pylibmc_pg_get_multi'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL RESTRICTED ROWS 100;
COMMENT ON FUNCTION mc_get_multi(text[], anyelement, text) IS
'the keys found, with their values read as the type of as_type';

CREATE FUNCTION mc_get_raw(key text, OUT value bytea, OUT flags integer)
RETURNS record
AS 'MODULE_PATHNAME', 'pylibmc_pg_get_raw'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION mc_get_raw(text) IS
'stored bytes and flags of key, as they are (the deserialize hook); (NULL, NULL) on a miss';

------------------------------------------------------------------------
-- Writes: one overload per value type, one C function for all
------------------------------------------------------------------------

CREATE FUNCTION mc_set(key text, value text, ttl integer DEFAULT 0, min_compress_len integer DEFAULT 0, compress_level integer DEFAULT -1)
RETURNS boolean AS 'MODULE_PATHNAME', 'pylibmc_pg_set' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
CREATE FUNCTION mc_set(key text, value bytea, ttl integer DEFAULT 0, min_compress_len integer DEFAULT 0, compress_level integer DEFAULT -1)
RETURNS boolean AS 'MODULE_PATHNAME', 'pylibmc_pg_set' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
CREATE FUNCTION mc_set(key text, value jsonb, ttl integer DEFAULT 0, min_compress_len integer DEFAULT 0, compress_level integer DEFAULT -1)
RETURNS boolean AS 'MODULE_PATHNAME', 'pylibmc_pg_set' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
CREATE FUNCTION mc_set(key text, value bigint, ttl integer DEFAULT 0, min_compress_len integer DEFAULT 0, compress_level integer DEFAULT -1)
RETURNS boolean AS 'MODULE_PATHNAME', 'pylibmc_pg_set' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
CREATE FUNCTION mc_set(key text, value boolean, ttl integer DEFAULT 0, min_compress_len integer DEFAULT 0, compress_level integer DEFAULT -1)
RETURNS boolean AS 'MODULE_PATHNAME', 'pylibmc_pg_set' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION mc_set(text, text, integer, integer, integer) IS 'store value under key (flags 16); true when stored (pylibmc set)';
COMMENT ON FUNCTION mc_set(text, bytea, integer, integer, integer) IS 'store value under key (flags 0); true when stored (pylibmc set)';
COMMENT ON FUNCTION mc_set(text, jsonb, integer, integer, integer) IS 'store value under key (flags 48); true when stored';
COMMENT ON FUNCTION mc_set(text, bigint, integer, integer, integer) IS 'store value under key (flags 4); true when stored (pylibmc set)';
COMMENT ON FUNCTION mc_set(text, boolean, integer, integer, integer) IS 'store value under key (flags 2); true when stored (pylibmc set)';

CREATE FUNCTION mc_add(key text, value text, ttl integer DEFAULT 0, min_compress_len integer DEFAULT 0, compress_level integer DEFAULT -1)
RETURNS boolean AS 'MODULE_PATHNAME', 'pylibmc_pg_add' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
CREATE FUNCTION mc_add(key text, value bytea, ttl integer DEFAULT 0, min_compress_len integer DEFAULT 0, compress_level integer DEFAULT -1)
RETURNS boolean AS 'MODULE_PATHNAME', 'pylibmc_pg_add' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
CREATE FUNCTION mc_add(key text, value jsonb, ttl integer DEFAULT 0, min_compress_len integer DEFAULT 0, compress_level integer DEFAULT -1)
RETURNS boolean AS 'MODULE_PATHNAME', 'pylibmc_pg_add' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
CREATE FUNCTION mc_add(key text, value bigint, ttl integer DEFAULT 0, min_compress_len integer DEFAULT 0, compress_level integer DEFAULT -1)
RETURNS boolean AS 'MODULE_PATHNAME', 'pylibmc_pg_add' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
CREATE FUNCTION mc_add(key text, value boolean, ttl integer DEFAULT 0, min_compress_len integer DEFAULT 0, compress_level integer DEFAULT -1)
RETURNS boolean AS 'MODULE_PATHNAME', 'pylibmc_pg_add' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION mc_add(text, text, integer, integer, integer) IS 'store value only if key is absent (pylibmc add)';
COMMENT ON FUNCTION mc_add(text, bytea, integer, integer, integer) IS 'store value only if key is absent (pylibmc add)';
COMMENT ON FUNCTION mc_add(text, jsonb, integer, integer, integer) IS 'store value only if key is absent';
COMMENT ON FUNCTION mc_add(text, bigint, integer, integer, integer) IS 'store value only if key is absent (pylibmc add)';
COMMENT ON FUNCTION mc_add(text, boolean, integer, integer, integer) IS 'store value only if key is absent (pylibmc add)';

CREATE FUNCTION mc_replace(key text, value text, ttl integer DEFAULT 0, min_compress_len integer DEFAULT 0, compress_level integer DEFAULT -1)
RETURNS boolean AS 'MODULE_PATHNAME', 'pylibmc_pg_replace' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
CREATE FUNCTION mc_replace(key text, value bytea, ttl integer DEFAULT 0, min_compress_len integer DEFAULT 0, compress_level integer DEFAULT -1)
RETURNS boolean AS 'MODULE_PATHNAME', 'pylibmc_pg_replace' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
CREATE FUNCTION mc_replace(key text, value jsonb, ttl integer DEFAULT 0, min_compress_len integer DEFAULT 0, compress_level integer DEFAULT -1)
RETURNS boolean AS 'MODULE_PATHNAME', 'pylibmc_pg_replace' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
CREATE FUNCTION mc_replace(key text, value bigint, ttl integer DEFAULT 0, min_compress_len integer DEFAULT 0, compress_level integer DEFAULT -1)
RETURNS boolean AS 'MODULE_PATHNAME', 'pylibmc_pg_replace' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
CREATE FUNCTION mc_replace(key text, value boolean, ttl integer DEFAULT 0, min_compress_len integer DEFAULT 0, compress_level integer DEFAULT -1)
RETURNS boolean AS 'MODULE_PATHNAME', 'pylibmc_pg_replace' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION mc_replace(text, text, integer, integer, integer) IS 'store value only if key is present (pylibmc replace)';
COMMENT ON FUNCTION mc_replace(text, bytea, integer, integer, integer) IS 'store value only if key is present (pylibmc replace)';
COMMENT ON FUNCTION mc_replace(text, jsonb, integer, integer, integer) IS 'store value only if key is present';
COMMENT ON FUNCTION mc_replace(text, bigint, integer, integer, integer) IS 'store value only if key is present (pylibmc replace)';
COMMENT ON FUNCTION mc_replace(text, boolean, integer, integer, integer) IS 'store value only if key is present (pylibmc replace)';

CREATE FUNCTION mc_append(key text, value text)
RETURNS boolean AS 'MODULE_PATHNAME', 'pylibmc_pg_append' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
CREATE FUNCTION mc_append(key text, value bytea)
RETURNS boolean AS 'MODULE_PATHNAME', 'pylibmc_pg_append' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
CREATE FUNCTION mc_append(key text, value bigint)
RETURNS boolean AS 'MODULE_PATHNAME', 'pylibmc_pg_append' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
CREATE FUNCTION mc_prepend(key text, value text)
RETURNS boolean AS 'MODULE_PATHNAME', 'pylibmc_pg_prepend' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
CREATE FUNCTION mc_prepend(key text, value bytea)
RETURNS boolean AS 'MODULE_PATHNAME', 'pylibmc_pg_prepend' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
CREATE FUNCTION mc_prepend(key text, value bigint)
RETURNS boolean AS 'MODULE_PATHNAME', 'pylibmc_pg_prepend' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION mc_append(text, text) IS 'append bytes to the stored value, flags untouched; false when key is missing';
COMMENT ON FUNCTION mc_append(text, bytea) IS 'append bytes to the stored value, flags untouched; false when key is missing';
COMMENT ON FUNCTION mc_append(text, bigint) IS 'append the digits to the stored value, flags untouched; false when key is missing';
COMMENT ON FUNCTION mc_prepend(text, text) IS 'prepend bytes to the stored value, flags untouched; false when key is missing';
COMMENT ON FUNCTION mc_prepend(text, bytea) IS 'prepend bytes to the stored value, flags untouched; false when key is missing';
COMMENT ON FUNCTION mc_prepend(text, bigint) IS 'prepend the digits to the stored value, flags untouched; false when key is missing';

CREATE FUNCTION mc_cas(key text, value text, cas bigint, ttl integer DEFAULT 0)
RETURNS boolean AS 'MODULE_PATHNAME', 'pylibmc_pg_cas' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
CREATE FUNCTION mc_cas(key text, value bytea, cas bigint, ttl integer DEFAULT 0)
RETURNS boolean AS 'MODULE_PATHNAME', 'pylibmc_pg_cas' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
CREATE FUNCTION mc_cas(key text, value jsonb, cas bigint, ttl integer DEFAULT 0)
RETURNS boolean AS 'MODULE_PATHNAME', 'pylibmc_pg_cas' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
CREATE FUNCTION mc_cas(key text, value bigint, cas bigint, ttl integer DEFAULT 0)
RETURNS boolean AS 'MODULE_PATHNAME', 'pylibmc_pg_cas' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
CREATE FUNCTION mc_cas(key text, value boolean, cas bigint, ttl integer DEFAULT 0)
RETURNS boolean AS 'MODULE_PATHNAME', 'pylibmc_pg_cas' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION mc_cas(text, text, bigint, integer) IS 'store value if the CAS token from mc_gets is current; false when stale or gone (pylibmc cas)';
COMMENT ON FUNCTION mc_cas(text, bytea, bigint, integer) IS 'store value if the CAS token from mc_gets is current; false when stale or gone (pylibmc cas)';
COMMENT ON FUNCTION mc_cas(text, jsonb, bigint, integer) IS 'store value if the CAS token from mc_gets is current; false when stale or gone';
COMMENT ON FUNCTION mc_cas(text, bigint, bigint, integer) IS 'store value if the CAS token from mc_gets is current; false when stale or gone (pylibmc cas)';
COMMENT ON FUNCTION mc_cas(text, boolean, bigint, integer) IS 'store value if the CAS token from mc_gets is current; false when stale or gone (pylibmc cas)';

CREATE FUNCTION mc_set_raw(key text, value bytea, flags integer, ttl integer DEFAULT 0)
RETURNS boolean AS 'MODULE_PATHNAME', 'pylibmc_pg_set_raw' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION mc_set_raw(text, bytea, integer, integer) IS
'store bytes under key with these flags, as they are (the serialize hook)';

CREATE FUNCTION mc_delete(key text, ttl integer DEFAULT 0)
RETURNS boolean AS 'MODULE_PATHNAME', 'pylibmc_pg_delete' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION mc_delete(text, integer) IS
'delete key now, or (ttl > 0) make it expire in ttl seconds; false when it did not exist (pylibmc delete)';

CREATE FUNCTION mc_touch(key text, ttl integer)
RETURNS boolean AS 'MODULE_PATHNAME', 'pylibmc_pg_touch' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION mc_touch(text, integer) IS
'set a new ttl on key; false when it did not exist (pylibmc touch)';

------------------------------------------------------------------------
-- Counters
------------------------------------------------------------------------

CREATE FUNCTION mc_incr(key text, delta bigint DEFAULT 1)
RETURNS bigint AS 'MODULE_PATHNAME', 'pylibmc_pg_incr' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
CREATE FUNCTION mc_decr(key text, delta bigint DEFAULT 1)
RETURNS bigint AS 'MODULE_PATHNAME', 'pylibmc_pg_decr' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
CREATE FUNCTION mc_incr(key text, delta bigint, initial bigint, ttl integer DEFAULT 0)
RETURNS bigint AS 'MODULE_PATHNAME', 'pylibmc_pg_incr_initial' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
CREATE FUNCTION mc_decr(key text, delta bigint, initial bigint, ttl integer DEFAULT 0)
RETURNS bigint AS 'MODULE_PATHNAME', 'pylibmc_pg_decr_initial' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION mc_incr(text, bigint) IS 'add delta to the counter; the new value, NULL when key is missing (pylibmc incr)';
COMMENT ON FUNCTION mc_decr(text, bigint) IS 'subtract delta from the counter, stopping at 0; the new value, NULL when key is missing (pylibmc decr)';
COMMENT ON FUNCTION mc_incr(text, bigint, bigint, integer) IS 'add delta to the counter, creating it as initial (with ttl) when missing';
COMMENT ON FUNCTION mc_decr(text, bigint, bigint, integer) IS 'subtract delta from the counter, creating it as initial (with ttl) when missing';

------------------------------------------------------------------------
-- Several keys
------------------------------------------------------------------------

CREATE FUNCTION mc_set_multi(mapping jsonb, ttl integer DEFAULT 0, key_prefix text DEFAULT NULL, min_compress_len integer DEFAULT 0, compress_level integer DEFAULT -1)
RETURNS text[] AS 'MODULE_PATHNAME', 'pylibmc_pg_set_multi_jsonb' LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL RESTRICTED;
COMMENT ON FUNCTION mc_set_multi(jsonb, integer, text, integer, integer) IS
'store each pair of a JSON object by its JSON type; the keys that failed, without key_prefix (pylibmc set_multi)';

CREATE FUNCTION mc_set_multi(keys text[], "values" anyarray, ttl integer DEFAULT 0, key_prefix text DEFAULT NULL, min_compress_len integer DEFAULT 0, compress_level integer DEFAULT -1)
RETURNS text[] AS 'MODULE_PATHNAME', 'pylibmc_pg_set_multi_arrays' LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL RESTRICTED;
COMMENT ON FUNCTION mc_set_multi(text[], anyarray, integer, text, integer, integer) IS
'store keys[i] = values[i], typed by the array; the keys that failed, without key_prefix';

CREATE FUNCTION mc_delete_multi(keys text[], ttl integer DEFAULT 0, key_prefix text DEFAULT NULL)
RETURNS boolean AS 'MODULE_PATHNAME', 'pylibmc_pg_delete_multi' LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL RESTRICTED;
COMMENT ON FUNCTION mc_delete_multi(text[], integer, text) IS
'delete every key; true only if every key existed (pylibmc delete_multi)';

------------------------------------------------------------------------
-- Administration and statistics
------------------------------------------------------------------------

CREATE FUNCTION mc_flush_all(ttl integer DEFAULT 0)
RETURNS boolean AS 'MODULE_PATHNAME', 'pylibmc_pg_flush_all' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION mc_flush_all(integer) IS
'invalidate every item on every server, after ttl seconds (pylibmc flush_all); not for PUBLIC';
REVOKE ALL ON FUNCTION mc_flush_all(integer) FROM PUBLIC;

CREATE FUNCTION mc_stats(arg text DEFAULT NULL, OUT server text, OUT name text, OUT value text)
RETURNS SETOF record AS 'MODULE_PATHNAME', 'pylibmc_pg_stats' LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL RESTRICTED ROWS 100;
COMMENT ON FUNCTION mc_stats(text) IS
'every statistic of every server, as (server, name, value) rows (pylibmc get_stats)';

CREATE FUNCTION mc_disconnect_all()
RETURNS void AS 'MODULE_PATHNAME', 'pylibmc_pg_disconnect_all' LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION mc_disconnect_all() IS
'close every memcached connection of this backend; the next call reconnects (pylibmc disconnect_all)';

CREATE FUNCTION mc_behaviors()
RETURNS jsonb AS 'MODULE_PATHNAME', 'pylibmc_pg_behaviors' LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION mc_behaviors() IS
'the effective behaviors, name to value (pylibmc Client.behaviors)';

CREATE FUNCTION mc_support_sasl()
RETURNS boolean AS 'MODULE_PATHNAME', 'pylibmc_pg_support_sasl' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION mc_support_sasl() IS
'whether libmemcached was built with SASL (pylibmc.support_sasl)';

CREATE FUNCTION mc_client_stats(OUT server text, OUT operation text, OUT calls bigint, OUT hits bigint,
	OUT misses bigint, OUT errors bigint, OUT bytes_sent bigint, OUT bytes_received bigint,
	OUT time_ms double precision)
RETURNS SETOF record AS 'MODULE_PATHNAME', 'pylibmc_pg_client_stats' LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION mc_client_stats() IS
'this backend''s own counters since it started, per server and operation';

-- One row per server with the columns DBAs look at.
CREATE VIEW mc_server_stats AS
SELECT server,
	   max(value) FILTER (WHERE name = 'version') AS version,
	   (max(value) FILTER (WHERE name = 'uptime'))::bigint AS uptime_s,
	   (max(value) FILTER (WHERE name = 'curr_items'))::bigint AS curr_items,
	   (max(value) FILTER (WHERE name = 'bytes'))::bigint AS bytes,
	   (max(value) FILTER (WHERE name = 'limit_maxbytes'))::bigint AS limit_maxbytes,
	   (max(value) FILTER (WHERE name = 'curr_connections'))::bigint AS curr_connections,
	   (max(value) FILTER (WHERE name = 'get_hits'))::bigint AS get_hits,
	   (max(value) FILTER (WHERE name = 'get_misses'))::bigint AS get_misses,
	   round((max(value) FILTER (WHERE name = 'get_hits'))::numeric
			 / nullif((max(value) FILTER (WHERE name = 'get_hits'))::numeric
					  + (max(value) FILTER (WHERE name = 'get_misses'))::numeric, 0), 4) AS hit_ratio,
	   (max(value) FILTER (WHERE name = 'evictions'))::bigint AS evictions
FROM mc_stats()
GROUP BY server;
COMMENT ON VIEW mc_server_stats IS 'one row per memcached server: uptime, version, items, memory, connections, hit ratio, evictions';

-- Server statistics are for monitoring roles; raw access and flushing are
-- not for PUBLIC.
REVOKE ALL ON FUNCTION mc_stats(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mc_stats(text) TO pg_monitor;
REVOKE ALL ON mc_server_stats FROM PUBLIC;
GRANT SELECT ON mc_server_stats TO pg_monitor;

------------------------------------------------------------------------
-- Invalidation that follows the transaction
------------------------------------------------------------------------

CREATE FUNCTION mc_delete_on_commit(key text)
RETURNS void AS 'MODULE_PATHNAME', 'pylibmc_pg_delete_on_commit' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION mc_delete_on_commit(text) IS
'queue key for deletion when the transaction commits (one pipelined batch, each key once); nothing is sent on rollback, or for a rolled-back savepoint';

CREATE FUNCTION mc_invalidate()
RETURNS trigger AS 'MODULE_PATHNAME', 'pylibmc_pg_invalidate' LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION mc_invalidate() IS
'row trigger: mc_invalidate(''user:{id}'', ...) queues each key template filled from OLD and NEW with mc_delete_on_commit';

------------------------------------------------------------------------
-- 1.1: statement-level invalidation
------------------------------------------------------------------------

COMMENT ON FUNCTION mc_invalidate() IS
'trigger: mc_invalidate(''user:{id}'', ...) queues each key template filled from the old and new rows with mc_delete_on_commit; FOR EACH ROW, or FOR EACH STATEMENT with transition tables (see mc_invalidate_triggers)';

-- The three statement-level triggers a table needs (PostgreSQL allows
-- transition tables only on single-event triggers), created or replaced
-- in one call: calling it again with other templates replaces them.
CREATE FUNCTION mc_invalidate_triggers(rel regclass, VARIADIC templates text[])
RETURNS void LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  args text;
  ev record;
BEGIN
  IF cardinality(templates) = 0 OR array_position(templates, NULL) IS NOT NULL THEN
    RAISE EXCEPTION 'mc_invalidate_triggers() needs one or more key templates, none of them NULL'
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'SELECT mc_invalidate_triggers(''users'', ''user:{id}'', ''user_email:{email}'');';
  END IF;
  SELECT string_agg(quote_literal(t), ', ' ORDER BY n) INTO args
    FROM unnest(templates) WITH ORDINALITY AS u(t, n);
  FOR ev IN SELECT * FROM (VALUES
      ('mc_invalidate_insert', 'INSERT', 'NEW TABLE AS mc_invalidate_new'),
      ('mc_invalidate_update', 'UPDATE', 'OLD TABLE AS mc_invalidate_old NEW TABLE AS mc_invalidate_new'),
      ('mc_invalidate_delete', 'DELETE', 'OLD TABLE AS mc_invalidate_old')) AS v(name, event, refs)
  LOOP
    IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = rel AND tgname = ev.name) THEN
      EXECUTE format('DROP TRIGGER %I ON %s', ev.name, rel);
    END IF;
    EXECUTE format('CREATE TRIGGER %I AFTER %s ON %s REFERENCING %s FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.mc_invalidate(%s)',
                   ev.name, ev.event, rel, ev.refs, args);
  END LOOP;
END
$$;
COMMENT ON FUNCTION mc_invalidate_triggers(regclass, text[]) IS
'create or replace the three statement-level mc_invalidate triggers (mc_invalidate_insert, _update, _delete) of a table for these key templates';

------------------------------------------------------------------------
-- 1.1: the whole cluster's counters (shared memory; needs
-- shared_preload_libraries = 'pylibmc_pg', else reading them is an ERROR)
------------------------------------------------------------------------

CREATE FUNCTION mc_cluster_stats(OUT dbid oid, OUT userid oid, OUT server text, OUT operation text,
	OUT calls bigint, OUT hits bigint, OUT misses bigint, OUT errors bigint,
	OUT bytes_sent bigint, OUT bytes_received bigint,
	OUT total_time_ms double precision, OUT min_time_ms double precision, OUT max_time_ms double precision)
RETURNS SETOF record AS 'MODULE_PATHNAME', 'pylibmc_pg_cluster_stats' LANGUAGE C VOLATILE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mc_cluster_stats() IS
'every backend''s counters since the server started or the last mc_cluster_stats_reset(), per database, role, server and operation (needs shared_preload_libraries)';

CREATE VIEW mc_cluster_stats AS
SELECT s.dbid, d.datname, s.userid, r.rolname, s.server, s.operation,
	   s.calls, s.hits, s.misses, s.errors, s.bytes_sent, s.bytes_received,
	   s.total_time_ms, s.min_time_ms, s.max_time_ms,
	   s.total_time_ms / s.calls AS mean_time_ms
FROM mc_cluster_stats() s
LEFT JOIN pg_catalog.pg_database d ON d.oid = s.dbid
LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.userid;
COMMENT ON VIEW mc_cluster_stats IS
'the whole cluster''s memcached traffic per database, role, server and operation: calls, hits, misses, errors, bytes, times (needs shared_preload_libraries)';

CREATE FUNCTION mc_cluster_stats_info(OUT evicted bigint, OUT stats_reset timestamp with time zone)
RETURNS record AS 'MODULE_PATHNAME', 'pylibmc_pg_cluster_stats_info' LANGUAGE C VOLATILE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mc_cluster_stats_info() IS
'entries of mc_cluster_stats evicted (pylibmc_pg.cluster_stats_max) and the time of the last reset';

CREATE VIEW mc_cluster_stats_info AS
SELECT * FROM mc_cluster_stats_info();
COMMENT ON VIEW mc_cluster_stats_info IS
'how many mc_cluster_stats entries were evicted since the last reset (pylibmc_pg.cluster_stats_max), and when that was';

CREATE FUNCTION mc_cluster_stats_reset()
RETURNS void AS 'MODULE_PATHNAME', 'pylibmc_pg_cluster_stats_reset' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION mc_cluster_stats_reset() IS
'clear every entry of mc_cluster_stats and the eviction count (superusers, or roles granted EXECUTE)';

-- Other roles' traffic is for monitoring roles, as pg_stat_statements';
-- clearing it is for superusers unless granted.
REVOKE ALL ON FUNCTION mc_cluster_stats() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mc_cluster_stats() TO pg_monitor;
REVOKE ALL ON mc_cluster_stats FROM PUBLIC;
GRANT SELECT ON mc_cluster_stats TO pg_monitor;
REVOKE ALL ON FUNCTION mc_cluster_stats_info() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mc_cluster_stats_info() TO pg_monitor;
REVOKE ALL ON mc_cluster_stats_info FROM PUBLIC;
GRANT SELECT ON mc_cluster_stats_info TO pg_monitor;
REVOKE ALL ON FUNCTION mc_cluster_stats_reset() FROM PUBLIC;
