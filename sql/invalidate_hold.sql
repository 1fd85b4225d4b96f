--
-- pylibmc_pg.invalidation_hold (issue 14.4): with a hold, the commit-time
-- batch stores a tombstone (a pickled None: flags 1, bytes "N.") for that
-- many seconds instead of deleting.  Keys start with "invh:".
--
SELECT current_setting('pylibmc_test.tcp') AS tcp \gset
SET pylibmc_pg.servers = :'tcp';
SELECT mc_get('invh:nothing') IS NULL AS library_loaded;

SHOW pylibmc_pg.invalidation_hold;
-- refused outside 0 .. 30 days (the message's unit wording differs by version)
DO $$
DECLARE v text;
BEGIN
  FOREACH v IN ARRAY ARRAY['-1', '31d'] LOOP
    BEGIN
      PERFORM set_config('pylibmc_pg.invalidation_hold', v, false);
      RAISE NOTICE '% accepted', v;
    EXCEPTION WHEN invalid_parameter_value THEN
      RAISE NOTICE '% refused (%)', v, SQLSTATE;
    END;
  END LOOP;
END $$;
SET pylibmc_pg.invalidation_hold = '2min';
SHOW pylibmc_pg.invalidation_hold;
RESET pylibmc_pg.invalidation_hold;

-- no hold: a delete
SELECT mc_set('invh:plain', 'cached');
SELECT mc_delete_on_commit('invh:plain');
SELECT * FROM mc_get_raw('invh:plain');

-- a hold: the tombstone, which reads as a miss and refuses add
SET pylibmc_pg.invalidation_hold = 2;
SELECT mc_set('invh:a', 'cached'), mc_set('invh:b', 'cached');
BEGIN;
SELECT mc_delete_on_commit('invh:a'), mc_delete_on_commit('invh:b'), mc_delete_on_commit('invh:absent');
COMMIT;
SELECT * FROM mc_get_raw('invh:a');
SELECT * FROM mc_get_raw('invh:absent');          -- a key that was not cached is held too
SELECT mc_get('invh:a') IS NULL AS get_misses, mc_get('invh:a', NULL::bigint) IS NULL AS typed_get_misses;
SELECT count(*) AS get_multi_rows FROM mc_get_multi(ARRAY['invh:a', 'invh:b']);
SELECT mc_add('invh:a', 'late fill') AS add_while_held;
SELECT mc_set('invh:b', 'write-through') AS set_while_held, mc_get('invh:b');
-- it expires: add works again
SELECT pg_sleep(3.1);
SELECT mc_add('invh:a', 'fill after the hold') AS add_after_hold, mc_get('invh:a');

-- the trigger goes through the same batch
CREATE TABLE invh (id int PRIMARY KEY, v text);
INSERT INTO invh VALUES (1, 'one');
CREATE TRIGGER invh_cache AFTER UPDATE ON invh
  FOR EACH ROW EXECUTE FUNCTION mc_invalidate('invh:row:{id}');
SELECT mc_set('invh:row:1', 'one');
UPDATE invh SET v = 'uno';
SELECT (mc_get_raw('invh:row:1')).flags, mc_add('invh:row:1', 'one') AS stale_fill;

-- the binary protocol (acknowledged sets) and several servers
SELECT set_config('pylibmc_pg.binary_protocol', 'on', false);
SELECT mc_set('invh:bin', 'cached');
SELECT mc_delete_on_commit('invh:bin');
SELECT * FROM mc_get_raw('invh:bin');
SELECT mc_add('invh:bin', 'late') AS add_while_held;
SELECT set_config('pylibmc_pg.binary_protocol', 'off', false);
SELECT current_setting('pylibmc_test.multi') AS multi \gset
SET pylibmc_pg.servers = :'multi';
BEGIN;
SELECT count(mc_delete_on_commit('invh:multi:' || g)) FROM generate_series(1, 40) g;
COMMIT;
SELECT count(*) FILTER (WHERE NOT mc_add('invh:multi:' || g, 'late')) AS held
FROM generate_series(1, 40) g;
SET pylibmc_pg.servers = :'tcp';

RESET pylibmc_pg.invalidation_hold;
DROP TABLE invh;
