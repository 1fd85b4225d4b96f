--
-- secrets.sql: settings fail closed (README "Configuration", "When values
-- are checked").  A value that was stored or SET before the library was
-- loaded, and that its check refuses, never leaves the session running on
-- the default: every call fails with an ERROR that names the setting and
-- where the value came from, until a valid value replaces it.
-- Runs in a database of its own (ALTER DATABASE ... SET); keys start with
-- "secr:".
--
SELECT current_setting('pylibmc_test.tcp') AS tcp \gset
SET client_min_messages = warning;
DROP DATABASE IF EXISTS pmc_secrets;
RESET client_min_messages;
CREATE DATABASE pmc_secrets;
\c pmc_secrets
CREATE EXTENSION pylibmc_pg;
-- SQLSTATE, message, detail and hint of a statement
CREATE FUNCTION secr_try(q text)
RETURNS TABLE (code text, message text, detail text, hint text) LANGUAGE plpgsql AS $$
DECLARE
	r text;
BEGIN
	EXECUTE q INTO r;
	code := 'ok';
	message := coalesce(r, 'NULL');
	RETURN NEXT;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
		detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
	RETURN NEXT;
END
$$;
-- another tenant's key, under no namespace
SET pylibmc_pg.servers = :'tcp';
SELECT mc_set('secr:k', 'another tenant''s value');
ALTER DATABASE pmc_secrets SET pylibmc_pg.servers = :'tcp';
--
-- A stored namespace that its check refuses (a space), stored from a
-- session that never loaded the library, so nothing checked it then
--
\c pmc_secrets
ALTER DATABASE pmc_secrets SET pylibmc_pg.namespace = 't1 :';
\c pmc_secrets
-- the first call loads the library: an ERROR naming the setting and the
-- source, not the key under an empty namespace
SELECT * FROM secr_try($$SELECT mc_get('secr:k')$$);
SHOW pylibmc_pg.namespace;
-- every call that would talk to memcached, reads and writes alike
SELECT q, (secr_try(q)).code
FROM unnest(ARRAY[
	$$SELECT mc_set('secr:k', 'overwritten')::text$$,
	$$SELECT mc_delete('secr:k')::text$$,
	$$SELECT count(*)::text FROM mc_get_multi(ARRAY['secr:k'])$$,
	$$SELECT mc_incr('secr:n')::text$$]) AS q;
-- a valid value SET in the session replaces it ...
SET pylibmc_pg.namespace = 't1:';
SELECT * FROM secr_try($$SELECT mc_get('secr:k')$$);
-- ... until it is RESET to the refused stored value
RESET pylibmc_pg.namespace;
SELECT code, message FROM secr_try($$SELECT mc_get('secr:k')$$);
-- a rolled-back SET LOCAL leaves it refused too
BEGIN;
SET LOCAL pylibmc_pg.namespace = 't1:';
SELECT code FROM secr_try($$SELECT mc_get('secr:k')$$);
ROLLBACK;
SELECT code FROM secr_try($$SELECT mc_get('secr:k')$$);
-- with the library loaded, the same ALTER DATABASE is checked at once
SELECT code, message, detail FROM secr_try($$ALTER DATABASE pmc_secrets SET pylibmc_pg.namespace = 't2 :'$$);
-- and so is ALTER SYSTEM (which checks as for the configuration file)
ALTER SYSTEM SET pylibmc_pg.namespace = 't2 :';
ALTER SYSTEM SET pylibmc_pg.servers = '127.0.0.1, udp:127.0.0.1';
-- fixing the stored value fixes new sessions
ALTER DATABASE pmc_secrets RESET pylibmc_pg.namespace;
\c pmc_secrets
SELECT * FROM secr_try($$SELECT mc_get('secr:k')$$);
--
-- A stored server list that mixes transports: not the default servers
--
\c pmc_secrets
ALTER DATABASE pmc_secrets SET pylibmc_pg.servers = '127.0.0.1, udp:127.0.0.1';
\c pmc_secrets
SELECT * FROM secr_try($$SELECT mc_get('secr:k')$$);
-- the same for behaviors
ALTER DATABASE pmc_secrets SET pylibmc_pg.servers = :'tcp';
\c pmc_secrets
ALTER DATABASE pmc_secrets SET pylibmc_pg.behaviors = 'ketama=maybe';
\c pmc_secrets
SELECT code, message, detail FROM secr_try($$SELECT mc_get('secr:k')$$);
ALTER DATABASE pmc_secrets RESET pylibmc_pg.behaviors;
-- per role in this database
\c pmc_secrets
ALTER ROLE CURRENT_USER IN DATABASE pmc_secrets SET pylibmc_pg.namespace = 'x y:';
\c pmc_secrets
SELECT code, message FROM secr_try($$SELECT mc_get('secr:k')$$);
ALTER ROLE CURRENT_USER IN DATABASE pmc_secrets RESET pylibmc_pg.namespace;
--
-- SET before the library is loaded (a placeholder, unchecked): the first
-- call fails naming the setting, instead of dropping it for the default
--
\c pmc_secrets
SET pylibmc_pg.servers = '127.0.0.1, udp:127.0.0.1';
SELECT * FROM secr_try($$SELECT mc_get('secr:k')$$);
-- now loaded, a bad SET is refused at once, and a valid one works
SELECT code, message FROM secr_try($$SET pylibmc_pg.servers = '127.0.0.1, udp:127.0.0.1'$$);
SET pylibmc_pg.servers = :'tcp';
SELECT * FROM secr_try($$SELECT mc_get('secr:k')$$);
\c pmc_secrets
SET pylibmc_pg.namespace = 'a b';
SELECT code, message FROM secr_try($$SELECT mc_get('secr:k')$$);
-- a valid value set before loading is simply used
\c pmc_secrets
SET pylibmc_pg.namespace = 't1:';
SELECT * FROM secr_try($$SELECT mc_get('secr:k')$$);
--
-- clean up
--
\c pmc_secrets
SELECT mc_delete('secr:k');
\c postgres
DROP DATABASE pmc_secrets;
