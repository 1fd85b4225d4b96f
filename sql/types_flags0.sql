--
-- types_flags0: values other clients wrote with flags 0 (PHP, Go, Node.js and
-- pgmemcache store strings so).  Read as text they are that text when it
-- is valid UTF-8 (converted to the database encoding), else ERROR 22021
-- with a hint to read them as bytea; read as bytea they are unchanged.
-- Written here by pgmemcache itself and by mc_set_raw(k, bytes, 0).
-- Keys start with "flags0:".
--
SELECT current_setting('pylibmc_test.tcp') AS tcp, current_database() AS regdb \gset

-- pgmemcache, in the same backend, on the same server
CREATE EXTENSION pgmemcache;
SELECT memcache_server_add(:'tcp');
SELECT memcache_set('flags0:pgm:ascii', 'hello world'),
	   memcache_set('flags0:pgm:accent', 'héllo ☃ 中文'),
	   memcache_set('flags0:pgm:json', '{"a": [1, 2], "b": "é"}'),
	   memcache_set('flags0:pgm:int', '42'),
	   memcache_set('flags0:pgm:empty', '');
-- pgmemcache writes flags 0
SELECT k, (mc_get_raw('flags0:pgm:' || k)).flags FROM unnest(array['ascii', 'accent', 'json', 'int', 'empty']) k;
-- read as text: the text, not its hex form
SELECT mc_get('flags0:pgm:ascii') AS ascii, mc_get('flags0:pgm:accent') AS accent,
	   mc_get('flags0:pgm:empty') = '' AS empty_is_empty;
SELECT mc_get('flags0:pgm:ascii', NULL::text) AS ascii, mc_get('flags0:pgm:accent', NULL::text) AS accent;
SELECT mc_get('flags0:pgm:ascii') = memcache_get('flags0:pgm:ascii') AS same_as_pgmemcache,
	   mc_get('flags0:pgm:accent') = memcache_get('flags0:pgm:accent') AS same_accent;
-- through the text form to other types
SELECT mc_get('flags0:pgm:json', NULL::jsonb) AS json, mc_get('flags0:pgm:int', NULL::bigint) AS int;
-- bytea: the bytes, unchanged
SELECT mc_get('flags0:pgm:ascii', NULL::bytea) AS ascii,
	   mc_get('flags0:pgm:accent', NULL::bytea) = convert_to('héllo ☃ 中文', 'UTF8') AS accent_bytes;
-- get_multi, text form and typed
SELECT key, value FROM mc_get_multi(array['ascii', 'accent', 'empty', 'missing'], 'flags0:pgm:') ORDER BY key;
SELECT key, value FROM mc_get_multi(array['ascii', 'accent'], NULL::text, 'flags0:pgm:') ORDER BY key;
SELECT key, value FROM mc_get_multi(array['ascii', 'accent'], NULL::bytea, 'flags0:pgm:') ORDER BY key;
-- and the other way: what we write, pgmemcache reads
SELECT mc_set('flags0:sql:text', 'héllo from SQL'::text), mc_set('flags0:sql:bytea', convert_to('bytes ☃', 'UTF8'));
SELECT memcache_get('flags0:sql:text') AS text, memcache_get('flags0:sql:bytea') AS bytea;
DROP EXTENSION pgmemcache;

-- mc_set_raw with flags 0: valid UTF-8 reads as text
SELECT mc_set_raw('flags0:raw:' || k, v, 0) FROM (VALUES
	('ascii', '\x68656c6c6f'::bytea),
	('utf8', '\x68c3a96c6c6f20e29883'::bytea),
	('empty', '\x'::bytea),
	('bad', '\xc328'::bytea),
	('ff', '\xff00'::bytea),
	('nul', '\x610062'::bytea),
	('surrogate', '\xeda080'::bytea),
	('png', '\x89504e470d0a1a0a'::bytea)
) AS t(k, v) ORDER BY k;
SELECT mc_get('flags0:raw:ascii') AS ascii, mc_get('flags0:raw:utf8') AS utf8,
	   mc_get('flags0:raw:empty') = '' AS empty, mc_get('flags0:raw:empty') IS NULL AS empty_is_null;
-- not UTF-8 (or holding a NUL): 22021, with the hint, for each text reader
\set VERBOSITY sqlstate
SELECT mc_get('flags0:raw:bad');
\set VERBOSITY default
SELECT mc_get('flags0:raw:bad');
SELECT mc_get('flags0:raw:ff');
SELECT mc_get('flags0:raw:nul', NULL::text);
SELECT mc_get('flags0:raw:surrogate', NULL::jsonb);
SELECT mc_get('flags0:raw:png');
SELECT * FROM mc_get_multi(array['ascii', 'png'], 'flags0:raw:');
SELECT * FROM mc_get_multi(array['ascii', 'bad'], NULL::text, 'flags0:raw:');
-- bytea reads are unchanged, for every one of them
SELECT k, mc_get('flags0:raw:' || k, NULL::bytea) AS bytes
FROM unnest(array['ascii', 'utf8', 'empty', 'bad', 'ff', 'nul', 'surrogate', 'png']) WITH ORDINALITY u(k, n) ORDER BY n;
SELECT key, value FROM mc_get_multi(array['bad', 'png', 'nul'], NULL::bytea, 'flags0:raw:') ORDER BY key;
-- compressed flags 0 (flags 8): the same rules after inflating
SELECT mc_set_raw('flags0:raw:z', '\x789ccb48cdc9c95728cf2fca4901001a0b045d'::bytea, 8),
	   mc_set_raw('flags0:raw:zbad', '\x789cfbcfc0080003010101'::bytea, 8);
SELECT mc_get('flags0:raw:z') AS z, mc_get('flags0:raw:zbad', NULL::bytea) AS zbad_bytes;
SELECT mc_get('flags0:raw:zbad');
-- flags 16 (pylibmc's str) that is not UTF-8 stays a miss, as pylibmc's CacheMiss
SELECT mc_set_raw('flags0:raw:f16bad', '\xc328'::bytea, 16);
SELECT mc_get('flags0:raw:f16bad') IS NULL AS f16_bad_is_miss;

-- A LATIN1 database: flags-0 UTF-8 is converted to it; a character it
-- lacks is the conversion's own error (22P05)
CREATE DATABASE flags0_latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c flags0_latin1
CREATE EXTENSION pylibmc_pg;
SELECT mc_set_raw('flags0:raw:latin1ok', '\x68c3a96c6c6f'::bytea, 0);
SELECT length(mc_get('flags0:raw:latin1ok')) AS chars, encode(convert_to(mc_get('flags0:raw:latin1ok'), 'LATIN1'), 'hex') AS latin1;
\set VERBOSITY terse
SELECT mc_get('flags0:raw:utf8') IS NULL;
\set VERBOSITY default
\c :regdb
DROP DATABASE flags0_latin1;

SELECT count(mc_delete(k)) AS cleaned FROM unnest(array['flags0:pgm:ascii', 'flags0:pgm:accent',
	'flags0:pgm:json', 'flags0:pgm:int', 'flags0:pgm:empty', 'flags0:sql:text', 'flags0:sql:bytea',
	'flags0:raw:ascii', 'flags0:raw:utf8', 'flags0:raw:empty', 'flags0:raw:bad', 'flags0:raw:ff',
	'flags0:raw:nul', 'flags0:raw:surrogate', 'flags0:raw:png', 'flags0:raw:z', 'flags0:raw:zbad',
	'flags0:raw:f16bad', 'flags0:raw:latin1ok']) k;
