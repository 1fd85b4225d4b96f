-- tools/lib/demo.sql: the psql session ./tools/demo.sh runs (psql -X -e, so
-- each query is echoed before its result). The database "demo" has the
-- extension; pylibmc_pg.servers points at one memcached.

\echo
\echo '== A table the application reads often'
CREATE TABLE product (
    id    integer PRIMARY KEY,
    name  text NOT NULL,
    price numeric(8, 2) NOT NULL
);
INSERT INTO product VALUES (1, 'teapot', 24.50), (2, 'kettle', 39.00), (3, 'mug', 6.25);

\echo
\echo '== Cache-aside read: ask memcached first (a miss is NULL) ...'
SELECT mc_get('product:1') AS cached;

\echo
\echo '== ... fill the cache from the table (ttl 300 s) ...'
SELECT mc_set('product:1', row_to_json(p)::text, 300) AS stored
FROM product AS p
WHERE p.id = 1;

\echo
\echo '== ... and the next read is a hit'
SELECT mc_get('product:1') AS cached;
SELECT mc_get('product:1')::jsonb ->> 'price' AS price_from_cache;

\echo
\echo '== A write: update the row, then write the new version through to the cache'
UPDATE product SET price = 22.00 WHERE id = 1;
SELECT mc_set('product:1', row_to_json(p)::text) AS stored
FROM product AS p
WHERE p.id = 1;
SELECT mc_get('product:1') AS cached;

\echo
\echo '== Several keys in one round trip (product:4 does not exist: no row)'
SELECT mc_set('product:' || p.id, row_to_json(p)::text) AS stored
FROM product AS p
WHERE p.id IN (2, 3);
SELECT key, value
FROM mc_get_multi(ARRAY['1', '2', '3', '4'], key_prefix => 'product:')
ORDER BY key;

\echo
\echo '== Delete a key: true when it existed, then it is a miss'
SELECT mc_delete('product:3') AS deleted;
SELECT mc_get('product:3') AS cached;

\echo
\echo '== Invalidation: a trigger queues product:{id} for deletion at commit'
CREATE TRIGGER product_cache
    AFTER INSERT OR UPDATE OR DELETE ON product
    FOR EACH ROW EXECUTE FUNCTION mc_invalidate('product:{id}');
SELECT mc_get('product:2') AS cached_before;

\echo
\echo '== An UPDATE that rolls back leaves the cached row alone ...'
BEGIN;
UPDATE product SET price = 99.00 WHERE id = 2;
SELECT mc_get('product:2') AS cached_inside_the_transaction;
ROLLBACK;
SELECT mc_get('product:2') AS cached_after_rollback;

\echo
\echo '== ... one that commits empties it: the next read misses (and would refill from the table)'
BEGIN;
UPDATE product SET price = 35.00 WHERE id = 2;
SELECT mc_get('product:2') AS cached_before_commit;
COMMIT;
SELECT mc_get('product:2') AS cached_after_commit;

\echo
\echo '== What the server reports'
SELECT server, name, value
FROM mc_stats()
WHERE name IN ('version', 'curr_items', 'cmd_get', 'get_hits', 'get_misses', 'cmd_set')
ORDER BY server, name;

\echo
\echo '== What this backend did, per server and operation (mc_client_stats)'
SELECT server, operation, calls, hits, misses, errors
FROM mc_client_stats()
ORDER BY server, operation;
