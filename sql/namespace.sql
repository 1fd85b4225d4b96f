--
-- namespace.sql: pylibmc_pg.namespace, a prefix on every key (tenants).
-- Keys start with "nsp:" (raw keys with "nsp_tenant1:" / "nsp_tenant2:").
--
SELECT coalesce(current_setting('pylibmc_test.tcp', true), '127.0.0.1:11211') AS tcp \gset
LOAD 'pylibmc_pg';
SET pylibmc_pg.servers = :'tcp';
-- SQLSTATE, message and detail of a statement
CREATE FUNCTION pg_temp.nsp_try(q text)
RETURNS TABLE (code text, message text, detail text) LANGUAGE plpgsql AS $$
DECLARE
	r text;
BEGIN
	EXECUTE q INTO r;
	code := 'ok';
	message := coalesce(r, 'NULL');
	RETURN NEXT;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
		detail = PG_EXCEPTION_DETAIL;
	RETURN NEXT;
END
$$;
SHOW pylibmc_pg.namespace;
-- nothing left from an earlier run
SELECT mc_delete_multi(ARRAY['tenant1:nsp:k', 'tenant2:nsp:k', 'tenant1:nsp:raw'], 0, 'nsp_') IS NOT NULL AS clean;
--
-- Two tenants, one key name
--
SET pylibmc_pg.namespace = 'nsp_tenant1:';
SELECT mc_set('nsp:k', 'one') AS set, mc_get('nsp:k') AS get;
SET pylibmc_pg.namespace = 'nsp_tenant2:';
SELECT mc_get('nsp:k') AS tenant2_miss;
SELECT mc_add('nsp:k', 'two') AS add_in_tenant2, mc_get('nsp:k') AS get;
SET pylibmc_pg.namespace = 'nsp_tenant1:';
SELECT mc_get('nsp:k') AS tenant1_unchanged;
-- without a namespace the raw keys are visible
RESET pylibmc_pg.namespace;
SELECT mc_get('nsp_tenant1:nsp:k') AS raw1, mc_get('nsp_tenant2:nsp:k') AS raw2,
       mc_get('nsp:k') AS bare;
-- and a raw key written without a namespace is the namespaced key
SELECT mc_set('nsp_tenant1:nsp:raw', 'written raw');
SET pylibmc_pg.namespace = 'nsp_tenant1:';
SELECT mc_get('nsp:raw') AS read_in_tenant1;
--
-- Several keys: the namespace is added on the way out, removed on the way in
--
SELECT mc_set_multi('{"nsp:m1": "a", "nsp:m2": 2}'::jsonb) AS failed;
SELECT * FROM mc_get_multi(ARRAY['nsp:m1', 'nsp:m2', 'nsp:k', 'nsp:none']) ORDER BY key;
-- with key_prefix too: keys come back without either
SELECT * FROM mc_get_multi(ARRAY['m1', 'm2', 'none'], 'nsp:') ORDER BY key;
SELECT * FROM mc_get_multi(ARRAY['m1', 'm2'], NULL::text, 'nsp:') ORDER BY key;
SELECT mc_set_multi(ARRAY['p1', 'p2'], ARRAY[10, 20]::bigint[], 0, 'nsp:') AS failed;
RESET pylibmc_pg.namespace;
SELECT * FROM mc_get_multi(ARRAY['nsp_tenant1:nsp:m1', 'nsp_tenant1:nsp:p1', 'nsp_tenant1:nsp:p2',
                                 'nsp:m1', 'nsp:p1']) ORDER BY key;
SET pylibmc_pg.namespace = 'nsp_tenant1:';
--
-- Every operation honours it
--
SELECT mc_set('nsp:n', 10) AS set, mc_incr('nsp:n', 5) AS incr, mc_decr('nsp:n', 2) AS decr;
SELECT mc_incr('nsp:n0', 1, 7) AS incr_initial;
SELECT (mc_gets('nsp:k')).value AS gets_value;
SELECT mc_cas('nsp:k', 'swapped', (mc_gets('nsp:k')).cas) AS cas;
SELECT mc_append('nsp:k', '+') AS append, mc_prepend('nsp:k', '+') AS prepend,
       mc_replace('nsp:m1', 'A') AS replace, mc_touch('nsp:m2', 300) AS touch;
SELECT (mc_get_raw('nsp:k')).value AS raw_bytes;
SELECT mc_set_raw('nsp:rawflags', '\x6869'::bytea, 16) AS set_raw;
RESET pylibmc_pg.namespace;
-- what the other operations did, seen without the namespace
SELECT k, mc_get(k) AS value
FROM unnest(ARRAY['nsp_tenant1:nsp:n', 'nsp_tenant1:nsp:n0', 'nsp_tenant1:nsp:k', 'nsp_tenant1:nsp:m1',
                  'nsp_tenant1:nsp:rawflags', 'nsp:n', 'nsp:n0', 'nsp:k', 'nsp:m1']) AS k;
-- incr/decr/delete/touch on the bare key do not reach the tenant's key
SELECT mc_incr('nsp:n') AS bare_incr, mc_touch('nsp:k', 10) AS bare_touch,
       mc_delete('nsp:k') AS bare_delete;
SET pylibmc_pg.namespace = 'nsp_tenant2:';
SELECT mc_delete('nsp:n') AS other_tenant_delete, mc_incr('nsp:n') AS other_tenant_incr;
SELECT mc_delete('nsp:k') AS tenant2_delete;
SET pylibmc_pg.namespace = 'nsp_tenant1:';
SELECT mc_delete('nsp:k') AS delete, mc_get('nsp:k') AS gone;
SELECT mc_delete_multi(ARRAY['n', 'n0', 'm1', 'm2', 'p1', 'p2', 'raw', 'rawflags'], 0, 'nsp:') AS deleted_all;
RESET pylibmc_pg.namespace;
SELECT count(*) AS tenant1_left
FROM mc_get_multi(ARRAY['nsp_tenant1:nsp:n', 'nsp_tenant1:nsp:m1', 'nsp_tenant1:nsp:raw']);
--
-- The key length limit counts the namespace
--
SET pylibmc_pg.namespace = 'nsp_t08:';
SELECT length(current_setting('pylibmc_pg.namespace')) AS namespace_bytes;
SELECT mc_set(repeat('k', 242), 'fits') AS set_242, mc_get(repeat('k', 242)) AS get_242;
SELECT * FROM pg_temp.nsp_try(format('SELECT mc_get(%L)', repeat('k', 243)));
SELECT * FROM pg_temp.nsp_try(format('SELECT mc_set(%L, %L)::text', repeat('k', 245), 'x'));
SELECT * FROM pg_temp.nsp_try(format('SELECT count(*)::text FROM mc_get_multi(ARRAY[%L])', repeat('k', 245)));
RESET pylibmc_pg.namespace;
-- the same 245-byte key is fine without the namespace
SELECT mc_set(repeat('k', 245), 'no namespace') AS set_245, mc_delete(repeat('k', 245)) AS delete_245;
SELECT mc_get('nsp_t08:' || repeat('k', 242)) AS raw_242, mc_delete('nsp_t08:' || repeat('k', 242)) AS delete;
--
-- Invalid namespaces are refused when they are SET
--
SELECT * FROM pg_temp.nsp_try($$SET pylibmc_pg.namespace = 'two words'$$);
SELECT code, detail FROM pg_temp.nsp_try($$SET pylibmc_pg.namespace = E'tab\there'$$);
SELECT code, detail FROM pg_temp.nsp_try($$SET pylibmc_pg.namespace = E'nl\n'$$);
SELECT code, detail FROM pg_temp.nsp_try($$SET pylibmc_pg.namespace = E'del\x7f'$$);
SELECT code, left(message, 60) AS message, detail
FROM pg_temp.nsp_try(format('SET pylibmc_pg.namespace = %L', repeat('n', 129)));
SELECT code, left(message, 60) AS message, detail
FROM pg_temp.nsp_try(format('SET pylibmc_pg.namespace = %L', repeat('n', 1000)));
-- a long namespace leaves that much less room for keys
SELECT set_config('pylibmc_pg.namespace', repeat('n', 127), false) = repeat('n', 127) AS set_127;
SELECT mc_set(repeat('k', 123), 'v') AS set_123, mc_delete(repeat('k', 123)) AS delete_123;
SELECT * FROM pg_temp.nsp_try(format('SELECT mc_get(%L)', repeat('k', 124)));
RESET pylibmc_pg.namespace;
SET pylibmc_pg.namespace = 'nsp_ok:';
SELECT * FROM pg_temp.nsp_try($$SET pylibmc_pg.namespace = 'two words'$$);
-- the refused value did not replace the current one
SHOW pylibmc_pg.namespace;
-- the empty namespace is no namespace
SET pylibmc_pg.namespace = '';
SELECT mc_set('nsp:empty', 'e') AS set, mc_get('nsp:empty') AS get, mc_delete('nsp:empty') AS delete;
RESET pylibmc_pg.namespace;
