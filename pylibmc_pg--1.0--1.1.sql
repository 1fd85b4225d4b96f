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
