--
-- mc_invalidate as a FOR EACH STATEMENT trigger reading the transition
-- tables (issue 14.2), and mc_invalidate_triggers() that creates the three
-- a table needs.  Same semantics as the row form.  Keys start with "invs:".
--
SELECT current_setting('pylibmc_test.tcp') AS tcp \gset
SET pylibmc_pg.servers = :'tcp';

CREATE FUNCTION invs_present(VARIADIC keys text[]) RETURNS text LANGUAGE sql AS
$$ SELECT coalesce(string_agg(key, ' ' ORDER BY key), '(none)') FROM mc_get_multi(keys) $$;
CREATE FUNCTION invs_fill(VARIADIC keys text[]) RETURNS void LANGUAGE sql AS
$$ SELECT count(mc_set(k, 'cached')) FROM unnest(keys) k $$;
CREATE FUNCTION invs_sent() RETURNS bigint LANGUAGE sql AS
$$ SELECT coalesce(sum(calls), 0)::bigint FROM mc_client_stats() WHERE operation = 'delete_on_commit' $$;

CREATE TABLE invs_users (id int PRIMARY KEY, email text, name text);
SELECT mc_invalidate_triggers('invs_users', 'invs:user:{id}', 'invs:user_email:{email}');
SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = 'invs_users'::regclass ORDER BY tgname;

-- INSERT uses the new rows
SELECT invs_fill('invs:user:1', 'invs:user_email:ann@example.com', 'invs:user:2', 'invs:user:9');
INSERT INTO invs_users VALUES (1, 'ann@example.com', 'Ann'), (2, 'bob@example.com', 'Bob');
SELECT invs_present('invs:user:1', 'invs:user_email:ann@example.com', 'invs:user:2', 'invs:user:9');

-- UPDATE: old and new keys where they differ, each once
SELECT invs_fill('invs:user:1', 'invs:user_email:ann@example.com', 'invs:user_email:ann@example.org',
                 'invs:user:2', 'invs:user_email:bob@example.com', 'invs:user:9');
SELECT invs_sent() AS before \gset
UPDATE invs_users SET email = replace(email, '.com', '.org') WHERE id = 1;
SELECT invs_sent() - :before AS deletes_sent;   -- user:1, old and new email
SELECT invs_present('invs:user:1', 'invs:user_email:ann@example.com', 'invs:user_email:ann@example.org',
                    'invs:user:2', 'invs:user_email:bob@example.com', 'invs:user:9');
-- an UPDATE of every row that leaves the key columns alone: one key per row and template
SELECT invs_sent() AS before \gset
UPDATE invs_users SET name = name || '!';
SELECT invs_sent() - :before AS deletes_sent;
-- the id changes: old and new id
SELECT invs_fill('invs:user:2', 'invs:user:20');
UPDATE invs_users SET id = 20 WHERE id = 2;
SELECT invs_present('invs:user:2', 'invs:user:20');

-- DELETE uses the old rows
SELECT invs_fill('invs:user:20', 'invs:user_email:bob@example.com', 'invs:user:1');
DELETE FROM invs_users WHERE id = 20;
SELECT invs_present('invs:user:20', 'invs:user_email:bob@example.com', 'invs:user:1');

-- a statement that changes no row sends nothing
SELECT invs_sent() AS before \gset
UPDATE invs_users SET name = 'x' WHERE id = 12345;
SELECT invs_sent() - :before AS deletes_sent;

-- NULL columns are skipped
SELECT invs_fill('invs:user:3', 'invs:user_email:');
INSERT INTO invs_users VALUES (3, NULL, 'Carl');
SELECT invs_present('invs:user:3', 'invs:user_email:');

-- the keys follow the transaction
SELECT invs_fill('invs:user:1');
BEGIN;
UPDATE invs_users SET name = 'Anne' WHERE id = 1;
SELECT invs_present('invs:user:1');
ROLLBACK;
SELECT invs_present('invs:user:1');

-- the same errors as the row form
INSERT INTO invs_users VALUES (4, 'has space@example.com', 'Dan');
SELECT count(*) FROM invs_users WHERE id = 4;
\set VERBOSITY default
CREATE TABLE invs_missing (id int);
SELECT mc_invalidate_triggers('invs_missing', 'invs:m:{ID}');
INSERT INTO invs_missing VALUES (1);
-- a statement trigger without the transition table it needs
CREATE TRIGGER invs_bare AFTER UPDATE ON invs_users
  FOR EACH STATEMENT EXECUTE FUNCTION mc_invalidate('invs:user:{id}');
UPDATE invs_users SET name = 'x' WHERE id = 1;
DROP TRIGGER invs_bare ON invs_users;
-- TRUNCATE has no rows to name
CREATE TRIGGER invs_trunc AFTER TRUNCATE ON invs_missing
  FOR EACH STATEMENT EXECUTE FUNCTION mc_invalidate('invs:m:{id}');
TRUNCATE invs_missing;
-- the helper's own checks
SELECT mc_invalidate_triggers('invs_users', VARIADIC '{}'::text[]);
SELECT mc_invalidate_triggers('invs_users', NULL);
SELECT mc_invalidate_triggers('invs_no_such_table', 'x');
\set VERBOSITY terse

-- calling it again replaces the templates
SELECT mc_invalidate_triggers('invs_users', 'invs:u2:{id}');
SELECT count(*) FROM pg_trigger WHERE tgrelid = 'invs_users'::regclass;
SELECT invs_fill('invs:user:1', 'invs:u2:1');
UPDATE invs_users SET name = 'Anna' WHERE id = 1;
SELECT invs_present('invs:user:1', 'invs:u2:1');

-- an UPDATE that sets no key column still has its new keys compared:
-- something else may change a key column, a BEFORE trigger (its change is
-- not in the statement's SET list) ...
CREATE TABLE invs_people (id int PRIMARY KEY, email text, name text);
INSERT INTO invs_people VALUES (4, 'Dan@Example.COM', 'Dan');
SELECT mc_invalidate_triggers('invs_people', 'invs:p:{id}', 'invs:p_email:{email}');
CREATE FUNCTION invs_lower_email() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN NEW.email := lower(NEW.email); RETURN NEW; END $$;
CREATE TRIGGER invs_people_lower BEFORE UPDATE ON invs_people
  FOR EACH ROW EXECUTE FUNCTION invs_lower_email();
SELECT invs_fill('invs:p:4', 'invs:p_email:Dan@Example.COM', 'invs:p_email:dan@example.com');
UPDATE invs_people SET name = 'Daniel' WHERE id = 4;
SELECT email FROM invs_people WHERE id = 4;
SELECT invs_present('invs:p:4', 'invs:p_email:Dan@Example.COM', 'invs:p_email:dan@example.com');
DROP TRIGGER invs_people_lower ON invs_people;
-- ... or a generated column that follows a column the UPDATE sets
CREATE TABLE invs_gen (id int PRIMARY KEY, n int, slug text GENERATED ALWAYS AS ('s' || n) STORED, other int);
INSERT INTO invs_gen VALUES (1, 1, DEFAULT, 0);
SELECT mc_invalidate_triggers('invs_gen', 'invs:gen:{slug}');
SELECT invs_fill('invs:gen:s1', 'invs:gen:s2');
SELECT invs_sent() AS before \gset
UPDATE invs_gen SET other = other + 1;
SELECT invs_sent() - :before AS deletes_sent;   -- the slug is the same: one key
SELECT invs_present('invs:gen:s1', 'invs:gen:s2');
SELECT invs_fill('invs:gen:s1');
UPDATE invs_gen SET n = 2;
SELECT invs_present('invs:gen:s1', 'invs:gen:s2');
-- two UPDATEs of one table in one query share its transition tables: the
-- keys of both go, whichever of them set a template column
INSERT INTO invs_people VALUES (5, 'eve@example.com', 'Eve'), (6, 'fay@example.com', 'Fay');
SELECT invs_fill('invs:p:5', 'invs:p_email:eve@example.com', 'invs:p_email:eve@example.org');
WITH other AS (UPDATE invs_people SET name = 'Fay!' WHERE id = 6)
UPDATE invs_people SET email = 'eve@example.org' WHERE id = 5;
SELECT invs_present('invs:p:5', 'invs:p_email:eve@example.com', 'invs:p_email:eve@example.org');
SELECT invs_fill('invs:p:5', 'invs:p_email:eve@example.com', 'invs:p_email:eve@example.org');
WITH other AS (UPDATE invs_people SET email = 'eve@example.com' WHERE id = 5 RETURNING 1)
UPDATE invs_people SET name = 'Fay!!' WHERE id = 6;
SELECT invs_present('invs:p:5', 'invs:p_email:eve@example.com', 'invs:p_email:eve@example.org');
-- a key column set to its own value: each template's key once
SELECT invs_fill('invs:p:4', 'invs:p_email:dan@example.com');
SELECT invs_sent() AS before \gset
UPDATE invs_people SET id = id WHERE id = 4;
SELECT invs_sent() - :before AS deletes_sent;
SELECT invs_present('invs:p:4', 'invs:p_email:dan@example.com');

-- a partitioned table: the triggers on the parent see every partition's rows
CREATE TABLE invs_parted (region text, id int, PRIMARY KEY (region, id)) PARTITION BY LIST (region);
CREATE TABLE invs_parted_eu PARTITION OF invs_parted FOR VALUES IN ('eu');
CREATE TABLE invs_parted_us (id int NOT NULL, region text NOT NULL);
ALTER TABLE invs_parted ATTACH PARTITION invs_parted_us FOR VALUES IN ('us');
SELECT mc_invalidate_triggers('invs_parted', 'invs:item:{region}:{id}');
INSERT INTO invs_parted VALUES ('eu', 5), ('us', 1), ('us', 2);
SELECT invs_fill('invs:item:eu:5', 'invs:item:us:5', 'invs:item:us:1', 'invs:item:us:2');
UPDATE invs_parted SET region = 'us' WHERE region = 'eu';   -- moves a row
SELECT invs_present('invs:item:eu:5', 'invs:item:us:5', 'invs:item:us:1', 'invs:item:us:2');
SELECT invs_fill('invs:item:us:1', 'invs:item:us:2');
DELETE FROM invs_parted WHERE id = 2;
SELECT invs_present('invs:item:us:1', 'invs:item:us:2');

-- many rows: every key, each once, in one statement
CREATE TABLE invs_big (id int PRIMARY KEY, n int);
INSERT INTO invs_big SELECT g, 0 FROM generate_series(1, 20000) g;
SELECT mc_invalidate_triggers('invs_big', 'invs:big:{id}');
SELECT count(mc_set('invs:big:' || g, g)) FROM generate_series(1, 20000) g;
SELECT invs_sent() AS before \gset
UPDATE invs_big SET n = n + 1;
SELECT invs_sent() - :before AS deletes_sent;
SELECT count(*) AS still_cached FROM mc_get_multi(array(SELECT 'invs:big:' || g FROM generate_series(1, 20000) g));

DROP TABLE invs_users, invs_missing, invs_parted, invs_big, invs_gen, invs_people;
DROP FUNCTION invs_lower_email();
DROP FUNCTION invs_present(text[]), invs_fill(text[]), invs_sent();
