--
-- sasl.sql: SASL authentication against a memcached started with -S
-- (PLAIN, user and password from the test environment).  Keys start with
-- "sasl:".
--
SELECT current_setting('pylibmc_test.sasl') AS sasl,
       current_setting('pylibmc_test.sasl_user') AS sasl_user,
       current_setting('pylibmc_test.sasl_password') AS sasl_password \gset
LOAD 'pylibmc_pg';
SELECT mc_support_sasl();
-- SQLSTATE, message and detail of a statement, addresses masked, and
-- whether the password appears anywhere in what the error says
CREATE FUNCTION pg_temp.sasl_try(q text, pw text DEFAULT NULL)
RETURNS TABLE (code text, message text, detail text, hint text, leaks_password boolean)
LANGUAGE plpgsql AS $$
DECLARE
	r text;
	ctx text;
BEGIN
	EXECUTE q INTO r;
	code := 'ok';
	message := coalesce(r, 'NULL');
	RETURN NEXT;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
		detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT, ctx = PG_EXCEPTION_CONTEXT;
	leaks_password := position(pw IN concat_ws(' ', message, detail, hint, ctx)) > 0;
	message := regexp_replace(message, 'memcached server \S+', 'memcached server HOST');
	RETURN NEXT;
END
$$;
--
-- The right user and password, binary protocol: everything works
--
SET pylibmc_pg.servers = :'sasl';
SET pylibmc_pg.binary_protocol = on;
SET pylibmc_pg.username = :'sasl_user';
SET pylibmc_pg.password = :'sasl_password';
SELECT mc_set('sasl:k', 'secret value') AS set, mc_get('sasl:k') AS get;
SELECT mc_set('sasl:n', 10) AS set, mc_get('sasl:n', NULL::bigint) AS typed_get;
SELECT mc_set_multi('{"sasl:a": "A", "sasl:b": 2}'::jsonb) AS failed;
SELECT * FROM mc_get_multi(ARRAY['sasl:a', 'sasl:b', 'sasl:k', 'sasl:missing']) ORDER BY key;
SELECT mc_incr('sasl:n', 5) AS incr, mc_decr('sasl:n', 3) AS decr,
       mc_incr('sasl:ctr', 1, 100) AS incr_initial, mc_incr('sasl:ctr', 1, 100) AS incr_again;
SELECT (mc_gets('sasl:k')).cas IS NOT NULL AS has_cas;
SELECT mc_cas('sasl:k', 'swapped', (mc_gets('sasl:k')).cas) AS cas, mc_get('sasl:k') AS get;
SELECT mc_add('sasl:k', 'no') AS add_existing, mc_replace('sasl:k', 'replaced') AS replace,
       mc_append('sasl:k', '!') AS append, mc_get('sasl:k') AS get;
SELECT mc_touch('sasl:k', 100) AS touch, mc_delete('sasl:k') AS delete, mc_get('sasl:k') AS gone;
SELECT count(*) > 0 AS stats FROM mc_stats();
SELECT mc_delete_multi(ARRAY['sasl:a', 'sasl:b', 'sasl:n', 'sasl:ctr']) AS deleted_all;
--
-- A wrong password: an authentication ERROR (28000) that does not echo
-- the password.  Each case uses a new password, so a new client: the
-- first failure of a client is the authentication failure itself.
--
SET pylibmc_pg.password = 'not-the-pw-1';
SELECT * FROM pg_temp.sasl_try($$SELECT mc_get('sasl:k')$$, 'not-the-pw-1');
SET pylibmc_pg.password = 'not-the-pw-2';
SELECT * FROM pg_temp.sasl_try($$SELECT mc_set('sasl:k', 'v')::text$$, 'not-the-pw-2');
SET pylibmc_pg.password = 'not-the-pw-3';
SELECT * FROM pg_temp.sasl_try($$SELECT mc_incr('sasl:n')::text$$, 'not-the-pw-3');
-- on_error does not turn an authentication failure into a miss
SET pylibmc_pg.password = 'not-the-pw-5';
SET pylibmc_pg.on_error = ignore;
SELECT * FROM pg_temp.sasl_try($$SELECT mc_get('sasl:k')$$, 'not-the-pw-5');
RESET pylibmc_pg.on_error;
-- a wrong user name is the same
SET pylibmc_pg.username = 'nobody';
SET pylibmc_pg.password = :'sasl_password';
SELECT code, message, detail, hint FROM pg_temp.sasl_try($$SELECT mc_get('sasl:k')$$);
--
-- Settings that cannot work together, refused before any I/O (55000)
--
SET pylibmc_pg.username = :'sasl_user';
SET pylibmc_pg.binary_protocol = off;
SELECT code, message, detail, hint LIKE '%pylibmc_pg.%binary%on%' AS hint_says_binary
FROM pg_temp.sasl_try($$SELECT mc_get('sasl:k')$$);
-- the hint's command is valid SQL and is the fix
SELECT substring(hint from '^SET \S+ = on') AS hint_command
FROM pg_temp.sasl_try($$SELECT mc_get('sasl:k')$$) \gset
:hint_command;
SELECT code, message FROM pg_temp.sasl_try($$SELECT mc_set('sasl:k', 'after the hint')::text$$);
SELECT mc_delete('sasl:k');
SET pylibmc_pg.binary_protocol = on;
RESET pylibmc_pg.password;
SELECT code, message FROM pg_temp.sasl_try($$SELECT mc_get('sasl:k')$$);
RESET pylibmc_pg.username;
SET pylibmc_pg.password = :'sasl_password';
SELECT code, message FROM pg_temp.sasl_try($$SELECT mc_get('sasl:k')$$);
--
-- No credentials against the SASL server: every operation is an
-- authentication ERROR, never a silent miss (libmemcached alone reads a get
-- as a miss and aborts on a binary incr), whatever on_error says
--
RESET pylibmc_pg.password;
SELECT r.code, r.message, q
FROM unnest(ARRAY[
	$$SELECT mc_get('sasl:k')$$,
	$$SELECT mc_get('sasl:k', NULL::bigint)::text$$,
	$$SELECT (mc_gets('sasl:k')).value$$,
	$$SELECT (mc_get_raw('sasl:k')).flags::text$$,
	$$SELECT count(*)::text FROM mc_get_multi(ARRAY['sasl:a', 'sasl:b'])$$,
	$$SELECT mc_incr('sasl:n')::text$$,
	$$SELECT mc_decr('sasl:n', 1, 5)::text$$,
	$$SELECT mc_set('sasl:k', 'v')::text$$,
	$$SELECT mc_delete('sasl:k')::text$$,
	$$SELECT mc_touch('sasl:k', 10)::text$$,
	$$SELECT count(*)::text FROM mc_stats()$$,
	$$SELECT mc_flush_all()::text$$]) AS q,
LATERAL pg_temp.sasl_try(q) AS r;
SELECT code, message, hint FROM pg_temp.sasl_try($$SELECT mc_get('sasl:k')$$);
SET pylibmc_pg.on_error = ignore;
SELECT code, message FROM pg_temp.sasl_try($$SELECT mc_get('sasl:k')$$);
SELECT code, message FROM pg_temp.sasl_try($$SELECT mc_incr('sasl:n')::text$$);
RESET pylibmc_pg.on_error;
--
-- Back to the right credentials: the client is rebuilt and works
--
SET pylibmc_pg.username = :'sasl_user';
SET pylibmc_pg.password = :'sasl_password';
SELECT mc_set('sasl:k', 'again') AS set, mc_get('sasl:k') AS get, mc_delete('sasl:k') AS delete;
