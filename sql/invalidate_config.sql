--
-- A queued key is deleted exactly as it was named when queued (issue 14.1):
-- under that namespace, on those servers, whatever the settings are at
-- COMMIT; one transaction may span several configurations.  Keys start
-- with "invc:".
--
SELECT current_setting('pylibmc_test.tcp') AS tcp,
       split_part(current_setting('pylibmc_test.multi'), ',', 1) AS other,
       current_setting('pylibmc_test.down') AS down \gset
SET pylibmc_pg.servers = :'tcp';
\set VERBOSITY terse

-- which of these keys each server still has
CREATE FUNCTION invc_on(servers text, VARIADIC keys text[]) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text;
BEGIN
  PERFORM set_config('pylibmc_pg.servers', servers, true);
  SELECT coalesce(string_agg(key || '=' || value, ' ' ORDER BY key), '(none)') INTO r FROM mc_get_multi(keys);
  RETURN r;
END $$;

-- the issue's example: a function that queues under namespace B:
SELECT mc_set('invc:k', 'plain'), mc_set('B:invc:k', 'tenantB');
CREATE FUNCTION invc_b(key text) RETURNS void LANGUAGE sql
  SET pylibmc_pg.namespace = 'B:' AS $$ SELECT mc_delete_on_commit(key) $$;
BEGIN;
SELECT invc_b('invc:k');
COMMIT;
SELECT mc_get('invc:k') AS plain_key, mc_get('B:invc:k') AS tenant_key;

-- SET LOCAL namespace after queueing changes nothing for the queued key
SELECT mc_set('invc:k2', 'plain'), mc_set('B:invc:k2', 'tenantB');
BEGIN;
SELECT mc_delete_on_commit('invc:k2');
SET LOCAL pylibmc_pg.namespace = 'B:';
COMMIT;
SELECT mc_get('invc:k2') AS plain_key, mc_get('B:invc:k2') AS tenant_key;

-- SET LOCAL servers after queueing: the delete goes to the servers in force
-- when the key was queued, and the other server keeps its copy
SELECT invc_on(:'tcp', 'invc:s') AS tcp_before, invc_on(:'other', 'invc:s') AS other_before;
SET pylibmc_pg.servers = :'other';
SELECT mc_set('invc:s', 'on other');
SET pylibmc_pg.servers = :'tcp';
SELECT mc_set('invc:s', 'on tcp');
BEGIN;
SET LOCAL pylibmc_pg.servers = :'other';
SELECT mc_delete_on_commit('invc:s');
SET LOCAL pylibmc_pg.servers = :'tcp';
COMMIT;
SELECT invc_on(:'tcp', 'invc:s') AS tcp_after, invc_on(:'other', 'invc:s') AS other_after;

-- one transaction, three configurations (and the same key under two of
-- them), each part to its own servers; savepoints keep the configuration
SET pylibmc_pg.servers = :'other';
SELECT mc_set('invc:m1', 'x'), mc_set('invc:same', 'x');
SET pylibmc_pg.servers = :'tcp';
SELECT mc_set('invc:m2', 'x'), mc_set('invc:same', 'x'),
       mc_set('B:invc:m3', 'x'), mc_set('invc:m3', 'x'), mc_set('invc:keep', 'x');
BEGIN;
SELECT mc_delete_on_commit('invc:m2'), mc_delete_on_commit('invc:same');
SAVEPOINT s1;
SET LOCAL pylibmc_pg.servers = :'other';
SELECT mc_delete_on_commit('invc:m1'), mc_delete_on_commit('invc:same');
RELEASE SAVEPOINT s1;
SET LOCAL pylibmc_pg.servers = :'tcp';
SET LOCAL pylibmc_pg.namespace = 'B:';
SELECT mc_delete_on_commit('invc:m3');
SAVEPOINT s2;
SET LOCAL pylibmc_pg.namespace = '';
SELECT mc_delete_on_commit('invc:keep');
ROLLBACK TO SAVEPOINT s2;
COMMIT;
SELECT invc_on(:'tcp', 'invc:m1', 'invc:m2', 'invc:same', 'invc:m3', 'B:invc:m3', 'invc:keep') AS tcp_after,
       invc_on(:'other', 'invc:m1', 'invc:same') AS other_after;

-- a part whose servers are down is a WARNING that does not stop the others
SELECT mc_set('invc:ok', 'x');
BEGIN;
SET LOCAL pylibmc_pg.servers = :'down';
SELECT mc_delete_on_commit('invc:lost');
SET LOCAL pylibmc_pg.servers = :'tcp';
SELECT mc_delete_on_commit('invc:ok');
COMMIT;
SELECT invc_on(:'tcp', 'invc:ok') AS tcp_after;

-- many configurations in one backend (more than the cache keeps) still work
SELECT count(*) FILTER (WHERE mc_set('ns' || g || ':invc:many', 'x')) AS stored FROM generate_series(1, 8) g;
BEGIN;
SELECT count(*) FROM (SELECT set_config('pylibmc_pg.namespace', 'ns' || g || ':', true), mc_delete_on_commit('invc:many')
                      FROM generate_series(1, 8) g) q;
COMMIT;
SELECT count(*) AS left FROM mc_get_multi(array(SELECT 'ns' || g || ':invc:many' FROM generate_series(1, 8) g));

DROP FUNCTION invc_on(text, text[]), invc_b(text);
