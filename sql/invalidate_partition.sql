--
-- mc_invalidate on partitioned tables (issue 24.4).  Keys start with "ipart:".
--
-- PostgreSQL fires a table's statement-level triggers only for statements
-- that name that table: the parent's for writes addressed to the parent
-- (its transition tables then hold every partition's rows), a partition's
-- own for writes addressed to it.  So mc_invalidate_triggers (1.2) creates
-- them on every member of the tree, and warns that partitions created or
-- attached later get none.  Row-level triggers created on the parent are
-- cloned to every partition, present and future.
--
SELECT current_setting('pylibmc_test.tcp') AS tcp \gset
SET pylibmc_pg.servers = :'tcp';
SELECT mc_get('ipart:nothing') IS NULL AS library_loaded;

CREATE TABLE ipart (id int, v text) PARTITION BY RANGE (id);
CREATE TABLE ipart1 PARTITION OF ipart FOR VALUES FROM (1) TO (100);
CREATE TABLE ipart2 PARTITION OF ipart FOR VALUES FROM (100) TO (200) PARTITION BY RANGE (id);
CREATE TABLE ipart2a PARTITION OF ipart2 FOR VALUES FROM (100) TO (200);
INSERT INTO ipart SELECT g, 'a' FROM generate_series(1, 4) g;
INSERT INTO ipart SELECT g, 'a' FROM generate_series(101, 104) g;

-- cache(): every row's key cached; left(): the keys still cached
CREATE FUNCTION cache() RETURNS bigint LANGUAGE sql AS
$$ SELECT count(mc_set('ipart:' || g, 'stale'))
   FROM (SELECT generate_series(1, 4) UNION ALL SELECT generate_series(101, 104)) s(g) $$;
CREATE FUNCTION left_cached() RETURNS text LANGUAGE sql AS
$$ SELECT coalesce(string_agg(key, ' ' ORDER BY key), '') FROM mc_get_multi(
     ARRAY(SELECT 'ipart:' || g FROM generate_series(1, 4) g UNION ALL
           SELECT 'ipart:' || g FROM generate_series(101, 104) g)) $$;
CREATE FUNCTION sent() RETURNS bigint LANGUAGE sql AS
$$ SELECT coalesce(sum(calls), 0)::bigint FROM mc_client_stats() WHERE operation = 'delete_on_commit' $$;

-- fired(): how many times mc_invalidate ran in this backend, as far as
-- the statistics not yet reported show (one per statement-level trigger
-- that fired): read before and after a statement, in one transaction
CREATE FUNCTION fired() RETURNS bigint LANGUAGE sql AS
$$ SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_xact_user_functions WHERE funcname = 'mc_invalidate' $$;
SET track_functions = 'all';

-- 1. mc_invalidate_triggers on the parent puts the three statement-level
--    triggers on every member of pg_partition_tree, and warns that later
--    partitions get none
SELECT mc_invalidate_triggers('ipart', 'ipart:{id}');
SELECT t.relid, t.level, string_agg(g.tgname, ' ' ORDER BY g.tgname) AS triggers
FROM pg_partition_tree('ipart') t LEFT JOIN pg_trigger g ON g.tgrelid = t.relid
GROUP BY t.relid, t.level ORDER BY t.level, t.relid::text;

-- writes addressed to the parent: the parent's triggers only
SELECT cache() IS NOT NULL AS cached;
SELECT sent() AS sent_before \gset
BEGIN;
SELECT fired() AS fired_before \gset
UPDATE ipart SET v = 'b' WHERE id IN (1, 101);
SELECT fired() - :fired_before AS fired_by_one_update;
COMMIT;
DELETE FROM ipart WHERE id = 4;
INSERT INTO ipart VALUES (4, 'a');
SELECT left_cached(), sent() - :sent_before AS sent;

-- writes addressed to a partition, one and two levels deep (issue 24.4):
-- that partition's triggers only, every key deleted, each once
SELECT cache() IS NOT NULL AS cached;
SELECT sent() AS sent_before \gset
BEGIN;
SELECT fired() AS fired_before \gset
UPDATE ipart1 SET v = 'c' WHERE id = 2;
SELECT fired() - :fired_before AS fired_by_one_update;
COMMIT;
DELETE FROM ipart2a WHERE id = 102;
INSERT INTO ipart2a VALUES (102, 'a');
UPDATE ipart2 SET v = 'c' WHERE id = 103;
DELETE FROM ipart1 WHERE id = 3;
INSERT INTO ipart1 VALUES (3, 'a');
SELECT left_cached() AS after_partition_writes, sent() - :sent_before AS sent;

-- 2. called again: replaced on every member, never doubled
SELECT mc_invalidate_triggers('ipart', 'ipart:{id}', 'ipart_v:{v}');
SELECT t.relid, count(g.tgname) AS triggers,
       bool_and(encode(g.tgargs, 'escape') = 'ipart:{id}\000ipart_v:{v}\000') AS new_templates
FROM pg_partition_tree('ipart') t LEFT JOIN pg_trigger g ON g.tgrelid = t.relid
GROUP BY t.relid ORDER BY t.relid::text;

-- 3. a partition created later has none until the next call
CREATE TABLE ipart4 PARTITION OF ipart FOR VALUES FROM (400) TO (500);
INSERT INTO ipart VALUES (401, 'a');
SELECT mc_set('ipart:401', 'stale');
UPDATE ipart4 SET v = 'b';
SELECT mc_get('ipart:401') AS missed_new_partition;
SELECT mc_invalidate_triggers('ipart', 'ipart:{id}');
UPDATE ipart4 SET v = 'c';
SELECT mc_get('ipart:401') IS NULL AS covered_after_the_call;
DROP TABLE ipart4;

-- a foreign-table partition cannot have triggers with transition tables:
-- skipped, and named in a second warning
CREATE FOREIGN DATA WRAPPER ipart_fdw;
CREATE SERVER ipart_srv FOREIGN DATA WRAPPER ipart_fdw;
CREATE FOREIGN TABLE ipart5 PARTITION OF ipart FOR VALUES FROM (500) TO (600) SERVER ipart_srv;
SELECT mc_invalidate_triggers('ipart', 'ipart:{id}');
SELECT count(*) AS foreign_partition_triggers FROM pg_trigger WHERE tgrelid = 'ipart5'::regclass;
DROP FOREIGN TABLE ipart5;
DROP SERVER ipart_srv;
DROP FOREIGN DATA WRAPPER ipart_fdw;

-- a table that is not partitioned: no warning, as in 1.1
CREATE TABLE iplain (id int);
SELECT mc_invalidate_triggers('iplain', 'ipart:{id}');
DROP TABLE iplain;

-- 4. the row form on the parent: cloned to every partition, including one
--    created afterwards
DO $$
DECLARE t regclass;
BEGIN
  FOR t IN SELECT relid FROM pg_partition_tree('ipart') LOOP
    EXECUTE format('DROP TRIGGER mc_invalidate_insert ON %s; DROP TRIGGER mc_invalidate_update ON %s; DROP TRIGGER mc_invalidate_delete ON %s', t, t, t);
  END LOOP;
END $$;
CREATE TRIGGER ipart_cache AFTER INSERT OR UPDATE OR DELETE ON ipart
  FOR EACH ROW EXECUTE FUNCTION mc_invalidate('ipart:{id}');
CREATE TABLE ipart3 PARTITION OF ipart FOR VALUES FROM (200) TO (300);
INSERT INTO ipart VALUES (201, 'a');
SELECT cache() IS NOT NULL AS cached, mc_set('ipart:201', 'stale');
UPDATE ipart1 SET v = 'e' WHERE id = 2;
UPDATE ipart2a SET v = 'e' WHERE id = 103;
UPDATE ipart SET v = 'e' WHERE id = 1;
UPDATE ipart3 SET v = 'e' WHERE id = 201;
SELECT left_cached(), mc_get('ipart:201') IS NULL AS new_partition_covered;

DROP TABLE ipart;
DROP FUNCTION cache(), left_cached(), sent(), fired();
RESET track_functions;
