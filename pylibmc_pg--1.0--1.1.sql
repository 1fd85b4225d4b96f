/* pylibmc_pg--1.0--1.1.sql: statement-level mc_invalidate and mc_invalidate_triggers() */

\echo Use "ALTER EXTENSION pylibmc_pg UPDATE TO '1.1'" to load this file. \quit

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
