--
-- security.sql: who may do what (README "Security").
--
-- An ordinary role can use the cache but cannot point the backend at
-- another server, change the protocol, the credentials, the behaviors or
-- the namespace, cannot read the SASL password, cannot flush and cannot
-- read server statistics; a pg_monitor member can read statistics.
-- Keys start with "sec:".
--
SET client_min_messages = warning;
DROP ROLE IF EXISTS pmc_app;
DROP ROLE IF EXISTS pmc_dba;
RESET client_min_messages;
SELECT current_user AS su \gset
SELECT coalesce(current_setting('pylibmc_test.tcp', true), '127.0.0.1:11211') AS tcp,
       current_setting('pylibmc_test.unix') AS unix,
       current_setting('pylibmc_test.sasl') AS sasl,
       current_setting('pylibmc_test.sasl_user') AS sasl_user,
       current_setting('pylibmc_test.sasl_password') AS sasl_password,
       coalesce(current_setting('pylibmc_test.down', true), '127.0.0.1:1') AS down \gset
-- Until the library is loaded the pylibmc_pg.* settings are placeholders;
-- load it so that this session sees the real settings.
LOAD 'pylibmc_pg';
SET pylibmc_pg.servers = :'tcp';
CREATE ROLE pmc_app LOGIN;
CREATE ROLE pmc_dba LOGIN;
GRANT pg_monitor TO pmc_dba;
-- SQLSTATE and message of a statement, addresses masked
CREATE FUNCTION pg_temp.sec_try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	r text;
	st text;
	msg text;
BEGIN
	EXECUTE q INTO r;
	RETURN 'ok: ' || coalesce(r, 'NULL');
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
	RETURN st || ': ' || regexp_replace(msg, 'memcached server \S+', 'memcached server HOST');
END
$$;
-- The settings and who may change them (the password is not listed at all)
SELECT name, context, vartype FROM pg_settings WHERE name LIKE 'pylibmc_pg.%' ORDER BY name;
--
-- An ordinary role cannot change where and how the backend connects
--
SET ROLE pmc_app;
SELECT current_user;
SELECT g, pg_temp.sec_try(format('SET pylibmc_pg.%s = %L', g, v))
FROM (VALUES ('servers', :'down'), ('binary_protocol', 'on'), ('username', 'u'),
             ('password', 'p'), ('behaviors', 'ketama=true'), ('namespace', 'evil:')) AS s(g, v);
SELECT pg_temp.sec_try(format('SET LOCAL pylibmc_pg.servers = %L', :'down'));
SELECT pg_temp.sec_try(format('SELECT set_config(%L, %L, false)', 'pylibmc_pg.servers', :'down'));
SELECT pg_temp.sec_try(format('SELECT set_config(%L, %L, true)', 'pylibmc_pg.namespace', 'evil:'));
SELECT pg_temp.sec_try('RESET pylibmc_pg.servers');
-- nor through a function's SET clause, nor for its own future sessions
SELECT pg_temp.sec_try(format($q$CREATE FUNCTION pg_temp.evil() RETURNS text LANGUAGE sql
	SET pylibmc_pg.servers = %L AS 'SELECT mc_get(''sec:x'')'$q$, :'down'));
SELECT pg_temp.sec_try(format('ALTER ROLE pmc_app SET pylibmc_pg.servers = %L', :'down'));
-- nothing changed
SELECT current_setting('pylibmc_pg.servers') = :'tcp' AS servers_unchanged,
       current_setting('pylibmc_pg.namespace') AS namespace;
-- on_error only changes how failures are reported: anyone may set it
SET pylibmc_pg.on_error = warning;
SHOW pylibmc_pg.on_error;
RESET pylibmc_pg.on_error;
SHOW pylibmc_pg.on_error;
-- SET SESSION AUTHORIZATION is the same as SET ROLE here
RESET ROLE;
SET SESSION AUTHORIZATION pmc_app;
SELECT session_user, current_user;
SELECT pg_temp.sec_try(format('SET pylibmc_pg.servers = %L', :'down'));
SET pylibmc_pg.on_error = ignore;
RESET pylibmc_pg.on_error;
RESET SESSION AUTHORIZATION;
--
-- The password is hidden from ordinary roles
--
SET pylibmc_pg.password = 'pw-hidden-4f2a';
SET ROLE pmc_app;
SELECT pg_temp.sec_try('SHOW pylibmc_pg.password');
SELECT pg_temp.sec_try($$SELECT current_setting('pylibmc_pg.password')$$);
SELECT pg_temp.sec_try($$SELECT current_setting('pylibmc_pg.password', true)$$);
SELECT count(*) AS in_pg_settings FROM pg_settings WHERE name = 'pylibmc_pg.password';
SELECT count(*) AS in_show_all FROM pg_show_all_settings() WHERE name = 'pylibmc_pg.password';
RESET ROLE;
-- a superuser sees it (SHOW and current_setting; pg_settings never lists it)
SHOW pylibmc_pg.password;
SELECT current_setting('pylibmc_pg.password');
SELECT count(*) AS in_pg_settings FROM pg_settings WHERE name = 'pylibmc_pg.password';
RESET pylibmc_pg.password;
--
-- The password never appears in an error: a wrong one against the SASL
-- server, for the superuser that set it and for the role that uses it
--
CREATE FUNCTION pg_temp.sec_auth_error(pw text)
RETURNS TABLE (code text, message text, leaks_password boolean) LANGUAGE plpgsql AS $$
DECLARE
	msg text;
	det text;
	hnt text;
	ctx text;
BEGIN
	PERFORM mc_get('sec:pw');
	code := 'none';
	RETURN NEXT;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
		det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT, ctx = PG_EXCEPTION_CONTEXT;
	message := regexp_replace(msg, 'memcached server \S+', 'memcached server HOST');
	leaks_password := position(pw IN concat_ws(' ', msg, det, hnt, ctx)) > 0;
	RETURN NEXT;
END
$$;
SET pylibmc_pg.servers = :'sasl';
SET pylibmc_pg.binary_protocol = on;
SET pylibmc_pg.username = :'sasl_user';
SET pylibmc_pg.password = 'Wr0ng-pw-7c1e';
SELECT * FROM pg_temp.sec_auth_error('Wr0ng-pw-7c1e');
-- another wrong password (a fresh client), used by the ordinary role
SET pylibmc_pg.password = 'Wr0ng-pw-8d2f';
SET ROLE pmc_app;
SELECT * FROM pg_temp.sec_auth_error('Wr0ng-pw-8d2f');
RESET ROLE;
-- with on_error = warning an authentication failure is still an ERROR
SET pylibmc_pg.username = 'nobody';
SET pylibmc_pg.on_error = warning;
SELECT * FROM pg_temp.sec_auth_error('Wr0ng-pw-8d2f');
RESET pylibmc_pg.on_error;
--
-- Function privileges
--
-- flushing is for superusers (or roles granted EXECUTE)
SET pylibmc_pg.username = :'sasl_user';
SET pylibmc_pg.password = :'sasl_password';
SELECT mc_set('sec:flushed', 'v');
SET ROLE pmc_app;
SELECT pg_temp.sec_try('SELECT mc_flush_all()');
SELECT pg_temp.sec_try('SELECT mc_flush_all(10)');
RESET ROLE;
SET ROLE pmc_dba;
SELECT pg_temp.sec_try('SELECT mc_flush_all()');
RESET ROLE;
SELECT mc_get('sec:flushed') AS before_flush;
SELECT mc_flush_all();
SELECT mc_get('sec:flushed') AS after_flush;
RESET pylibmc_pg.username;
RESET pylibmc_pg.password;
RESET pylibmc_pg.binary_protocol;
SET pylibmc_pg.servers = :'tcp';
-- server statistics are for pg_monitor
SET ROLE pmc_app;
SELECT pg_temp.sec_try('SELECT count(*) FROM mc_stats()');
SELECT pg_temp.sec_try($$SELECT count(*) FROM mc_stats('settings')$$);
SELECT pg_temp.sec_try('SELECT count(*) FROM mc_server_stats');
RESET ROLE;
SET ROLE pmc_dba;
SELECT count(*) > 0 AS dba_reads_stats FROM mc_stats();
SELECT count(*) AS dba_server_rows FROM mc_server_stats;
RESET ROLE;
-- everything else is for PUBLIC: an ordinary role uses the cache
SET ROLE pmc_app;
SELECT mc_set('sec:app', 'from app') AS set, mc_get('sec:app') AS get;
SELECT * FROM mc_get_multi(ARRAY['sec:app', 'sec:none']);
SELECT mc_set('sec:app_n', 41) AS set, mc_incr('sec:app_n') AS incr,
       mc_delete('sec:app_n') AS deleted, mc_get('sec:app_n') AS gone;
SELECT count(*) > 0 AS own_counters FROM mc_client_stats();
RESET ROLE;
-- the whole list: what PUBLIC lacks, what pg_monitor adds, no SECURITY DEFINER
SELECT p.oid::regprocedure AS function,
       has_function_privilege('pmc_app', p.oid, 'EXECUTE') AS app,
       has_function_privilege('pmc_dba', p.oid, 'EXECUTE') AS dba
FROM pg_proc p
JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pylibmc_pg'
WHERE NOT has_function_privilege('pmc_app', p.oid, 'EXECUTE')
   OR NOT has_function_privilege('pmc_dba', p.oid, 'EXECUTE')
ORDER BY p.oid::regprocedure::text;
SELECT count(*) AS security_definer
FROM pg_proc p
JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pylibmc_pg'
WHERE p.prosecdef;
SELECT has_table_privilege('pmc_app', 'mc_server_stats', 'SELECT') AS app_view,
       has_table_privilege('pmc_dba', 'mc_server_stats', 'SELECT') AS dba_view;
--
-- Delegation: GRANT SET ON PARAMETER (PostgreSQL 15)
--
GRANT SET ON PARAMETER pylibmc_pg.servers TO pmc_app;
SET ROLE pmc_app;
SET pylibmc_pg.servers = :'unix';
SELECT mc_set('sec:granted', 'via unix');
-- only that parameter
SELECT pg_temp.sec_try($$SET pylibmc_pg.namespace = 'evil:'$$);
SELECT pg_temp.sec_try($$SET pylibmc_pg.password = 'p'$$);
RESET ROLE;
-- it really went to the UNIX-socket server, not to the TCP one
SELECT current_setting('pylibmc_pg.servers') = :'unix' AS servers_is_unix,
       mc_get('sec:granted') AS on_unix;
SET pylibmc_pg.servers = :'tcp';
SELECT mc_get('sec:granted') AS on_tcp;
REVOKE SET ON PARAMETER pylibmc_pg.servers FROM pmc_app;
SET ROLE pmc_app;
SELECT pg_temp.sec_try(format('SET pylibmc_pg.servers = %L', :'unix'));
RESET ROLE;
--
-- ALTER ROLE ... SET by a superuser: the role's sessions use it
--
ALTER ROLE pmc_app SET pylibmc_pg.servers = :'unix';
SELECT setconfig = ARRAY['pylibmc_pg.servers=' || :'unix'] AS role_setting
FROM pg_db_role_setting WHERE setrole = 'pmc_app'::regrole AND setdatabase = 0;
\c - pmc_app
SELECT current_user, current_setting('pylibmc_pg.servers') = :'unix' AS servers_is_unix;
-- Before the library is loaded in a session, SET only makes a placeholder,
-- which any role can; loading the library drops it with a WARNING.
SET pylibmc_pg.namespace = 'evil:';
SELECT mc_get('sec:granted') AS from_role_setting;
SHOW pylibmc_pg.namespace;
SELECT current_setting('pylibmc_pg.servers') = :'unix' AS servers_is_unix;
\c - :su
-- clean up
SET pylibmc_pg.servers = :'unix';
SELECT mc_delete('sec:granted');
SET pylibmc_pg.servers = :'tcp';
SELECT mc_delete('sec:app');
DROP OWNED BY pmc_app;
DROP ROLE pmc_app;
DROP OWNED BY pmc_dba;
DROP ROLE pmc_dba;
