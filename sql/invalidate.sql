--
-- mc_delete_on_commit() and the mc_invalidate() trigger: deletes that are
-- sent when, and only if, the transaction commits.  Keys start with "inv:".
--
SELECT coalesce(current_setting('pylibmc_test.tcp', true), '127.0.0.1:11211') AS tcp,
       coalesce(current_setting('pylibmc_test.down', true), '127.0.0.1:1') AS down,
       current_setting('pylibmc_test.multi') AS multi,
       current_setting('pylibmc_test.udp') AS udp,
       substr(current_setting('pylibmc_test.udp'), 5) AS udp_as_tcp \gset
SET pylibmc_pg.servers = :'tcp';

-- how many deletes this backend has sent at commit so far
CREATE FUNCTION inv_sent() RETURNS bigint LANGUAGE sql AS
$$ SELECT coalesce(sum(calls), 0)::bigint FROM mc_client_stats() WHERE operation = 'delete_on_commit' $$;

-- ... and how many of those found no key (only acknowledged deletes can tell)
CREATE FUNCTION inv_missed() RETURNS bigint LANGUAGE sql AS
$$ SELECT coalesce(sum(misses), 0)::bigint FROM mc_client_stats() WHERE operation = 'delete_on_commit' $$;

-- the behaviors the batch changes for a while are back to normal
CREATE FUNCTION inv_behaviors_restored() RETURNS boolean LANGUAGE sql AS
$$ SELECT mc_behaviors()->>'_noreply' = '0' AND mc_behaviors()->>'buffer_requests' = '0' $$;

-- which of these keys are still cached
CREATE FUNCTION inv_present(VARIADIC keys text[]) RETURNS text LANGUAGE sql AS
$$ SELECT coalesce(string_agg(key, ' ' ORDER BY key), '(none)') FROM mc_get_multi(keys) $$;

CREATE FUNCTION inv_fill(VARIADIC keys text[]) RETURNS void LANGUAGE plpgsql AS
$$ DECLARE k text; BEGIN FOREACH k IN ARRAY keys LOOP PERFORM mc_set(k, 'cached ' || k); END LOOP; END $$;

--
-- commit sends, rollback does not
--
SELECT inv_fill('inv:a', 'inv:b', 'inv:c', 'inv:d');
BEGIN;
SELECT mc_delete_on_commit('inv:a');
SELECT inv_present('inv:a');   -- still there inside the transaction
COMMIT;
SELECT inv_present('inv:a', 'inv:b');

BEGIN;
SELECT mc_delete_on_commit('inv:b');
ROLLBACK;
SELECT inv_present('inv:b');

-- an error aborts the transaction: nothing is sent
BEGIN;
SELECT mc_delete_on_commit('inv:b');
SELECT 1 / 0;
COMMIT;
SELECT inv_present('inv:b');

-- autocommit: sent at the end of the statement's own transaction
SELECT mc_delete_on_commit('inv:b');
SELECT inv_present('inv:b');

--
-- savepoints
--
SELECT inv_fill('inv:a', 'inv:b', 'inv:c', 'inv:d', 'inv:e');
-- a rolled-back savepoint drops exactly the keys queued inside it
BEGIN;
SELECT mc_delete_on_commit('inv:a');
SAVEPOINT s1;
SELECT mc_delete_on_commit('inv:b');
SELECT mc_delete_on_commit('inv:a');   -- already queued outside: stays queued
ROLLBACK TO SAVEPOINT s1;
SELECT mc_delete_on_commit('inv:c');
COMMIT;
SELECT inv_present('inv:a', 'inv:b', 'inv:c', 'inv:d', 'inv:e');

-- nested savepoints: the inner rollback drops only the inner keys
SELECT inv_fill('inv:a', 'inv:b', 'inv:c', 'inv:d', 'inv:e');
BEGIN;
SAVEPOINT s1;
SELECT mc_delete_on_commit('inv:a');
SAVEPOINT s2;
SELECT mc_delete_on_commit('inv:b');
SAVEPOINT s3;
SELECT mc_delete_on_commit('inv:c');
ROLLBACK TO SAVEPOINT s2;     -- drops b and c
SELECT mc_delete_on_commit('inv:d');
RELEASE SAVEPOINT s1;
COMMIT;
SELECT inv_present('inv:a', 'inv:b', 'inv:c', 'inv:d', 'inv:e');

-- RELEASE into a savepoint that is later rolled back: its keys go too
SELECT inv_fill('inv:a', 'inv:b', 'inv:c', 'inv:d', 'inv:e');
BEGIN;
SELECT mc_delete_on_commit('inv:a');
SAVEPOINT outer_sp;
SELECT mc_delete_on_commit('inv:b');
SAVEPOINT inner_sp;
SELECT mc_delete_on_commit('inv:c');
RELEASE SAVEPOINT inner_sp;
ROLLBACK TO SAVEPOINT outer_sp;
SELECT mc_delete_on_commit('inv:e');
COMMIT;
SELECT inv_present('inv:a', 'inv:b', 'inv:c', 'inv:d', 'inv:e');

-- released levels merge, in both directions (a big inner level into a
-- small outer one and the other way round), and the keys all go
SELECT inv_fill('inv:a', 'inv:b', 'inv:c', 'inv:d', 'inv:e');
BEGIN;
SELECT mc_delete_on_commit('inv:a');
SAVEPOINT s1;
SELECT mc_delete_on_commit('inv:b'), mc_delete_on_commit('inv:c'), mc_delete_on_commit('inv:d');
RELEASE SAVEPOINT s1;
SAVEPOINT s2;
SELECT mc_delete_on_commit('inv:a');
SAVEPOINT s3;
SELECT mc_delete_on_commit('inv:e');
RELEASE SAVEPOINT s3;
RELEASE SAVEPOINT s2;
COMMIT;
SELECT inv_present('inv:a', 'inv:b', 'inv:c', 'inv:d', 'inv:e');

-- PL/pgSQL exception blocks are savepoints too
SELECT inv_fill('inv:a', 'inv:b');
DO $$
BEGIN
  PERFORM mc_delete_on_commit('inv:a');
  BEGIN
    PERFORM mc_delete_on_commit('inv:b');
    RAISE EXCEPTION 'undo b';
  EXCEPTION WHEN OTHERS THEN
    NULL;
  END;
END $$;
SELECT inv_present('inv:a', 'inv:b');

--
-- duplicates are sent once
--
SELECT inv_fill('inv:a', 'inv:b');
SELECT inv_sent() AS before \gset
BEGIN;
SELECT mc_delete_on_commit('inv:a') FROM generate_series(1, 5);
SAVEPOINT s1;
SELECT mc_delete_on_commit('inv:a'), mc_delete_on_commit('inv:b');
RELEASE SAVEPOINT s1;
SELECT mc_delete_on_commit('inv:b');
COMMIT;
SELECT inv_sent() - :before AS deletes_sent;
SELECT inv_present('inv:a', 'inv:b');

-- a delete of a key that is not cached is harmless, and the next reply on
-- the connection is the right one (quiet deletes leave nothing behind)
SELECT mc_set('inv:probe', 'right value');
BEGIN;
SELECT count(mc_delete_on_commit('inv:missing-' || g)) FROM generate_series(1, 20) g;
COMMIT;
SELECT mc_get('inv:probe');

--
-- keys are checked when queued
--
SELECT mc_delete_on_commit('');
SELECT mc_delete_on_commit('has space');
SELECT mc_delete_on_commit(repeat('k', 251));
SELECT mc_delete_on_commit(NULL);   -- STRICT: nothing queued

--
-- PREPARE TRANSACTION is refused while keys are queued
--
SELECT inv_fill('inv:a');
BEGIN;
SELECT mc_delete_on_commit('inv:a');
PREPARE TRANSACTION 'inv_gid';
SELECT inv_present('inv:a');
SELECT count(*) FROM pg_prepared_xacts WHERE gid = 'inv_gid';
-- without queued keys it is fine (the queue of a rolled-back savepoint is gone)
BEGIN;
SAVEPOINT s1;
SELECT mc_delete_on_commit('inv:a');
ROLLBACK TO SAVEPOINT s1;
PREPARE TRANSACTION 'inv_gid';
ROLLBACK PREPARED 'inv_gid';
SELECT inv_present('inv:a');

--
-- the mc_invalidate() trigger
--
CREATE TABLE inv_users (id int PRIMARY KEY, email text, name text);
CREATE TRIGGER inv_users_cache AFTER INSERT OR UPDATE OR DELETE ON inv_users
  FOR EACH ROW EXECUTE FUNCTION mc_invalidate('inv:user:{id}', 'inv:user_email:{email}');

-- INSERT uses NEW
SELECT inv_fill('inv:user:1', 'inv:user_email:ann@example.com', 'inv:user:2');
INSERT INTO inv_users VALUES (1, 'ann@example.com', 'Ann');
SELECT inv_present('inv:user:1', 'inv:user_email:ann@example.com', 'inv:user:2');

-- UPDATE that changes the email: the old and the new key
INSERT INTO inv_users VALUES (2, 'bob@example.com', 'Bob');
SELECT inv_fill('inv:user:1', 'inv:user_email:ann@example.com', 'inv:user_email:ann@example.org',
                'inv:user:2', 'inv:user_email:bob@example.com');
UPDATE inv_users SET email = 'ann@example.org' WHERE id = 1;
SELECT inv_present('inv:user:1', 'inv:user_email:ann@example.com', 'inv:user_email:ann@example.org',
                   'inv:user:2', 'inv:user_email:bob@example.com');

-- UPDATE that changes the id: old and new id
SELECT inv_fill('inv:user:2', 'inv:user:20');
UPDATE inv_users SET id = 20 WHERE id = 2;
SELECT inv_present('inv:user:2', 'inv:user:20');

-- DELETE uses OLD
SELECT inv_fill('inv:user:20', 'inv:user_email:bob@example.com', 'inv:user:1');
DELETE FROM inv_users WHERE id = 20;
SELECT inv_present('inv:user:20', 'inv:user_email:bob@example.com', 'inv:user:1');

-- the trigger's keys follow the transaction too
SELECT inv_fill('inv:user:1');
BEGIN;
UPDATE inv_users SET name = 'Anne' WHERE id = 1;
ROLLBACK;
SELECT inv_present('inv:user:1');
BEGIN;
SAVEPOINT s1;
UPDATE inv_users SET name = 'Anne' WHERE id = 1;
ROLLBACK TO SAVEPOINT s1;
COMMIT;
SELECT inv_present('inv:user:1');

-- a NULL column: the key that needs it is skipped, the others are queued
SELECT inv_fill('inv:user:3', 'inv:user_email:', 'inv:user_email:carl@example.com');
SELECT inv_sent() AS before \gset
INSERT INTO inv_users VALUES (3, NULL, 'Carl');
SELECT inv_sent() - :before AS deletes_sent;
SELECT inv_present('inv:user:3', 'inv:user_email:');
-- NULL -> value: only the new email's key
SELECT inv_fill('inv:user:3', 'inv:user_email:carl@example.com');
UPDATE inv_users SET email = 'carl@example.com' WHERE id = 3;
SELECT inv_present('inv:user:3', 'inv:user_email:carl@example.com');

-- a value that makes an invalid key is an ERROR, as any bad key
INSERT INTO inv_users VALUES (4, 'has space@example.com', 'Dan');
INSERT INTO inv_users VALUES (4, repeat('x', 300), 'Dan');
SELECT count(*) FROM inv_users WHERE id = 4;

-- column values go through the type's output function
CREATE TABLE inv_typed (d date, n numeric, b boolean, a int[]);
CREATE TRIGGER inv_typed_cache AFTER INSERT ON inv_typed
  FOR EACH ROW EXECUTE FUNCTION mc_invalidate('inv:typed:{d}:{n}:{b}', 'inv:arr:{a}');
SET DateStyle = 'ISO, YMD';
SELECT inv_fill('inv:typed:2024-02-29:1.50:t', 'inv:arr:{1,2}');
INSERT INTO inv_typed (d, n, b, a) VALUES ('2024-02-29', 1.50, true, '{1,2}');
SELECT inv_present('inv:typed:2024-02-29:1.50:t', 'inv:arr:{1,2}');
RESET DateStyle;

-- literal braces: {{ and }}
CREATE TABLE inv_braces (id int);
CREATE TRIGGER inv_braces_cache AFTER INSERT ON inv_braces
  FOR EACH ROW EXECUTE FUNCTION mc_invalidate('inv:{{literal}}:{id}', '{{{id}}}');
SELECT inv_fill('inv:{literal}:7', '{7}');
INSERT INTO inv_braces VALUES (7);
SELECT inv_present('inv:{literal}:7', '{7}');

-- a template naming a column the table lacks: ERROR 42703 at the first firing
\set VERBOSITY default
CREATE TABLE inv_missing (id int);
CREATE TRIGGER inv_missing_cache AFTER INSERT ON inv_missing
  FOR EACH ROW EXECUTE FUNCTION mc_invalidate('inv:m:{id}', 'inv:m:{ID}');
INSERT INTO inv_missing VALUES (1);
SELECT count(*) FROM inv_missing;
DROP TRIGGER inv_missing_cache ON inv_missing;

-- malformed templates
CREATE TRIGGER inv_bad1 AFTER INSERT ON inv_missing
  FOR EACH ROW EXECUTE FUNCTION mc_invalidate('inv:{id');
INSERT INTO inv_missing VALUES (1);
DROP TRIGGER inv_bad1 ON inv_missing;
CREATE TRIGGER inv_bad2 AFTER INSERT ON inv_missing
  FOR EACH ROW EXECUTE FUNCTION mc_invalidate('inv:}');
INSERT INTO inv_missing VALUES (1);
DROP TRIGGER inv_bad2 ON inv_missing;
CREATE TRIGGER inv_bad3 AFTER INSERT ON inv_missing
  FOR EACH ROW EXECUTE FUNCTION mc_invalidate('inv:{}');
INSERT INTO inv_missing VALUES (1);
DROP TRIGGER inv_bad3 ON inv_missing;
CREATE TRIGGER inv_bad4 AFTER INSERT ON inv_missing
  FOR EACH ROW EXECUTE FUNCTION mc_invalidate();
INSERT INTO inv_missing VALUES (1);
DROP TRIGGER inv_bad4 ON inv_missing;
-- statement-level firing, and a direct call
CREATE TRIGGER inv_bad5 AFTER INSERT ON inv_missing
  FOR EACH STATEMENT EXECUTE FUNCTION mc_invalidate('inv:m');
INSERT INTO inv_missing VALUES (1);
DROP TRIGGER inv_bad5 ON inv_missing;
SELECT mc_invalidate();
\set VERBOSITY terse

-- a BEFORE trigger returns the row unchanged
CREATE TABLE inv_before (id int, v text);
CREATE TRIGGER inv_before_cache BEFORE INSERT OR UPDATE OR DELETE ON inv_before
  FOR EACH ROW EXECUTE FUNCTION mc_invalidate('inv:before:{id}');
SELECT inv_fill('inv:before:1');
INSERT INTO inv_before VALUES (1, 'one');
UPDATE inv_before SET v = 'uno' RETURNING *;
DELETE FROM inv_before RETURNING *;
SELECT inv_present('inv:before:1');

--
-- COPY into a table with the trigger
--
SELECT inv_fill('inv:user:11', 'inv:user:12', 'inv:user:13', 'inv:user_email:k@example.com', 'inv:user:1');
COPY inv_users (id, email, name) FROM STDIN;
11	k@example.com	Kim
12	\N	Lee
13	m@example.com	Max
\.
SELECT inv_present('inv:user:11', 'inv:user:12', 'inv:user:13', 'inv:user_email:k@example.com', 'inv:user:1');

--
-- a trigger on a partitioned table, with a partition whose columns sit at
-- other positions (a dropped column, a different order)
--
CREATE TABLE inv_parted (region text, id int, sku text) PARTITION BY LIST (region);
CREATE TABLE inv_parted_eu PARTITION OF inv_parted FOR VALUES IN ('eu');
CREATE TABLE inv_parted_us (junk int, sku text, id int, region text);
ALTER TABLE inv_parted_us DROP COLUMN junk;
ALTER TABLE inv_parted ATTACH PARTITION inv_parted_us FOR VALUES IN ('us');
CREATE TRIGGER inv_parted_cache AFTER INSERT OR UPDATE OR DELETE ON inv_parted
  FOR EACH ROW EXECUTE FUNCTION mc_invalidate('inv:item:{region}:{id}', 'inv:sku:{sku}');
SELECT inv_fill('inv:item:eu:1', 'inv:item:us:2', 'inv:sku:A', 'inv:sku:B', 'inv:item:us:1');
INSERT INTO inv_parted VALUES ('eu', 1, 'A'), ('us', 2, 'B');
SELECT inv_present('inv:item:eu:1', 'inv:item:us:2', 'inv:sku:A', 'inv:sku:B', 'inv:item:us:1');
-- a row moving between partitions: OLD in one, NEW in the other
SELECT inv_fill('inv:item:eu:1', 'inv:item:us:1', 'inv:sku:A', 'inv:item:us:2');
UPDATE inv_parted SET region = 'us' WHERE id = 1;
SELECT inv_present('inv:item:eu:1', 'inv:item:us:1', 'inv:sku:A', 'inv:item:us:2');
SELECT tableoid::regclass, * FROM inv_parted ORDER BY id;

--
-- other transports and settings
--
-- binary protocol (quiet deletes, as in the text protocol: the server's
-- "not found" for the missing key is read and skipped, so no miss is counted)
SELECT set_config('pylibmc_pg.binary_protocol', 'on', false);  -- (binary is a keyword: no SET)
SELECT inv_fill('inv:bin:1', 'inv:bin:2', 'inv:bin:3');
SELECT inv_missed() AS before \gset
BEGIN;
SELECT mc_delete_on_commit('inv:bin:1'), mc_delete_on_commit('inv:bin:2'), mc_delete_on_commit('inv:bin:missing');
COMMIT;
SELECT inv_present('inv:bin:1', 'inv:bin:2', 'inv:bin:3');
SELECT inv_missed() - :before AS misses_counted;
SELECT mc_get('inv:bin:3');
SELECT set_config('pylibmc_pg.binary_protocol', 'off', false);

-- a namespace applies to the queued keys as to every other call
SET pylibmc_pg.namespace = 'invns:';
SELECT inv_fill('inv:ns');
SELECT mc_delete_on_commit('inv:ns');
SELECT inv_present('inv:ns');
RESET pylibmc_pg.namespace;

-- several servers: every server gets its keys (and its barrier)
SET pylibmc_pg.servers = :'multi';
SELECT inv_fill(VARIADIC array(SELECT 'inv:multi:' || g FROM generate_series(1, 60) g));
SELECT count(*) FROM mc_get_multi(array(SELECT 'inv:multi:' || g FROM generate_series(1, 60) g));
BEGIN;
SELECT count(mc_delete_on_commit('inv:multi:' || g)) FROM generate_series(1, 50) g;
COMMIT;
SELECT inv_present(VARIADIC array(SELECT 'inv:multi:' || g FROM generate_series(1, 60) g));
-- weighted ketama, every weight 1: the batch client routes each key where
-- the writes went
SET pylibmc_pg.behaviors = 'ketama=true, ketama_weighted=true';
SELECT count(*) FILTER (WHERE mc_set('inv:kw:' || g, g)) AS stored FROM generate_series(1, 300) g;
BEGIN;
SELECT count(mc_delete_on_commit('inv:kw:' || g)) FROM generate_series(1, 300) g;
COMMIT;
SELECT count(*) AS left_after_commit FROM mc_get_multi(array(SELECT 'inv:kw:' || g FROM generate_series(1, 300) g));
RESET pylibmc_pg.behaviors;

-- UDP (deletes are sent without replies); read back over TCP on the same port
SET pylibmc_pg.servers = :'udp_as_tcp';
SELECT inv_fill('inv:udp:1', 'inv:udp:2');
SET pylibmc_pg.servers = :'udp';
BEGIN;
SELECT mc_delete_on_commit('inv:udp:1');
COMMIT;
SELECT pg_sleep(0.2);
SET pylibmc_pg.servers = :'udp_as_tcp';
SELECT inv_present('inv:udp:1', 'inv:udp:2');
SET pylibmc_pg.servers = :'tcp';

--
-- a server down at commit: a WARNING, and the commit stands
--
INSERT INTO inv_users VALUES (30, 'down@example.com', 'Dee');
SELECT inv_fill('inv:user:30', 'inv:user_email:down@example.com');
BEGIN;
SET pylibmc_pg.servers = :'down';
UPDATE inv_users SET name = 'Dee 2' WHERE id = 30;
COMMIT;
SET pylibmc_pg.servers = :'tcp';
SELECT inv_behaviors_restored();
SELECT name FROM inv_users WHERE id = 30;
SELECT inv_present('inv:user:30', 'inv:user_email:down@example.com');
-- with on_error = 'ignore' it is silent
SET pylibmc_pg.on_error = 'ignore';
BEGIN;
SET pylibmc_pg.servers = :'down';
SELECT mc_delete_on_commit('inv:user:30');
COMMIT;
RESET pylibmc_pg.on_error;
-- a setting problem (no servers) is an ERROR when the key is queued, as
-- for any other call: the configuration is taken then
BEGIN;
SET pylibmc_pg.servers = '';
SELECT mc_delete_on_commit('inv:user:30');
COMMIT;
SET pylibmc_pg.servers = :'tcp';
-- the connection works afterwards, and the queue is empty
SELECT inv_present('inv:user:30');
SELECT inv_sent() AS before \gset
BEGIN;
COMMIT;
SELECT inv_sent() - :before AS deletes_sent;

--
-- scale: an UPDATE of 100,000 rows queues and sends 200,000 deletes
--
-- cache and count the 100,000 keys inv:big:1..100000, 5,000 per call (one
-- multi-get of 100,000 keys can outlast the 1 s poll timeout on a busy host)
CREATE FUNCTION inv_big_fill() RETURNS void LANGUAGE sql AS $$
  SELECT count(mc_set_multi(array(SELECT 'inv:big:' || g FROM generate_series(s, s + 4999) g),
                            array(SELECT 'v' || g FROM generate_series(s, s + 4999) g)))
  FROM generate_series(1, 100000, 5000) s $$;
CREATE FUNCTION inv_big_count() RETURNS bigint LANGUAGE sql AS $$
  SELECT sum((SELECT count(*) FROM mc_get_multi(array(SELECT 'inv:big:' || g FROM generate_series(s, s + 4999) g))))::bigint
  FROM generate_series(1, 100000, 5000) s $$;
CREATE TABLE inv_big (id int PRIMARY KEY, email text, n int);
INSERT INTO inv_big SELECT g, 'big' || g || '@example.com', 0 FROM generate_series(1, 100000) g;
CREATE TRIGGER inv_big_cache AFTER UPDATE ON inv_big
  FOR EACH ROW EXECUTE FUNCTION mc_invalidate('inv:big:{id}', 'inv:big_email:{email}');
SELECT inv_big_fill();
SELECT inv_big_count();
SELECT mc_set('inv:probe', 'right value');
SELECT clock_timestamp() AS t0, inv_sent() AS before \gset
UPDATE inv_big SET n = n + 1;
SELECT clock_timestamp() - :'t0'::timestamptz < interval '60 seconds' AS reasonable_time,
       inv_sent() - :before AS deletes_sent;
SELECT inv_big_count() AS still_cached;
SELECT mc_get('inv:probe');
SELECT inv_behaviors_restored();
-- in a transaction block: nothing before COMMIT, everything after
-- (duplicates are dropped within work_mem; past it the queue goes to a
-- temporary file and a key queued again may be sent again: memory.t)
SELECT inv_big_fill();
BEGIN;
SET LOCAL work_mem = '64MB';
UPDATE inv_big SET n = n + 1;
SAVEPOINT s1;
UPDATE inv_big SET n = n + 1 WHERE id <= 50000;   -- the same keys again: dropped as duplicates
RELEASE SAVEPOINT s1;
SELECT inv_big_count() AS cached_before_commit;
SELECT inv_sent() AS before \gset
COMMIT;
SELECT inv_sent() - :before AS deletes_sent;
SELECT inv_big_count() AS still_cached;

DROP TABLE inv_users, inv_typed, inv_braces, inv_missing, inv_before, inv_parted, inv_big;
DROP FUNCTION inv_sent(), inv_missed(), inv_behaviors_restored(), inv_present(text[]), inv_fill(text[]), inv_big_fill(), inv_big_count();
