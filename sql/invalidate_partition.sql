--
-- mc_invalidate on partitioned tables (issue 24.4).  Keys start with "ipart:".
--
-- PostgreSQL fires a table's statement-level triggers only for statements
-- that name that table: the parent's for writes addressed to the parent
-- (its transition tables then hold every partition's rows), a partition's
-- own for writes addressed to it.  Row-level triggers created on the
-- parent are cloned to every partition, present and future.
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

-- 1. the statement form on the parent only: writes to the parent are seen,
--    writes addressed to a partition are not (README says so)
SELECT mc_invalidate_triggers('ipart', 'ipart:{id}');
SELECT cache() IS NOT NULL AS cached;
UPDATE ipart SET v = 'b' WHERE id IN (1, 101);
DELETE FROM ipart WHERE id = 4;
INSERT INTO ipart VALUES (4, 'a');
SELECT left_cached();
SELECT cache() IS NOT NULL AS cached;
UPDATE ipart1 SET v = 'c' WHERE id = 2;
DELETE FROM ipart2a WHERE id = 102;
INSERT INTO ipart2 VALUES (102, 'a');
SELECT left_cached() AS missed_partition_writes;

-- 2. the statement form on the parent and on every partition (each level
--    of pg_partition_tree): every write is seen, each key sent once
SELECT count(mc_invalidate_triggers(relid, 'ipart:{id}'))
FROM pg_partition_tree('ipart') WHERE relid <> 'ipart'::regclass;
SELECT cache() IS NOT NULL AS cached;
SELECT sent() AS sent_before \gset
UPDATE ipart SET v = 'd' WHERE id IN (1, 101);
UPDATE ipart1 SET v = 'd' WHERE id = 2;
DELETE FROM ipart2a WHERE id = 102;
INSERT INTO ipart2 VALUES (102, 'a');
UPDATE ipart2 SET v = 'd' WHERE id = 103;
SELECT left_cached(), sent() - :sent_before AS sent;

-- 3. the row form on the parent: cloned to every partition, including one
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
DROP FUNCTION cache(), left_cached(), sent();
