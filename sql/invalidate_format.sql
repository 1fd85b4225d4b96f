--
-- mc_invalidate keys do not depend on the writing session's settings
-- (issue 14.5): DateStyle, IntervalStyle, extra_float_digits, bytea_output
-- and TimeZone are fixed while a key is formatted.  Keys start with "invf:".
--
SELECT current_setting('pylibmc_test.tcp') AS tcp \gset
SET pylibmc_pg.servers = :'tcp';

CREATE TABLE invf (id int PRIMARY KEY, d date, iv interval, f float8, b bytea,
                   tstz timestamptz, n int DEFAULT 0);
INSERT INTO invf VALUES (1, '2024-01-05', '01:02:03', 1.0 / 3, '\x41', NULL);
CREATE TRIGGER invf_cache AFTER UPDATE ON invf
  FOR EACH ROW EXECUTE FUNCTION mc_invalidate('invf:d:{d}', 'invf:iv:{iv}', 'invf:f:{f}', 'invf:b:{b}');

-- the keys, as a reader builds them with the default settings (pg_regress
-- runs with DateStyle Postgres and IntervalStyle postgres_verbose: the
-- trigger's keys must not follow them either)
CREATE FUNCTION invf_keys() RETURNS text[] LANGUAGE sql AS
$$ SELECT ARRAY['invf:d:2024-01-05', 'invf:iv:01:02:03', 'invf:f:0.3333333333333333', 'invf:b:\x41'] $$;
BEGIN;
SET LOCAL DateStyle = 'ISO'; SET LOCAL IntervalStyle = 'postgres';
SET LOCAL extra_float_digits = 1; SET LOCAL bytea_output = 'hex';
SELECT ARRAY['invf:d:' || d, 'invf:iv:' || iv, 'invf:f:' || f, 'invf:b:' || b::text] = invf_keys() AS default_forms
  FROM invf;
COMMIT;
CREATE FUNCTION invf_fill() RETURNS void LANGUAGE sql AS
$$ SELECT count(mc_set(k, 'cached')) FROM unnest(invf_keys()) k $$;
CREATE FUNCTION invf_left() RETURNS text LANGUAGE sql AS
$$ SELECT coalesce(string_agg(key, ' ' ORDER BY key), '(none)') FROM mc_get_multi(invf_keys()) $$;

-- each setting on its own: the key is the default one, and it is deleted
SET DateStyle = 'German';
SELECT d::text AS german_text FROM invf;       -- the session's own form differs
SELECT invf_fill();
UPDATE invf SET n = n + 1;
SELECT invf_left() AS left_under_datestyle;
RESET DateStyle;

SET IntervalStyle = 'iso_8601';
SELECT iv::text AS iso_text FROM invf;
SELECT invf_fill();
UPDATE invf SET n = n + 1;
SELECT invf_left() AS left_under_intervalstyle;
RESET IntervalStyle;

SET extra_float_digits = -3;
SELECT f::text AS short_text FROM invf;
SELECT invf_fill();
UPDATE invf SET n = n + 1;
SELECT invf_left() AS left_under_extra_float_digits;
RESET extra_float_digits;

SET bytea_output = 'escape';
SELECT b::text AS escape_text FROM invf;
SELECT invf_fill();
UPDATE invf SET n = n + 1;
SELECT invf_left() AS left_under_bytea_output;
RESET bytea_output;

-- TimeZone: a timestamptz key is written in UTC whatever the session's zone
-- (its ISO form has a space, so the key is refused: the message shows it)
CREATE TABLE invf_tz (id int PRIMARY KEY, t timestamptz);
INSERT INTO invf_tz VALUES (1, '2024-01-05 10:00:00+00');
CREATE TRIGGER invf_tz_cache AFTER UPDATE ON invf_tz
  FOR EACH ROW EXECUTE FUNCTION mc_invalidate('invf:tz:{t}');
SET TimeZone = 'Asia/Tokyo';
SELECT t::text AS tokyo_text FROM invf_tz;
UPDATE invf_tz SET id = id;
SET TimeZone = 'America/New_York';
UPDATE invf_tz SET id = id;
RESET TimeZone;

-- the session's settings are back after the trigger, and after an error in it
SET DateStyle = 'German';
UPDATE invf SET n = n + 1;
SELECT current_setting('DateStyle') AS datestyle_after, d::text FROM invf;
-- and in the default regression settings (DateStyle Postgres, IntervalStyle
-- postgres_verbose, TimeZone PST8PDT) too
RESET DateStyle;
SELECT invf_fill();
UPDATE invf SET n = n + 1;
SELECT invf_left() AS left_under_regression_defaults;
SET TimeZone = 'Asia/Tokyo';
BEGIN;
SAVEPOINT s;
UPDATE invf_tz SET id = id;
ROLLBACK TO s;
SELECT current_setting('TimeZone') AS timezone_after_error;
COMMIT;
RESET DateStyle;
RESET TimeZone;

-- an error in the trigger names the trigger and the table (CONTEXT), as an
-- apply worker's log would show it
\set VERBOSITY default
UPDATE invf_tz SET id = id;
ALTER TABLE invf RENAME COLUMN iv TO iv2;
UPDATE invf SET n = n + 1;
\set VERBOSITY terse
-- replacing the trigger with the new column name is how a template changes
BEGIN;
DROP TRIGGER invf_cache ON invf;
CREATE TRIGGER invf_cache AFTER UPDATE ON invf
  FOR EACH ROW EXECUTE FUNCTION mc_invalidate('invf:d:{d}', 'invf:iv:{iv2}', 'invf:f:{f}', 'invf:b:{b}');
COMMIT;
SELECT invf_fill();
UPDATE invf SET n = n + 1;
SELECT invf_left() AS left_after_new_template;

DROP TABLE invf, invf_tz;
DROP FUNCTION invf_keys(), invf_fill(), invf_left();
