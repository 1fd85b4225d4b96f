--
-- types_memory: compression state (libdeflate's compressor and
-- decompressor) is PostgreSQL memory, a context of its own under
-- TopMemoryContext.  pg_backend_memory_contexts exists from PostgreSQL
-- 14 on (its columns differ between majors: only name and size are read):
-- types_memory_1.out is 13's output.
--
SELECT mc_set('types:ctx', repeat('compressible ', 1000), 0, 10, 6) AS stored,
	   (mc_get_raw('types:ctx')).flags, mc_get('types:ctx') = repeat('compressible ', 1000) AS same;
SELECT name, total_bytes > 600000 AS holds_level6_compressor
FROM pg_backend_memory_contexts WHERE name = 'pylibmc_pg compression';
SELECT mc_delete('types:ctx');

