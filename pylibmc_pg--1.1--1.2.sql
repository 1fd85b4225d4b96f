/* pylibmc_pg--1.1--1.2.sql: mc_invalidate_triggers() covers partitions, warns on a subscriber */

\echo Use "ALTER EXTENSION pylibmc_pg UPDATE TO '1.2'" to load this file. \quit

------------------------------------------------------------------------
-- 1.2: mc_invalidate_triggers() on partitioned tables and subscribers
------------------------------------------------------------------------

-- Same signature and templates as 1.1's.  What changes:
--   - PostgreSQL fires a table's statement-level triggers only for the
--     statements that name that table, so the three triggers go on every
--     member of pg_partition_tree(rel): the parent's see the writes
--     addressed to the parent (their transition tables hold every
--     partition's rows), each partition's the writes addressed to it.  A
--     write fires the triggers of the one table it names, so no key is
--     queued twice.  Partitions created or attached later get none: a
--     WARNING says so and what to do.  Foreign-table partitions cannot
--     have transition tables: skipped, with a WARNING.
--   - A logical replication apply worker fires no statement-level
--     triggers, even ENABLE ALWAYS ones: on a table a subscription writes
--     (directly, or through a partitioned ancestor or descendant), a
--     WARNING gives the row form to use instead.  pg_subscription_rel is
--     read only where the caller may read it.
CREATE OR REPLACE FUNCTION mc_invalidate_triggers(rel regclass, VARIADIC templates text[])
RETURNS void LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  args text;
  ev record;
  member regclass;
  members regclass[];
  foreign_members text;
  relkind "char";
BEGIN
  IF cardinality(templates) = 0 OR array_position(templates, NULL) IS NOT NULL THEN
    RAISE EXCEPTION 'mc_invalidate_triggers() needs one or more key templates, none of them NULL'
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'SELECT mc_invalidate_triggers(''users'', ''user:{id}'', ''user_email:{email}'');';
  END IF;
  SELECT string_agg(quote_literal(t), ', ' ORDER BY n) INTO args
    FROM unnest(templates) WITH ORDINALITY AS u(t, n);
  SELECT c.relkind INTO relkind FROM pg_class c WHERE c.oid = rel;

  -- rel itself first (whatever it is: CREATE TRIGGER says what it cannot
  -- take), then its partitions at every level that can have the triggers
  SELECT array_agg(t.relid ORDER BY t.level, t.relid::text) INTO members
    FROM pg_partition_tree(rel) t JOIN pg_class c ON c.oid = t.relid
   WHERE t.relid <> rel AND c.relkind IN ('r', 'p');
  members := ARRAY[rel] || coalesce(members, '{}');
  SELECT string_agg(t.relid::text, ', ' ORDER BY t.relid::text) INTO foreign_members
    FROM pg_partition_tree(rel) t JOIN pg_class c ON c.oid = t.relid
   WHERE t.relid <> rel AND c.relkind = 'f';

  FOREACH member IN ARRAY members LOOP
    FOR ev IN SELECT * FROM (VALUES
        ('mc_invalidate_insert', 'INSERT', 'NEW TABLE AS mc_invalidate_new'),
        ('mc_invalidate_update', 'UPDATE', 'OLD TABLE AS mc_invalidate_old NEW TABLE AS mc_invalidate_new'),
        ('mc_invalidate_delete', 'DELETE', 'OLD TABLE AS mc_invalidate_old')) AS v(name, event, refs)
    LOOP
      IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = member AND tgname = ev.name) THEN
        EXECUTE format('DROP TRIGGER %I ON %s', ev.name, member);
      END IF;
      EXECUTE format('CREATE TRIGGER %I AFTER %s ON %s REFERENCING %s FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.mc_invalidate(%s)',
                     ev.name, ev.event, member, ev.refs, args);
    END LOOP;
  END LOOP;

  IF relkind = 'p' THEN
    RAISE WARNING 'partitions of % created or attached later get no statement-level triggers', rel
      USING DETAIL = format('They are on %s and on its %s partitions present now, each for the writes addressed to it.',
                            rel, cardinality(members) - 1),
            HINT = format('Call mc_invalidate_triggers() again after CREATE TABLE ... PARTITION OF or ALTER TABLE ... ATTACH PARTITION, or use the row form, which PostgreSQL clones to every partition: CREATE TRIGGER mc_invalidate_row AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION mc_invalidate(%s);',
                          rel, args);
  END IF;
  IF foreign_members IS NOT NULL THEN
    RAISE WARNING 'foreign-table partitions of % get no statement-level triggers: %', rel, foreign_members
      USING DETAIL = 'Triggers on foreign tables cannot have transition tables; writes addressed to these partitions are not invalidated.',
            HINT = format('Use the row form on %s, which PostgreSQL clones to every partition.', rel);
  END IF;

  -- the apply worker of a subscription fires no statement-level triggers
  IF has_table_privilege('pg_catalog.pg_subscription_rel', 'SELECT')
     AND EXISTS (SELECT 1 FROM pg_subscription_rel s
                  WHERE s.srrelid IN (SELECT relid FROM pg_partition_tree(rel)
                                      UNION SELECT relid FROM pg_partition_ancestors(rel)
                                      UNION SELECT rel)) THEN
    RAISE WARNING 'the statement-level triggers of % will not fire for the rows a logical replication subscription writes', rel
      USING DETAIL = 'The apply worker fires no statement-level triggers, even ENABLE ALWAYS ones; row-level triggers fire there only when enabled ALWAYS.',
            HINT = format('On a subscriber, use the row form enabled ALWAYS: CREATE TRIGGER mc_invalidate_row AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION mc_invalidate(%s); ALTER TABLE %s ENABLE ALWAYS TRIGGER mc_invalidate_row;',
                          rel, args, rel);
  END IF;
END
$$;
COMMENT ON FUNCTION mc_invalidate_triggers(regclass, text[]) IS
'create or replace the three statement-level mc_invalidate triggers (mc_invalidate_insert, _update, _delete) of a table and of each of its partitions for these key templates; warns where they cannot see every write (later partitions, a subscriber)';

-- ---------------------------------------------------------------------------
-- Leases: fills that can never store a stale or an uncommitted row, and one
-- filler per missing key (mc_lease, mc_fill, mc_cached).
-- ---------------------------------------------------------------------------

CREATE FUNCTION mc_lease(key text, ttl integer DEFAULT 10)
RETURNS bigint AS 'MODULE_PATHNAME', 'pylibmc_pg_lease' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION mc_lease(text, integer) IS
'claim a missing key for a fill for ttl seconds: the lease token for mc_fill, or NULL when the key exists (a value, another lease, a tombstone), could not be claimed, or this transaction may not fill';

CREATE FUNCTION mc_fill(key text, value text, lease bigint, ttl integer DEFAULT 0, min_compress_len integer DEFAULT 0, compress_level integer DEFAULT -1)
RETURNS boolean AS 'MODULE_PATHNAME', 'pylibmc_pg_fill' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
CREATE FUNCTION mc_fill(key text, value bytea, lease bigint, ttl integer DEFAULT 0, min_compress_len integer DEFAULT 0, compress_level integer DEFAULT -1)
RETURNS boolean AS 'MODULE_PATHNAME', 'pylibmc_pg_fill' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
CREATE FUNCTION mc_fill(key text, value jsonb, lease bigint, ttl integer DEFAULT 0, min_compress_len integer DEFAULT 0, compress_level integer DEFAULT -1)
RETURNS boolean AS 'MODULE_PATHNAME', 'pylibmc_pg_fill' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
CREATE FUNCTION mc_fill(key text, value bigint, lease bigint, ttl integer DEFAULT 0, min_compress_len integer DEFAULT 0, compress_level integer DEFAULT -1)
RETURNS boolean AS 'MODULE_PATHNAME', 'pylibmc_pg_fill' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
CREATE FUNCTION mc_fill(key text, value boolean, lease bigint, ttl integer DEFAULT 0, min_compress_len integer DEFAULT 0, compress_level integer DEFAULT -1)
RETURNS boolean AS 'MODULE_PATHNAME', 'pylibmc_pg_fill' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION mc_fill(text, text, bigint, integer, integer, integer) IS
'store value if the lease from mc_lease is intact (cas); false when an invalidation, write-through, eviction or expiry came first, or when this transaction has written or is REPEATABLE READ or SERIALIZABLE';
COMMENT ON FUNCTION mc_fill(text, bytea, bigint, integer, integer, integer) IS
'store value if the lease from mc_lease is intact (cas); false when an invalidation, write-through, eviction or expiry came first, or when this transaction has written or is REPEATABLE READ or SERIALIZABLE';
COMMENT ON FUNCTION mc_fill(text, jsonb, bigint, integer, integer, integer) IS
'store value if the lease from mc_lease is intact (cas); false when an invalidation, write-through, eviction or expiry came first, or when this transaction has written or is REPEATABLE READ or SERIALIZABLE';
COMMENT ON FUNCTION mc_fill(text, bigint, bigint, integer, integer, integer) IS
'store value if the lease from mc_lease is intact (cas); false when an invalidation, write-through, eviction or expiry came first, or when this transaction has written or is REPEATABLE READ or SERIALIZABLE';
COMMENT ON FUNCTION mc_fill(text, boolean, bigint, integer, integer, integer) IS
'store value if the lease from mc_lease is intact (cas); false when an invalidation, write-through, eviction or expiry came first, or when this transaction has written or is REPEATABLE READ or SERIALIZABLE';

CREATE FUNCTION mc_cached(key text, query text, params text[] DEFAULT '{}', ttl integer DEFAULT 0, min_compress_len integer DEFAULT 0, compress_level integer DEFAULT -1)
RETURNS text AS 'MODULE_PATHNAME', 'pylibmc_pg_cached' LANGUAGE C VOLATILE PARALLEL RESTRICTED;
CREATE FUNCTION mc_cached(key text, as_type anyelement, query text, params text[] DEFAULT '{}', ttl integer DEFAULT 0, min_compress_len integer DEFAULT 0, compress_level integer DEFAULT -1)
RETURNS anyelement AS 'MODULE_PATHNAME', 'pylibmc_pg_cached' LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION mc_cached(text, text, text[], integer, integer, integer) IS
'read-through: the cached value, or on a miss the one-row, one-column query''s value ($1.. from params), filled under a lease; waits up to pylibmc_pg.lease_wait for another session''s lease';
COMMENT ON FUNCTION mc_cached(text, anyelement, text, text[], integer, integer, integer) IS
'read-through, typed as as_type: the cached value, or on a miss the one-row, one-column query''s value ($1.. from params), filled under a lease; waits up to pylibmc_pg.lease_wait for another session''s lease';

------------------------------------------------------------------------
-- 1.2: mc_invalidation_log, the replay of the invalidation log
------------------------------------------------------------------------

-- One row per database named in pylibmc_pg.invalidation_log_databases
-- (none when the library is not preloaded): its replay worker's slot, how
-- far behind it is (bytes of WAL not yet confirmed, the commit time of the
-- oldest transaction it could not deliver yet), and its counts.
CREATE FUNCTION mc_invalidation_log_workers(
    OUT database text, OUT slot_name text, OUT pid integer,
    OUT confirmed_lsn pg_lsn, OUT oldest_undelivered timestamptz,
    OUT transactions bigint, OUT keys_delivered bigint, OUT keys_resent bigint,
    OUT keys_given_up bigint, OUT last_error text, OUT last_error_time timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pylibmc_pg_invalidation_log'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION mc_invalidation_log_workers() IS
'the rows of mc_invalidation_log, from the replay workers'' shared memory (none when the library is not preloaded)';

CREATE VIEW mc_invalidation_log AS
  SELECT w.database,
         w.slot_name,
         w.pid,
         CASE WHEN pg_is_in_recovery() THEN NULL
              ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn) END
           AS replay_lag_bytes,
         w.oldest_undelivered,
         now() - w.oldest_undelivered AS replay_lag,
         w.transactions,
         w.keys_delivered,
         w.keys_resent,
         w.keys_given_up,
         w.last_error,
         w.last_error_time
    FROM mc_invalidation_log_workers() w
    LEFT JOIN pg_catalog.pg_replication_slots s ON s.slot_name = w.slot_name;
COMMENT ON VIEW mc_invalidation_log IS
'per database replayed from the WAL: the replay worker''s slot, its lag in bytes and in time, the keys delivered at commit, resent by the worker, and given up, its last error';

REVOKE ALL ON FUNCTION mc_invalidation_log_workers() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mc_invalidation_log_workers() TO pg_monitor;
REVOKE ALL ON mc_invalidation_log FROM PUBLIC;
GRANT SELECT ON mc_invalidation_log TO pg_monitor;
