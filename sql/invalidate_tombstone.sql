--
-- Tombstones and lease markers behave as an absent key for every call
-- (issue 24.6).  A tombstone is what the commit-time batch stores under
-- pylibmc_pg.invalidation_hold: a pickled None, flags 1, bytes "N.".  A
-- lease marker is another pickle of None (protocol 2: \x80\x02 N .),
-- flags 1.  Each call below runs on a key that holds one of them; the
-- value left afterwards shows that nothing was written over it (or what
-- was, where a call creates the key: incr/decr with an initial value).
-- Keys start with "tomb:".
--
SELECT current_setting('pylibmc_test.tcp') AS tcp \gset
SET pylibmc_pg.servers = :'tcp';
SELECT mc_get('tomb:nothing') IS NULL AS library_loaded;

-- the hold's tombstone is the first form
SET pylibmc_pg.invalidation_hold = 60;
SELECT mc_set('tomb:held', 'cached');
SELECT mc_delete_on_commit('tomb:held');
SELECT * FROM mc_get_raw('tomb:held');
RESET pylibmc_pg.invalidation_hold;

-- probe(marker): each call on a key that holds the marker ($1 in the
-- call; $2 is a cas token from before the marker was written: stale); the
-- result, or the SQLSTATE and message of its error, and the raw value left.
CREATE FUNCTION probe(marker bytea) RETURNS TABLE (call text, result text, left_value text)
LANGUAGE plpgsql AS $$
DECLARE
  calls text[] := ARRAY[
    'mc_get($1)', 'mc_get($1, NULL::bigint)', '(mc_gets($1)).value', '(mc_gets($1)).cas',
    '(SELECT count(*) FROM mc_get_multi(ARRAY[$1]))',
    'mc_incr($1)', 'mc_decr($1)', 'mc_incr($1, 5)',
    'mc_incr($1, 1, 10)', 'mc_decr($1, 1, 7, 60)',
    'mc_append($1, ''y'')', 'mc_prepend($1, ''y'')', 'mc_append($1, ''y''::bytea)',
    'mc_replace($1, ''new'')', 'mc_cas($1, ''new'', $2)',
    'mc_touch($1, 100)', 'mc_delete($1, 100)',
    'mc_add($1, ''fill'')', 'mc_set($1, ''write-through'')', 'mc_delete($1)'];
  c text;
  tok bigint;
  k text := 'tomb:probe';
BEGIN
  FOREACH c IN ARRAY calls LOOP
    -- a token from before the marker was written: stale
    PERFORM mc_set(k, 'old');
    tok := (mc_gets(k)).cas;
    PERFORM mc_set_raw(k, marker, 1, 60);
    call := c;
    BEGIN
      EXECUTE format('SELECT (%s)::text', c) INTO result USING k, tok;
      result := coalesce(result, 'NULL');
    EXCEPTION WHEN OTHERS THEN
      result := SQLSTATE || ': ' || SQLERRM;
    END;
    -- bytes as escape shows them, the control byte \x02 too
    SELECT coalesce(replace(encode(r.value, 'escape'), chr(2), '\002') || ' flags ' || r.flags, 'absent')
      INTO left_value FROM mc_get_raw(k) r;
    RETURN NEXT;
  END LOOP;
END $$;

-- ASCII protocol: the tombstone, then a lease marker
SELECT * FROM probe('\x4e2e');
SELECT * FROM probe('\x80024e2e');

-- binary protocol
SET pylibmc_pg.binary_protocol = on;
SELECT * FROM probe('\x4e2e');
SELECT * FROM probe('\x80024e2e');
RESET pylibmc_pg.binary_protocol;

-- a pickle of something else is a value: not a counter, appended to
SELECT mc_set_raw('tomb:int', '\x80044b052e', 1);   -- pickle.dumps(5, 4)
SELECT mc_incr('tomb:int');
SELECT mc_append('tomb:int', 'y'), (mc_get_raw('tomb:int')).flags;

DROP FUNCTION probe(bytea);
