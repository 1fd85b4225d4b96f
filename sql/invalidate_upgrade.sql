--
-- ALTER EXTENSION pylibmc_pg UPDATE from 1.0 and from 1.1 gives the same
-- objects as a fresh 1.2 install: names and signatures (OUT parameters and
-- defaults too), volatility, strictness, parallel labels, security,
-- settings, bodies, views' definitions, ACLs and comments.
--
CREATE FUNCTION ext_objects() RETURNS TABLE (object text, attrs text, acl text, comment text)
LANGUAGE sql AS $$
  SELECT pg_describe_object(d.classid, d.objid, d.objsubid),
         CASE d.classid
           WHEN 'pg_proc'::regclass THEN
             (SELECT format('%s returns %s %s strict=%s parallel=%s secdef=%s leakproof=%s config=%s lang=%s src=%s args=%s',
                            p.oid::regprocedure, p.prorettype::regtype, p.provolatile, p.proisstrict,
                            p.proparallel, p.prosecdef, p.proleakproof, p.proconfig,
                            (SELECT lanname FROM pg_language WHERE oid = p.prolang), md5(p.prosrc),
                            pg_get_function_arguments(p.oid))
              FROM pg_proc p WHERE p.oid = d.objid)
           WHEN 'pg_class'::regclass THEN
             (SELECT format('%s %s', c.relkind, CASE WHEN c.relkind = 'v' THEN pg_get_viewdef(c.oid) END)
              FROM pg_class c WHERE c.oid = d.objid)
         END,
         CASE d.classid
           WHEN 'pg_proc'::regclass THEN (SELECT p.proacl::text FROM pg_proc p WHERE p.oid = d.objid)
           WHEN 'pg_class'::regclass THEN (SELECT c.relacl::text FROM pg_class c WHERE c.oid = d.objid)
         END,
         obj_description(d.objid, (SELECT relname FROM pg_class WHERE oid = d.classid))
  FROM pg_depend d
  WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
    AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pylibmc_pg')
$$;

-- every version reaches the default one
SELECT source, target, path FROM pg_extension_update_paths('pylibmc_pg')
WHERE path IS NOT NULL ORDER BY source, target;

-- from 1.0, in one step
DROP EXTENSION pylibmc_pg;
CREATE EXTENSION pylibmc_pg VERSION '1.0';
SELECT extversion FROM pg_extension WHERE extname = 'pylibmc_pg';
ALTER EXTENSION pylibmc_pg UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'pylibmc_pg';
CREATE TEMP TABLE upgraded AS SELECT * FROM ext_objects();

-- from 1.1 (1.0, then 1.1, as a 1.1 user did)
DROP EXTENSION pylibmc_pg;
CREATE EXTENSION pylibmc_pg VERSION '1.0';
ALTER EXTENSION pylibmc_pg UPDATE TO '1.1';
SELECT extversion FROM pg_extension WHERE extname = 'pylibmc_pg';
CREATE TEMP TABLE at_1_1 AS SELECT * FROM ext_objects();
ALTER EXTENSION pylibmc_pg UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'pylibmc_pg';
CREATE TEMP TABLE upgraded_from_1_1 AS SELECT * FROM ext_objects();

DROP EXTENSION pylibmc_pg;
CREATE EXTENSION pylibmc_pg;
SELECT extversion FROM pg_extension WHERE extname = 'pylibmc_pg';
CREATE TEMP TABLE fresh AS SELECT * FROM ext_objects();

SELECT count(*) > 40 AS many_objects, count(*) FILTER (WHERE comment IS NULL AND object LIKE 'function%') AS uncommented_functions
FROM fresh;
-- what only one of them has (every list empty)
(SELECT 'only upgraded from 1.0' AS side, * FROM upgraded EXCEPT SELECT 'only upgraded from 1.0', * FROM fresh)
UNION ALL
(SELECT 'only fresh, not from 1.0', * FROM fresh EXCEPT SELECT 'only fresh, not from 1.0', * FROM upgraded)
UNION ALL
(SELECT 'only upgraded from 1.1', * FROM upgraded_from_1_1 EXCEPT SELECT 'only upgraded from 1.1', * FROM fresh)
UNION ALL
(SELECT 'only fresh, not from 1.1', * FROM fresh EXCEPT SELECT 'only fresh, not from 1.1', * FROM upgraded_from_1_1)
ORDER BY 1, 2;
-- what 1.2 changed in 1.1's objects: mc_invalidate_triggers' body and comment, nothing else
SELECT f.object, a.attrs = f.attrs AS same_attrs, a.comment = f.comment AS same_comment,
       a.acl IS NOT DISTINCT FROM f.acl AS same_acl
FROM fresh f JOIN at_1_1 a USING (object)
WHERE (a.attrs, a.acl, a.comment) IS DISTINCT FROM (f.attrs, f.acl, f.comment)
ORDER BY 1;
-- (types left out: from PostgreSQL 18 on a view's row type is a member too)
SELECT (SELECT count(*) FROM fresh WHERE object NOT LIKE 'type %')
     - (SELECT count(*) FROM at_1_1 WHERE object NOT LIKE 'type %') AS objects_added;
-- the new function, as installed
SELECT object, attrs, acl, comment FROM fresh WHERE object LIKE '%mc_invalidate%' ORDER BY object;
-- the cluster-wide counters' objects and their privileges, as installed
SELECT object, acl LIKE '%pg_monitor=%' AS for_pg_monitor,
       coalesce(acl !~ '[{,]=', false) AS not_for_public, comment IS NOT NULL AS commented
FROM fresh WHERE object ~ '^(function|view) mc_cluster_stats' ORDER BY object;

DROP FUNCTION ext_objects();
