--
-- types: the flags word of every writer and type (SPEC "Flags"),
-- compression, typed and cross-type reads, values written by other
-- clients, large values and the typed mc_set_multi.
-- Keys start with "types:".
--

-- A statement's error as "SQLSTATE: message", with the server's address
-- (which names a random port) masked.
CREATE FUNCTION types_try(stmt text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE stmt;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' ||
		regexp_replace(SQLERRM, '(127\.0\.0\.1|localhost):[0-9]+', 'HOST:PORT', 'g');
END
$$;

-- What is stored under each key: its flags and bytes (or their length)
CREATE FUNCTION types_raw(VARIADIC keys text[])
RETURNS TABLE (key text, flags integer, value bytea)
LANGUAGE sql AS $$
	SELECT k, (mc_get_raw(k)).flags, (mc_get_raw(k)).value
	FROM unnest(keys) WITH ORDINALITY AS u(k, n) ORDER BY n
$$;

-- Start clean: the keys that checks below expect to be absent
SELECT count(mc_delete(k)) AS deleted_or_not FROM unnest(array[
	'types:add:text', 'types:add:bytea', 'types:add:bigint', 'types:add:integer',
	'types:add:smallint', 'types:add:boolean', 'types:add:jsonb', 'types:add:absent',
	'types:ma:len1', 'types:ma:len2', 'types:ma:num', 'types:map:z', 'types:absent',
	'types:z:add', 'types:z:bad', 'types:big:2m', 'types:big:m2', 'types:big:m3']) k;

--
-- Flags written by each writer for each type
--
-- mc_set
SELECT mc_set('types:set:text', 'héllo'::text) AS text,
	   mc_set('types:set:bytea', '\x00ff0a'::bytea) AS bytea,
	   mc_set('types:set:bigint', 9223372036854775807::bigint) AS bigint,
	   mc_set('types:set:integer', (-2147483648)::integer) AS integer,
	   mc_set('types:set:smallint', (-7)::smallint) AS smallint,
	   mc_set('types:set:true', true) AS "true",
	   mc_set('types:set:false', false) AS "false",
	   mc_set('types:set:jsonb', '{"b": [1, 2.5, null], "a": "é"}'::jsonb) AS jsonb;
SELECT * FROM types_raw('types:set:text', 'types:set:bytea', 'types:set:bigint',
						'types:set:integer', 'types:set:smallint', 'types:set:true',
						'types:set:false', 'types:set:jsonb');
-- an unknown-typed literal is text; an integer literal is bigint
SELECT mc_set('types:set:literal', 'lit'), mc_set('types:set:intlit', 42);
SELECT * FROM types_raw('types:set:literal', 'types:set:intlit');

-- mc_add (absent keys) and mc_replace (present keys, changing the type)
SELECT mc_add('types:add:text', 'a'::text) AS text,
	   mc_add('types:add:bytea', '\x01'::bytea) AS bytea,
	   mc_add('types:add:bigint', 1::bigint) AS bigint,
	   mc_add('types:add:integer', 2::integer) AS integer,
	   mc_add('types:add:smallint', 3::smallint) AS smallint,
	   mc_add('types:add:boolean', true) AS boolean,
	   mc_add('types:add:jsonb', '[1]'::jsonb) AS jsonb;
SELECT * FROM types_raw('types:add:text', 'types:add:bytea', 'types:add:bigint',
						'types:add:integer', 'types:add:smallint', 'types:add:boolean',
						'types:add:jsonb');
-- add on a present key stores nothing, whatever the type
SELECT mc_add('types:add:text', 5::bigint) AS not_added;
SELECT * FROM types_raw('types:add:text');
SELECT mc_replace('types:add:text', '\x02'::bytea) AS bytea,
	   mc_replace('types:add:bytea', 'r'::text) AS text,
	   mc_replace('types:add:bigint', false) AS boolean,
	   mc_replace('types:add:integer', '"s"'::jsonb) AS jsonb,
	   mc_replace('types:add:smallint', 70000::integer) AS integer,
	   mc_replace('types:add:boolean', (-1)::smallint) AS smallint,
	   mc_replace('types:add:jsonb', -5::bigint) AS bigint,
	   mc_replace('types:add:absent', 'x'::text) AS absent;
SELECT * FROM types_raw('types:add:text', 'types:add:bytea', 'types:add:bigint',
						'types:add:integer', 'types:add:smallint', 'types:add:boolean',
						'types:add:jsonb', 'types:add:absent');

-- mc_cas: each type, with the token from mc_gets
SELECT mc_set('types:cas:' || t, 'old'::text) FROM unnest(array['text', 'bytea', 'bigint', 'integer', 'smallint', 'boolean', 'jsonb']) t;
SELECT mc_cas('types:cas:text', 'new'::text, (mc_gets('types:cas:text')).cas) AS text,
	   mc_cas('types:cas:bytea', '\xdead'::bytea, (mc_gets('types:cas:bytea')).cas) AS bytea,
	   mc_cas('types:cas:bigint', (-9223372036854775808)::bigint, (mc_gets('types:cas:bigint')).cas) AS bigint,
	   mc_cas('types:cas:integer', 12::integer, (mc_gets('types:cas:integer')).cas) AS integer,
	   mc_cas('types:cas:smallint', 32767::smallint, (mc_gets('types:cas:smallint')).cas) AS smallint,
	   mc_cas('types:cas:boolean', true, (mc_gets('types:cas:boolean')).cas) AS boolean,
	   mc_cas('types:cas:jsonb', '{"k": true}'::jsonb, (mc_gets('types:cas:jsonb')).cas) AS jsonb;
SELECT * FROM types_raw('types:cas:text', 'types:cas:bytea', 'types:cas:bigint',
						'types:cas:integer', 'types:cas:smallint', 'types:cas:boolean',
						'types:cas:jsonb');

-- mc_set_multi(jsonb): each JSON type to its SQL type
SELECT mc_set_multi('{"str": "é", "int": -12, "max": 9223372036854775807,
					  "over": 9223372036854775808, "float": 1.5, "exp": 1e3,
					  "t": true, "f": false, "null": null,
					  "obj": {"x": 1}, "arr": [1, "a"]}'::jsonb,
					key_prefix => 'types:mj:') AS failed;
SELECT * FROM types_raw('types:mj:str', 'types:mj:int', 'types:mj:max', 'types:mj:over',
						'types:mj:float', 'types:mj:exp', 'types:mj:t', 'types:mj:f',
						'types:mj:null', 'types:mj:obj', 'types:mj:arr');
SELECT mc_get('types:mj:over', NULL::numeric) AS over,
	   mc_get('types:mj:null', NULL::jsonb) AS "null",
	   mc_get('types:mj:obj', NULL::jsonb) -> 'x' AS x;

-- mc_set_multi(keys, values): the array's element type decides
SELECT mc_set_multi(array['types:ma:t1', 'types:ma:t2'], array['a', 'ü']::text[]) AS text,
	   mc_set_multi(array['types:ma:b1', 'types:ma:b2'], array['\x00', '\x']::bytea[]) AS bytea,
	   mc_set_multi(array['types:ma:i1', 'types:ma:i2'], array[-9223372036854775808, 0]::bigint[]) AS bigint,
	   mc_set_multi(array['types:ma:n1', 'types:ma:n2'], array[1, -1]::integer[]) AS integer,
	   mc_set_multi(array['types:ma:s1', 'types:ma:s2'], array[2, -2]::smallint[]) AS smallint,
	   mc_set_multi(array['types:ma:l1', 'types:ma:l2'], array[true, false]) AS boolean,
	   mc_set_multi(array['types:ma:j1', 'types:ma:j2'], array['"s"', '{"a": 1}']::jsonb[]) AS jsonb;
SELECT * FROM types_raw('types:ma:t1', 'types:ma:t2', 'types:ma:b1', 'types:ma:b2',
						'types:ma:i1', 'types:ma:i2', 'types:ma:n1', 'types:ma:n2',
						'types:ma:s1', 'types:ma:s2', 'types:ma:l1', 'types:ma:l2',
						'types:ma:j1', 'types:ma:j2');
-- a jsonb[] element is always jsonb (48), unlike the mapping form
SELECT mc_get('types:ma:j1', NULL::jsonb) AS j1, mc_get('types:ma:j1') AS j1_text;
-- typed arrays with a prefix, read back typed
SELECT mc_set_multi(array['x', 'y'], array[10, 20]::bigint[], key_prefix => 'types:map:') AS failed;
SELECT key, value FROM mc_get_multi(array['x', 'y', 'z'], NULL::bigint, 'types:map:') ORDER BY key;
-- lengths must match; an unstorable element type is refused
SELECT mc_set_multi(array['types:ma:len1', 'types:ma:len2'], array[1]::bigint[]);
SELECT mc_set_multi(array['types:ma:len1'], array[1, 2]::bigint[]);
SELECT mc_set_multi(array['types:ma:num'], array[1.5]::numeric[]);
SELECT * FROM types_raw('types:ma:len1', 'types:ma:len2', 'types:ma:num');

--
-- Compression
--
-- threshold: compressed when the encoded value is at least min_compress_len
-- bytes; 'é' x 60 is 60 characters but 120 bytes
SELECT mc_set('types:z:119', repeat('a', 119), min_compress_len => 120) AS below,
	   mc_set('types:z:120', repeat('a', 120), min_compress_len => 120) AS at,
	   mc_set('types:z:e60', repeat('é', 60), min_compress_len => 120) AS multibyte,
	   mc_set('types:z:e59', repeat('é', 59), min_compress_len => 120) AS multibyte_below;
SELECT key, flags, length(value) FROM
	types_raw('types:z:119', 'types:z:120', 'types:z:e60', 'types:z:e59');
SELECT mc_get('types:z:120') = repeat('a', 120) AS a120,
	   mc_get('types:z:e60') = repeat('é', 60) AS e60,
	   mc_get('types:z:e60', NULL::bytea) = convert_to(repeat('é', 60), 'UTF8') AS e60_bytes;
-- not kept when it does not save anything
SELECT mc_set('types:z:short', 'abc', min_compress_len => 1) AS short,
	   mc_set('types:z:random', decode(string_agg(md5(i::text), ''), 'hex'), min_compress_len => 1) AS random
FROM generate_series(1, 100) i;
SELECT key, flags, length(value) FROM types_raw('types:z:short', 'types:z:random');
-- every type compresses, with its own flags + 8, except this bigint: 19
-- bytes, and libdeflate stores inputs that short (under 20 to 52 bytes, by
-- level) instead of compressing them, so it is kept uncompressed (flags 4)
SELECT mc_set('types:z:bytea', convert_to(repeat('xy', 500), 'UTF8'), min_compress_len => 1) AS bytea,
	   mc_set('types:z:bigint', 1000000000000000000::bigint, min_compress_len => 1) AS bigint,
	   mc_set('types:z:jsonb', to_jsonb(repeat('j', 1000)), min_compress_len => 1) AS jsonb,
	   mc_set('types:z:text', repeat('t', 1000), min_compress_len => 1) AS text;
SELECT key, flags, substr(value, 1, 2) AS header FROM
	types_raw('types:z:bytea', 'types:z:bigint', 'types:z:jsonb', 'types:z:text');
SELECT mc_get('types:z:bytea', NULL::bytea) = convert_to(repeat('xy', 500), 'UTF8') AS bytea,
	   mc_get('types:z:jsonb', NULL::jsonb) = to_jsonb(repeat('j', 1000)) AS jsonb,
	   mc_get('types:z:text') = repeat('t', 1000) AS text;
-- levels: 0 is off, -1 (6), 1 and 9 give their zlib headers
SELECT mc_set('types:z:l0', repeat('abcdefghij', 1024), min_compress_len => 100, compress_level => 0) AS l0,
	   mc_set('types:z:lm1', repeat('abcdefghij', 1024), min_compress_len => 100, compress_level => -1) AS lm1,
	   mc_set('types:z:l1', repeat('abcdefghij', 1024), min_compress_len => 100, compress_level => 1) AS l1,
	   mc_set('types:z:l9', repeat('abcdefghij', 1024), min_compress_len => 100, compress_level => 9) AS l9;
SELECT key, flags, length(value), substr(value, 1, 2) AS header FROM
	types_raw('types:z:l0', 'types:z:lm1', 'types:z:l1', 'types:z:l9');
SELECT count(*) FILTER (WHERE mc_get(k) = repeat('abcdefghij', 1024)) AS all_read_back
FROM unnest(array['types:z:l0', 'types:z:lm1', 'types:z:l1', 'types:z:l9']) k;
-- a value that inflates beyond the 256 kB single-pass buffer: measured, then
-- inflated again into its own block
SELECT mc_set('types:z:big', repeat('0123456789abcdef', 40000), min_compress_len => 1) AS big;
SELECT octet_length(mc_get('types:z:big')) AS big_len,
	   mc_get('types:z:big') = repeat('0123456789abcdef', 40000) AS big_text,
	   mc_get('types:z:big', NULL::bytea) = convert_to(repeat('0123456789abcdef', 40000), 'UTF8') AS big_bytea,
	   (mc_get_raw('types:z:big')).flags AS big_flags;
-- add, replace and set_multi compress too; cas never does (as pylibmc)
SELECT mc_add('types:z:add', repeat('a', 500), min_compress_len => 1) AS add,
	   mc_replace('types:z:add', repeat('b', 500), min_compress_len => 1) AS replace,
	   mc_set_multi(array['types:z:m1'], array[repeat('c', 500)], min_compress_len => 1) AS multi_arrays,
	   mc_set_multi(jsonb_build_object('types:z:m2', repeat('d', 500), 'types:z:m3', 5),
					min_compress_len => 1) AS multi_jsonb;
SELECT key, flags, substr(value, 1, 2) AS header FROM
	types_raw('types:z:add', 'types:z:m1', 'types:z:m2', 'types:z:m3');
SELECT mc_get('types:z:add') = repeat('b', 500) AS add,
	   mc_get('types:z:m1') = repeat('c', 500) AS m1,
	   mc_get('types:z:m2') = repeat('d', 500) AS m2;
SELECT mc_cas('types:z:add', repeat('e', 500), (mc_gets('types:z:add')).cas) AS cas;
SELECT key, flags, length(value) FROM types_raw('types:z:add');
-- bad compression arguments, in every writer
SELECT mc_set('types:z:bad', 'x', compress_level => 10);
SELECT mc_set('types:z:bad', 'x', compress_level => -2);
SELECT mc_set('types:z:bad', 'x', min_compress_len => -1);
SELECT mc_add('types:z:bad', 1, min_compress_len => -1);
SELECT mc_replace('types:z:bad', true, compress_level => 11);
SELECT mc_set_multi('{"a": 1}'::jsonb, key_prefix => 'types:z:bad', compress_level => 10);
SELECT mc_set_multi(array['types:z:bad'], array[1], min_compress_len => -5);
-- even when the value is too short to compress, and nothing was stored
SELECT mc_set('types:z:bad', '', min_compress_len => 1, compress_level => 42);
SELECT * FROM types_raw('types:z:bad');

--
-- Typed reads
--
SELECT mc_get('types:set:text', NULL::text) AS text,
	   mc_get('types:set:bytea', NULL::bytea) AS bytea,
	   mc_get('types:set:bigint', NULL::bigint) AS bigint,
	   mc_get('types:set:integer', NULL::integer) AS integer,
	   mc_get('types:set:smallint', NULL::smallint) AS smallint,
	   mc_get('types:set:true', NULL::boolean) AS "true",
	   mc_get('types:set:false', NULL::boolean) AS "false",
	   mc_get('types:set:jsonb', NULL::jsonb) AS jsonb;
SELECT pg_typeof(mc_get('types:set:bigint', NULL::bigint)) AS bigint,
	   pg_typeof(mc_get('types:set:smallint', NULL::smallint)) AS smallint,
	   pg_typeof(mc_get('types:set:jsonb', NULL::jsonb)) AS jsonb;
-- the text form of each
SELECT key, mc_get(key) FROM unnest(array['types:set:text', 'types:set:bytea',
	'types:set:bigint', 'types:set:integer', 'types:set:smallint', 'types:set:true',
	'types:set:false', 'types:set:jsonb']) WITH ORDINALITY AS u(key, n) ORDER BY n;
-- a miss is NULL for every type
SELECT mc_get('types:absent', NULL::text) IS NULL AS text,
	   mc_get('types:absent', NULL::bytea) IS NULL AS bytea,
	   mc_get('types:absent', NULL::bigint) IS NULL AS bigint,
	   mc_get('types:absent', NULL::boolean) IS NULL AS boolean,
	   mc_get('types:absent', NULL::jsonb) IS NULL AS jsonb;

-- cross-type reads go through the text form and the type's input function
SELECT mc_get('types:set:integer', NULL::text) AS int_as_text,
	   mc_get('types:set:smallint', NULL::numeric) AS int_as_numeric,
	   mc_get('types:set:true', NULL::bigint) AS bool_as_bigint,
	   mc_get('types:set:false', NULL::text) AS bool_as_text,
	   mc_get('types:set:jsonb', NULL::text) AS jsonb_as_text;
SELECT mc_set('types:x:42', '42'::text), mc_set('types:x:abc', 'abc'::text),
	   mc_set('types:x:json', '{"a": [1, {"b": null}]}'::text),
	   mc_set('types:x:one', 1), mc_set('types:x:two', 2),
	   mc_set('types:x:yes', 'yes'::text);
SELECT mc_get('types:x:42', NULL::bigint) + 1 AS text_42_as_bigint,
	   mc_get('types:x:42', NULL::smallint) AS text_42_as_smallint,
	   mc_get('types:x:one', NULL::boolean) AS int_1_as_boolean,
	   mc_get('types:x:yes', NULL::boolean) AS text_yes_as_boolean,
	   mc_get('types:x:json', NULL::jsonb) #> '{a,1}' AS json_text_as_jsonb,
	   mc_get('types:x:42', NULL::jsonb) AS text_42_as_jsonb,
	   mc_get('types:x:42', NULL::bytea) AS text_as_bytea,
	   mc_get('types:set:bigint', NULL::bytea) AS bigint_as_bytea,
	   mc_get('types:set:jsonb', NULL::bytea) = convert_to(mc_get('types:set:jsonb'), 'UTF8') AS jsonb_as_bytea;
-- a value that is not valid for the asked type: that type's error, naming the key
SELECT mc_get('types:x:abc', NULL::bigint);
SELECT mc_get('types:x:two', NULL::boolean);
SELECT mc_get('types:x:abc', NULL::jsonb);
SELECT mc_get('types:set:bigint', NULL::integer);
SELECT mc_get('types:set:integer', NULL::smallint);
SELECT mc_get('types:set:bytea', NULL::jsonb);
-- other types than the storable ones can be read (through the text form)
SELECT mc_set('types:x:date', '2024-02-29'::text), mc_set('types:x:num', '3.25'::text);
SELECT mc_get('types:x:date', NULL::date) + 1 AS next_day,
	   mc_get('types:x:num', NULL::numeric) * 2 AS doubled,
	   mc_get('types:x:42', NULL::double precision) / 8 AS float8;
-- a counter beyond bigint (another client wrote it) reads as numeric
SELECT mc_set_raw('types:x:huge', '18446744073709551615', 4);
SELECT mc_get('types:x:huge') AS text, mc_get('types:x:huge', NULL::numeric) AS numeric;
SELECT mc_get('types:x:huge', NULL::bigint);

-- mc_gets typed
SELECT value, pg_typeof(value), cas IS NOT NULL AS has_cas FROM mc_gets('types:set:bigint', NULL::bigint);
SELECT value, cas IS NOT NULL AS has_cas FROM mc_gets('types:set:jsonb', NULL::jsonb);
SELECT value, cas IS NOT NULL AS has_cas FROM mc_gets('types:set:true', NULL::boolean);
SELECT value, cas IS NOT NULL AS has_cas FROM mc_gets('types:set:bytea', NULL::bytea);
SELECT value, cas IS NULL AS no_cas FROM mc_gets('types:absent', NULL::bigint);
SELECT value FROM mc_gets('types:x:abc', NULL::integer);
-- the typed token works with mc_cas, and goes stale after the write
SELECT mc_cas('types:set:bigint', 7::bigint, (mc_gets('types:set:bigint', NULL::bigint)).cas) AS fresh;
SELECT mc_get('types:set:bigint', NULL::bigint) AS now_7;

-- mc_get_multi typed: decoded per value, missing and undecodable keys give no row
SELECT mc_set_raw('types:x:pickle', '\x80049503000000000000004b2a2e', 1);
SELECT key, value FROM mc_get_multi(array['set:integer', 'set:smallint', 'x:42', 'x:one',
	'absent', 'x:pickle'], NULL::bigint, 'types:') ORDER BY key;
SELECT key, value FROM mc_get_multi(array['types:set:true', 'types:set:false', 'types:x:one'],
	NULL::boolean) ORDER BY key;
SELECT key, value FROM mc_get_multi(array['types:set:jsonb', 'types:x:json', 'types:ma:j2'],
	NULL::jsonb) ORDER BY key;
SELECT key, length(value), substr(value, 1, 3) FROM mc_get_multi(array['types:set:bytea', 'types:set:text', 'types:z:l9'],
	NULL::bytea) ORDER BY key;
SELECT key, value FROM mc_get_multi(array['types:set:text', 'types:set:true', 'types:set:jsonb',
	'types:set:bytea']) ORDER BY key;
-- one undecodable value for the asked type fails the whole call, naming it
SELECT key, value FROM mc_get_multi(array['types:x:42', 'types:x:abc'], NULL::bigint);

--
-- Values written by other clients (mc_set_raw), read with mc_get
--
SELECT mc_set_raw('types:f:' || k, v, f) FROM (VALUES
	('pickle', '\x80049503000000000000004b2a2e'::bytea, 1),
	('f3', '\x31'::bytea, 3),
	('f5', '\x31'::bytea, 5),
	('f6', '\x31'::bytea, 6),
	('f17', '\x31'::bytea, 17),
	('f20', '\x31'::bytea, 20),
	('notzlib', '\x6e6f74207a6c6962'::bytea, 8),
	('notzlib24', '\x6e6f74207a6c6962'::bytea, 24),
	('f32', '\x6869'::bytea, 32),
	('f64', '\x6869'::bytea, 64),
	('f256', '\x6869'::bytea, 256),
	('f2', '\x20352020'::bytea, 2),
	('f2neg', '\x2d3030303132'::bytea, 2),
	('f4plus', '\x2b3030'::bytea, 4),
	('f4float', '\x312e35'::bytea, 4),
	('f4empty', '\x'::bytea, 4),
	('f4blank', '\x20'::bytea, 4),
	('f16bad', '\xc328'::bytea, 16),
	('f16nul', '\x610062'::bytea, 16),
	('f16surr', '\xeda080'::bytea, 16),
	('f48bad', '\xff'::bytea, 48),
	('f48', '\x7b2261223a317d'::bytea, 48),
	('f80', '\x6869'::bytea, 80),
	('zlib', '\x789cabaaaa020002df016f'::bytea, 8),
	('zlibtext', '\x789c2b492d2e0100045d01c1'::bytea, 24),
	('zlibtail', '\x789c2b492d2e0100045d01c17a7a'::bytea, 24),
	('zlibint', '\x789c3334320600012d0097'::bytea, 12),
	('rawdeflate', '\xabaaaa0200'::bytea, 8),
	('zlibtrunc', '\x789cabaaaa020002df'::bytea, 8)
) AS t(k, v, f) ORDER BY k;
SELECT k AS key, mc_get('types:f:' || k) AS text, mc_get('types:f:' || k, NULL::bytea) AS bytes,
	   (mc_get_raw('types:f:' || k)).flags
FROM unnest(array['pickle', 'f3', 'f5', 'f6', 'f17', 'f20', 'notzlib', 'notzlib24', 'f32',
	'f64', 'f256', 'f2', 'f2neg', 'f4plus', 'f4float', 'f4empty', 'f4blank', 'f16bad',
	'f16nul', 'f16surr', 'f48bad', 'f48', 'f80', 'zlib', 'zlibtext', 'zlibtail', 'zlibint',
	'rawdeflate', 'zlibtrunc']) WITH ORDINALITY AS u(k, n) ORDER BY n;
SELECT mc_get('types:f:f2', NULL::integer) AS f2, mc_get('types:f:f2neg', NULL::bigint) AS f2neg,
	   mc_get('types:f:f4plus', NULL::bigint) AS f4plus, mc_get('types:f:zlibint', NULL::bigint) AS zlibint,
	   mc_get('types:f:f48', NULL::jsonb) AS f48, mc_get('types:f:f4float', NULL::numeric) AS f4float;
-- mc_get_raw still shows the undecodable ones as they are
SELECT * FROM types_raw('types:f:pickle', 'types:f:f20', 'types:f:notzlib', 'types:f:f16bad',
						'types:f:f4float');
-- flags above 2^31 come back as negative integers and read as their low bits say
SELECT mc_set_raw('types:f:high', 'hi', -2147483648 | 16);
SELECT * FROM types_raw('types:f:high');
SELECT mc_get('types:f:high') AS high;

--
-- Large values (the server's item size limit is memcached's default, 1 MB)
--
SELECT mc_set('types:big:1m', convert_to(repeat('0123456789', 100000), 'UTF8')) AS stored;
SELECT length(mc_get('types:big:1m', NULL::bytea)) AS length,
	   md5(mc_get('types:big:1m', NULL::bytea)) = md5(repeat('0123456789', 100000)) AS same;
-- 2 MB that does not compress: the server refuses it, 54000
SELECT types_try($$SELECT mc_set('types:big:2m', (SELECT string_agg(sha512(i::text::bytea), ''::bytea) FROM generate_series(1, 32768) i))$$);
SELECT types_try($$SELECT mc_set('types:big:2m', (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 65536) i), min_compress_len => 1)$$);
-- ... and the session goes on working
SELECT mc_get('types:big:2m') IS NULL AS absent, mc_set('types:big:after', 'ok'), mc_get('types:big:after');
-- 2 MB that compresses, with min_compress_len: stored and read back
SELECT mc_set('types:big:2mz', repeat('abcdefghij', 200000), min_compress_len => 1000) AS stored;
SELECT flags, length(value) < 100000 AS compressed FROM types_raw('types:big:2mz');
SELECT length(mc_get('types:big:2mz')) AS length, mc_get('types:big:2mz') = repeat('abcdefghij', 200000) AS same;
SELECT mc_set_multi(array['types:big:m2z'], array[repeat('z', 2000000)], min_compress_len => 1) AS failed;
SELECT length(mc_get('types:big:m2z')) AS length;
-- set_multi raises on a too-large value (as pylibmc raises TooBig); keys after it are not sent
SELECT types_try($$SELECT mc_set_multi(array['types:big:m2', 'types:big:m3'], array[(SELECT string_agg(sha512(i::text::bytea), ''::bytea) FROM generate_series(1, 32768) i), '\x00'::bytea])$$);
SELECT mc_get('types:big:m3', NULL::bytea) AS m3;

DROP FUNCTION types_try(text);
DROP FUNCTION types_raw(text[]);
