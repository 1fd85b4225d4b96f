--
-- basic: round trips over TCP and over a UNIX socket, switching servers in
-- one session; a miss is NULL; an unreachable server is a prompt ERROR and
-- the session recovers when the setting goes back.
--
-- Keys start with "basic:" so this file does not meet the other suites'.
--
\set VERBOSITY terse

-- Run a statement; show its SQLSTATE and message, with server addresses
-- (which depend on the test environment) replaced.
CREATE FUNCTION pg_temp.try(stmt text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE stmt;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' ||
		regexp_replace(SQLERRM, 'memcached server \S+', 'memcached server SERVER');
END
$$;

SELECT coalesce(current_setting('pylibmc_test.tcp', true), '127.0.0.1:11211') AS tcp,
	   current_setting('pylibmc_test.unix') AS unix,
	   coalesce(current_setting('pylibmc_test.down', true), '127.0.0.1:1') AS down \gset

-- TCP, the default server list
SELECT current_setting('pylibmc_pg.servers') = :'tcp' AS default_is_tcp;
SELECT mc_delete('basic:k');
SELECT mc_get('basic:k') IS NULL AS miss_is_null;
SELECT mc_set('basic:k', 'over tcp');
SELECT mc_get('basic:k');
SELECT mc_set('basic:n', 42), mc_get('basic:n'), mc_get('basic:n', NULL::bigint) + 1 AS plus_one;
SELECT mc_set('basic:b', true), mc_get('basic:b', NULL::boolean);
SELECT mc_set('basic:j', '{"a": [1, 2]}'::jsonb), mc_get('basic:j', NULL::jsonb) -> 'a' AS a;
SELECT mc_set('basic:bytes', '\x00ff'::bytea), mc_get('basic:bytes'), mc_get('basic:bytes', NULL::bytea);
SELECT mc_set('basic:empty', ''), mc_get('basic:empty') = '' AS empty_is_not_null;
SELECT mc_delete('basic:k'), mc_get('basic:k') IS NULL AS gone;
SELECT mc_set('basic:k', 'over tcp');

-- The UNIX socket: another memcached, so the TCP key is not there
SET pylibmc_pg.servers = :'unix';
SELECT current_setting('pylibmc_pg.servers') = :'unix' AS servers_is_unix;
SELECT mc_delete('basic:k');
SELECT mc_get('basic:k') IS NULL AS tcp_key_not_on_unix;
SELECT mc_set('basic:k', 'over unix');
SELECT mc_get('basic:k');
SELECT mc_set('basic:only_unix', 1), mc_incr('basic:only_unix', 2);

-- and back: each server kept its own value
SET pylibmc_pg.servers = :'tcp';
SELECT mc_get('basic:k');
SELECT mc_get('basic:only_unix') IS NULL AS unix_key_not_on_tcp;
SET pylibmc_pg.servers = :'unix';
SELECT mc_get('basic:k'), mc_get('basic:only_unix');
SELECT mc_delete('basic:k'), mc_delete('basic:only_unix');

-- An unreachable server: an ERROR of class 08 naming the server, at once
-- (connection refused; no wait for a timeout), also for the next call
-- while the server is marked as failed.
SET pylibmc_pg.servers = :'down';
SELECT clock_timestamp() AS t0 \gset
SELECT pg_temp.try($$SELECT mc_get('basic:k')$$);
SELECT pg_temp.try($$SELECT mc_get('basic:k')$$);
SELECT pg_temp.try($$SELECT mc_set('basic:k', 'x')$$);
SELECT clock_timestamp() - :'t0' < interval '3 seconds' AS no_hang;
-- the session still works once the setting points at a live server
SET pylibmc_pg.servers = :'tcp';
SELECT mc_get('basic:k');
RESET pylibmc_pg.servers;
SELECT mc_get('basic:k');
-- and inside a transaction, after a failed statement rolled back to a savepoint
BEGIN;
SAVEPOINT s;
SET LOCAL pylibmc_pg.servers = :'down';
SELECT pg_temp.try($$SELECT mc_get('basic:k')$$);
-- the statement fails (only its SQLSTATE shown: the message names a port)
\set VERBOSITY sqlstate
SELECT mc_get('basic:k');
\set VERBOSITY terse
ROLLBACK TO SAVEPOINT s;
SELECT mc_get('basic:k');
COMMIT;

-- clean up
SELECT mc_delete_multi(ARRAY['basic:k', 'basic:n', 'basic:b', 'basic:j', 'basic:bytes', 'basic:empty']);
