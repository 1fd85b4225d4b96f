-- Regressions for bugs found in the core: each case once failed.
SELECT current_setting('pylibmc_test.sasl') AS sasl,
       current_setting('pylibmc_test.udp') AS udp,
       regexp_replace(current_setting('pylibmc_test.udp'), '^udp:', '') AS udp_tcp \gset

-- errors with ports in them: show SQLSTATE and a port-free message
CREATE FUNCTION pg_temp.try(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, ':[0-9]+', ':PORT', 'g');
END $$;

-- binary incr on a non-numeric value is 22P02, as in ASCII (not a server failure)
SET pylibmc_pg.binary_protocol = on;
SELECT mc_set('fix:nn', 'abc');
SELECT pg_temp.try($$SELECT mc_incr('fix:nn')$$);
SET pylibmc_pg.on_error = 'ignore';
SELECT pg_temp.try($$SELECT mc_incr('fix:nn')$$);   -- still an error: bad input, not an outage
RESET pylibmc_pg.on_error;
SELECT mc_set('fix:nn', -5);
SELECT pg_temp.try($$SELECT mc_decr('fix:nn')$$);

-- incr with initial creates an integer (flags 4) in binary too
SELECT mc_delete('fix:ini');
SELECT mc_incr('fix:ini', 5, 100) AS created, mc_incr('fix:ini', 5, 100) AS counted;
SELECT flags, convert_from(value, 'UTF8') AS bytes FROM mc_get_raw('fix:ini');
SELECT mc_get('fix:ini', NULL::bigint);
SELECT mc_delete('fix:ini');
SELECT mc_decr('fix:ini', 1, 7) AS created, mc_decr('fix:ini', 1, 7) AS counted;

-- a binary client without credentials against a SASL server: a clear
-- authentication error for every operation (libmemcached aborted the
-- backend on incr and read gets as misses)
SET pylibmc_pg.servers = :'sasl';
SELECT pg_temp.try($$SELECT mc_get('fix:k')$$);
SELECT pg_temp.try($$SELECT mc_incr('fix:k')$$);
SELECT pg_temp.try($$SELECT mc_decr('fix:k', 1, 0)$$);
SELECT pg_temp.try($$SELECT * FROM mc_get_multi(ARRAY['fix:a'])$$);
SELECT 1 AS backend_alive;
RESET pylibmc_pg.servers;
RESET pylibmc_pg.binary_protocol;

-- long multibyte keys are shortened at a character boundary in messages
SET client_encoding = 'LATIN1';
SELECT pg_temp.try($$SELECT mc_get('a' || repeat(U&'\00E9', 125))$$) LIKE '22001: memcached key "a%..." is too long' AS clean_message;
RESET client_encoding;

-- errors not tied to a server do not name one
SELECT pg_temp.try($$SELECT * FROM mc_stats('bogus')$$);

-- mc_set_multi works over UDP (fire and forget), values are bounded
SET pylibmc_pg.servers = :'udp';
SELECT mc_set_multi('{"fix:u1": "one", "fix:u2": 2}');
SELECT pg_temp.try($$SELECT mc_set('fix:big', repeat('x', 70000))$$);
SELECT pg_sleep(0.2);
SET pylibmc_pg.servers = :'udp_tcp';
SELECT key, value FROM mc_get_multi(ARRAY['fix:u1', 'fix:u2']) ORDER BY key;

-- the typed mc_gets is not STRICT: a NULL key is (NULL, NULL), not a crash
RESET pylibmc_pg.servers;
SELECT * FROM mc_gets(NULL, NULL::int);
SELECT * FROM mc_gets(NULL::text);
-- varchar values are text
SELECT mc_set_multi(ARRAY['fix:vc'], ARRAY['x']::varchar[]);
SELECT flags FROM mc_get_raw('fix:vc');
