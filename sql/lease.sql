--
-- Leases: mc_lease, mc_fill and mc_cached in one session, over both
-- protocols (the races, the herd and the waits are test/t/06x_lease_*.pl).
-- Keys start with "lease:".
--
SELECT current_setting('pylibmc_test.tcp') AS tcp \gset
SET pylibmc_pg.servers = :'tcp';
SELECT mc_get('lease:nothing') IS NULL AS library_loaded;
SHOW pylibmc_pg.lease_wait;

CREATE TABLE lease_users (id int PRIMARY KEY, name text NOT NULL, born int);
INSERT INTO lease_users VALUES (1, 'ann', 1990), (2, 'bob', NULL), (3, 'cy', 1985);

-- one protocol's checks; the counters they leave are compared below
CREATE FUNCTION lease_checks() RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  t bigint;
  t2 bigint;
  r record;
BEGIN
  PERFORM mc_delete(k) FROM unnest(ARRAY['lease:a', 'lease:b', 'lease:c', 'lease:j',
    'lease:n', 'lease:x', 'lease:u1', 'lease:u2', 'lease:u9', 'lease:ty']) k;

  -- a claim, the marker (a pickled None, protocol 2, flags 1), a fill
  t := mc_lease('lease:a');
  RETURN NEXT format('claimed: %s', t > 0);
  RETURN NEXT format('second claim: %s', mc_lease('lease:a') IS NULL);
  RETURN NEXT format('mc_get of a lease: %s', mc_get('lease:a') IS NULL);
  SELECT * INTO r FROM mc_get_raw('lease:a');
  RETURN NEXT format('marker: %s flags %s', r.value, r.flags);
  RETURN NEXT format('add on a lease: %s', mc_add('lease:a', 'x'));
  RETURN NEXT format('fill: %s', mc_fill('lease:a', 'filled', t));
  RETURN NEXT format('value: %s', mc_get('lease:a'));
  RETURN NEXT format('fill again with the spent token: %s', mc_fill('lease:a', 'again', t));
  RETURN NEXT format('claim of a value: %s', mc_lease('lease:a') IS NULL);

  -- broken leases: a delete, a write-through set, a tombstone, expiry
  t := mc_lease('lease:b');
  PERFORM mc_delete('lease:b');
  RETURN NEXT format('after a delete: fill %s, value %s', mc_fill('lease:b', 'stale', t), mc_get('lease:b'));
  t := mc_lease('lease:b');
  PERFORM mc_set('lease:b', 'written');
  RETURN NEXT format('after a set: fill %s, value %s', mc_fill('lease:b', 'stale', t), mc_get('lease:b'));
  PERFORM mc_delete('lease:b');
  t := mc_lease('lease:b');
  PERFORM mc_set_raw('lease:b', 'N.'::bytea, 1);    -- the hold's tombstone
  RETURN NEXT format('after a tombstone: fill %s, raw %s', mc_fill('lease:b', 'stale', t),
                     (SELECT value FROM mc_get_raw('lease:b')));
  RETURN NEXT format('claim of a tombstone: %s', mc_lease('lease:b') IS NULL);

  -- typed fills
  t := mc_lease('lease:j');
  RETURN NEXT format('jsonb: %s %s', mc_fill('lease:j', '{"a": [1, 2]}'::jsonb, t),
                     mc_get('lease:j', NULL::jsonb));
  PERFORM mc_delete('lease:j');
  t := mc_lease('lease:j');
  RETURN NEXT format('bigint: %s %s', mc_fill('lease:j', 42::bigint, t), mc_get('lease:j', NULL::bigint));
  PERFORM mc_delete('lease:j');
  t := mc_lease('lease:j');
  RETURN NEXT format('boolean: %s %s', mc_fill('lease:j', true, t), mc_get('lease:j', NULL::boolean));
  PERFORM mc_delete('lease:j');
  t := mc_lease('lease:j');
  RETURN NEXT format('bytea, compressed: %s %s %s', mc_fill('lease:j', convert_to(repeat('z', 200), 'UTF8'), t, 0, 10),
                     length(mc_get('lease:j', NULL::bytea)),
                     (SELECT flags FROM mc_get_raw('lease:j')));

  -- mc_cached: a miss runs the query and fills, a hit does not run it
  RETURN NEXT format('cached miss: %s', mc_cached('lease:u1', 'SELECT name FROM lease_users WHERE id = $1', ARRAY['1']));
  RETURN NEXT format('filled: %s', mc_get('lease:u1'));
  RETURN NEXT format('cached hit: %s', mc_cached('lease:u1', 'SELECT 1/0', '{}'::text[]));
  -- typed, parameters of several types
  RETURN NEXT format('typed: %s', mc_cached('lease:u2', NULL::jsonb,
    'SELECT to_jsonb(u) FROM lease_users u WHERE id = $1 AND name <> $2', ARRAY['3', 'zz']));
  RETURN NEXT format('typed, read back: %s', mc_get('lease:u2', NULL::jsonb));
  RETURN NEXT format('typed, converted: %s %s', mc_cached('lease:ty', NULL::bigint, 'SELECT born FROM lease_users WHERE id = 1'),
                     (SELECT flags FROM mc_get_raw('lease:ty')));
  -- no row, a NULL: NULL, not cached
  RETURN NEXT format('no row: %s, cached %s', mc_cached('lease:u9', 'SELECT name FROM lease_users WHERE id = 9') IS NULL,
                     mc_get('lease:u9') IS NOT NULL);
  RETURN NEXT format('null: %s, cached %s', mc_cached('lease:u9', 'SELECT born::text FROM lease_users WHERE id = 2') IS NULL,
                     mc_get('lease:u9') IS NOT NULL);
  -- a tombstone: the query's value, not filled
  PERFORM mc_set_raw('lease:x', 'N.'::bytea, 1);
  RETURN NEXT format('under a tombstone: %s, raw %s', mc_cached('lease:x', 'SELECT ''fresh'''),
                     (SELECT value FROM mc_get_raw('lease:x')));
  -- another's lease and lease_wait 0: the query's value at once, not filled
  PERFORM set_config('pylibmc_pg.lease_wait', '0', true);
  t2 := mc_lease('lease:n');
  RETURN NEXT format('under a lease: %s, still leased %s', mc_cached('lease:n', 'SELECT ''mine'''),
                     (SELECT flags = 1 FROM mc_get_raw('lease:n')));
  RETURN NEXT format('its filler: %s %s', mc_fill('lease:n', 'theirs', t2), mc_get('lease:n'));
  PERFORM set_config('pylibmc_pg.lease_wait', '500', true);
END $$;

SELECT mc_flush_all();
SELECT * FROM lease_checks();
SET pylibmc_pg.binary_protocol = on;
SELECT mc_flush_all();
SELECT * FROM lease_checks();
RESET pylibmc_pg.binary_protocol;

-- a transaction that has written never fills: its reads may be its own
-- uncommitted rows.  The uncommitted-row case, first with mc_add:
CREATE FUNCTION get_user_add(uid int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE v text;
BEGIN
  v := mc_get('lease:user:' || uid);
  IF v IS NULL THEN
    SELECT name INTO v FROM lease_users WHERE id = uid;
    PERFORM mc_add('lease:user:' || uid, v);
  END IF;
  RETURN v;
END $$;
CREATE FUNCTION get_user_lease(uid int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE v text; lease bigint;
BEGIN
  v := mc_get('lease:user:' || uid);
  IF v IS NULL THEN
    lease := mc_lease('lease:user:' || uid);
    SELECT name INTO v FROM lease_users WHERE id = uid;
    IF lease IS NOT NULL THEN
      PERFORM mc_fill('lease:user:' || uid, v, lease);
    END IF;
  END IF;
  RETURN v;
END $$;
SELECT mc_delete('lease:user:1');
BEGIN;
UPDATE lease_users SET name = 'draft' WHERE id = 1;
SELECT get_user_add(1);
ROLLBACK;
SELECT mc_get('lease:user:1') AS cached_by_mc_add;   -- a row that never existed
SELECT mc_delete('lease:user:1');
BEGIN;
UPDATE lease_users SET name = 'draft' WHERE id = 1;
SELECT get_user_lease(1);
ROLLBACK;
SELECT mc_get('lease:user:1') AS cached_by_lease;
BEGIN;
UPDATE lease_users SET name = 'draft' WHERE id = 1;
SELECT mc_cached('lease:user:1', 'SELECT name FROM lease_users WHERE id = $1', ARRAY['1']);
ROLLBACK;
SELECT mc_get('lease:user:1') AS cached_by_mc_cached;
-- a lease taken before the write: the fill is refused
BEGIN;
SELECT mc_lease('lease:user:1') AS lease \gset
UPDATE lease_users SET name = 'draft' WHERE id = 1;
SELECT mc_fill('lease:user:1', 'draft', :lease);
ROLLBACK;
SELECT mc_get('lease:user:1') AS after_refused_fill;
-- the snapshot may predate the lease
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT mc_lease('lease:user:2') IS NULL AS no_claim;
SELECT mc_cached('lease:user:2', 'SELECT name FROM lease_users WHERE id = 2');
COMMIT;
SELECT mc_get('lease:user:2') AS cached_under_repeatable_read;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT mc_lease('lease:user:2') IS NULL AS no_claim;
COMMIT;
-- a query that writes is not filled either
CREATE TABLE lease_log (n int);
SELECT mc_cached('lease:user:3', 'WITH w AS (INSERT INTO lease_log VALUES (1) RETURNING n) SELECT name FROM lease_users, w WHERE id = 3');
SELECT mc_get('lease:user:3') AS cached_after_writing_query;

-- the counters: the refusals apart, the broken leases as fill misses
SELECT operation, sum(calls) AS calls, sum(hits) AS hits, sum(misses) AS misses, sum(errors) AS errors
FROM mc_client_stats()
WHERE operation IN ('lease', 'fill', 'fill_refused_written', 'fill_refused_isolation')
GROUP BY operation ORDER BY operation;

-- bad input
SELECT mc_lease('lease:e', 0);
SELECT mc_fill('lease:e', 'v', 0);
SELECT mc_fill('lease:e', 'v', 5, -1);
SELECT mc_cached('lease:e', 'SELECT 1, 2');
SELECT mc_cached('lease:e', 'SELECT g FROM generate_series(1, 3) g');
SELECT mc_cached('lease:e', 'SELECT name FROM lease_users WHERE id = $1');
SELECT mc_cached('lease:e2', 'SELECT $1', ARRAY['a']);   -- $1 is text
SELECT mc_cached('lease:e', 'SELECT 1', '{}');   -- params as an untyped literal: say text[]
SELECT mc_cached('lease:e', 'DELETE FROM lease_log');
SELECT mc_cached('lease:e', 'SELECT id FROM lease_users WHERE id = $1', ARRAY['x']);
SELECT mc_cached('lease:e', 'SELECT 1', ARRAY[ARRAY['a']]);
SELECT mc_cached('lease:e', NULL::point, 'SELECT point(1, 2)');
SELECT mc_cached(NULL, 'SELECT 1') IS NULL AS null_key;
SELECT mc_get('lease:e') IS NULL AS nothing_cached;
-- a failed query gives its lease back: the next call does not wait for it
SELECT mc_get_raw('lease:e') AS no_lease_left;
SELECT mc_cached('lease:e', 'SELECT 1/0');
SELECT mc_lease('lease:e') IS NOT NULL AS claimable_again;
-- refused outside 0 .. 60 s (the message's unit wording differs by version)
DO $$
DECLARE v text;
BEGIN
  FOREACH v IN ARRAY ARRAY['-1', '61s'] LOOP
    BEGIN
      PERFORM set_config('pylibmc_pg.lease_wait', v, false);
      RAISE NOTICE '% accepted', v;
    EXCEPTION WHEN invalid_parameter_value THEN
      RAISE NOTICE '% refused (%)', v, SQLSTATE;
    END;
  END LOOP;
END $$;
SET pylibmc_pg.lease_wait = '2s';
SHOW pylibmc_pg.lease_wait;
RESET pylibmc_pg.lease_wait;

DROP TABLE lease_users, lease_log;
DROP FUNCTION lease_checks(), get_user_add(int), get_user_lease(int);
SELECT mc_flush_all();
