#!/usr/bin/python3
"""property.py: random values of every storable type round-trip.

Run by test/t/150_interop_property.pl, which gives it a node and a memcached
of its own (PGHOST, PGPORT, PGUSER, PGDATABASE, PMC_TCP) and reports each
check it prints (TAP) as one of its own.

For each type (text with random Unicode, bytea with random bytes, bigint
with its extremes, boolean, jsonb with random nesting) a few thousand
values are generated from a seeded RNG, loaded with COPY into a temporary
table, and one query per type sets each value with mc_set and reads it
back with mc_get(key, NULL::type) and mc_get(key) (text form), returning
only the mismatches.  The same values also go through mc_set_multi(keys,
values) and mc_get_multi(keys, NULL::type), and every key is read once
more with the real pylibmc, which must see the value Python generated.
Passes: ASCII without compression, ASCII with min_compress_len = 1, and
the binary protocol with min_compress_len = 1.

The seed is printed; rerun a failure with PMC_SEED=<seed>.  PMC_PROP_N
sets the number of values per type and pass (default 1000: 3000 per type in all).
"""
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pylibmc  # noqa: E402

from pmc_sql import Sql, SqlError, Tap, setup_database  # noqa: E402

T = Tap()
SERVER = os.environ["PMC_TCP"]
SEED = int(os.environ.get("PMC_SEED") or (time.time_ns() % 2**32))
N = int(os.environ.get("PMC_PROP_N", "1000"))
rng = random.Random(SEED)

# ---------- generators ----------

# Unicode without NUL and without surrogates (PostgreSQL text can hold
# neither), weighted towards the interesting corners.
RANGES = [(1, 0x7f), (0x80, 0x7ff), (0x800, 0xd7ff), (0xe000, 0xfffd),
          (0x10000, 0x10ffff), (0x1f600, 0x1f64f)]


def rand_char():
    lo, hi = rng.choice(RANGES)
    return chr(rng.randint(lo, hi))


def rand_text():
    shape = rng.random()
    if shape < 0.05:
        return ""
    if shape < 0.55:
        return "".join(rand_char() for _ in range(rng.randint(1, 40)))
    if shape < 0.75:  # ASCII, with the characters COPY and SQL escape
        return "".join(rng.choice("ab \\\t\n\r'\"{}.,;\x01\x7f") for _ in range(rng.randint(1, 60)))
    if shape < 0.95:  # repetitive: compresses
        unit = "".join(rand_char() for _ in range(rng.randint(1, 5)))
        return unit * rng.randint(1, 3000)
    return "".join(rand_char() for _ in range(rng.randint(1000, 5000)))


def rand_bytes():
    shape = rng.random()
    if shape < 0.05:
        return b""
    if shape < 0.6:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 64)))
    if shape < 0.9:
        unit = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 4)))
        return unit * rng.randint(1, 4000)
    return rng.randbytes(rng.randint(1000, 20000))


EXTREMES = [0, 1, -1, 2**63 - 1, -2**63, 2**63 - 2, -2**63 + 1, 2**31, -2**31 - 1, 2**32, 10**18]


def rand_bigint():
    if rng.random() < 0.15:
        return rng.choice(EXTREMES)
    bits = rng.randint(1, 63)
    return rng.choice((1, -1)) * rng.getrandbits(bits)


def rand_bool():
    return rng.random() < 0.5


def rand_json_string():
    return "".join(rand_char() for _ in range(rng.randint(0, 12)))


def rand_json(depth=0):
    r = rng.random()
    if depth >= 4 or r < 0.35:
        s = rng.random()
        if s < 0.2:
            return rand_json_string()
        if s < 0.4:
            return rng.randint(-2**70, 2**70)
        if s < 0.6:
            return round(rng.uniform(-1e6, 1e6), rng.randint(0, 6))
        if s < 0.8:
            return rng.choice([True, False, None])
        return rng.randint(-100, 100)
    if r < 0.65:
        return [rand_json(depth + 1) for _ in range(rng.randint(0, 6))]
    return {rand_json_string(): rand_json(depth + 1) for _ in range(rng.randint(0, 6))}


# ---------- COPY text format ----------

def copy_escape(s):
    return (s.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t"))


def copy_value(typ, v):
    if typ == "text":
        return copy_escape(v)
    if typ == "bytea":
        return "\\\\x" + v.hex()
    if typ == "bigint":
        return str(v)
    if typ == "boolean":
        return "t" if v else "f"
    if typ == "jsonb":
        return copy_escape(json.dumps(v, ensure_ascii=False))
    raise ValueError(typ)


def pylibmc_sees(typ, v, got):
    """Does pylibmc's value equal what SQL should have stored for v?"""
    if typ == "text":
        return type(got) is str and got == v
    if typ == "bytea":
        return type(got) is bytes and got == v
    if typ == "bigint":
        return type(got) is int and got == v
    if typ == "boolean":
        return type(got) is int and got == (1 if v else 0)
    if typ == "jsonb":
        return type(got) is str and json.loads(got) == v
    return False


GENERATORS = {
    "text": rand_text,
    "bytea": rand_bytes,
    "bigint": rand_bigint,
    "boolean": rand_bool,
    "jsonb": rand_json,
}
# mc_get(key) shows a boolean as pylibmc stores it, every other type as its ::text
TEXTFORM = {"text": "val", "bytea": None, "bigint": "val::text",
            "boolean": "CASE WHEN val THEN '1' ELSE '0' END", "jsonb": "val::text"}
FLAGS = {"text": 16, "bytea": 0, "bigint": 4, "boolean": 2, "jsonb": 48}


def run_type(mode, binary, mcl, typ, values, check_text):
    prefix = "prop:%s:%s:" % (mode, typ)
    sql = Sql(binary=binary)
    data = "".join("%d\t%s\n" % (i, copy_value(typ, v)) for i, v in enumerate(values))
    script = """
-- flags-0 bytes read as text: the text when UTF-8 (convert_from agrees), else
-- 22021 (convert_from fails too)
CREATE FUNCTION pg_temp.bytea_text_ok(k text, val bytea) RETURNS boolean LANGUAGE plpgsql AS $f$
BEGIN
    BEGIN
        RETURN mc_get(k) IS NOT DISTINCT FROM convert_from(val, 'UTF8');
    EXCEPTION WHEN character_not_in_repertoire THEN
        BEGIN
            PERFORM convert_from(val, 'UTF8');
            RETURN false;
        EXCEPTION WHEN character_not_in_repertoire THEN
            RETURN true;
        END;
    END;
END $f$;
CREATE TEMP TABLE v (id integer PRIMARY KEY, k text, val {typ});
COPY v (id, val) FROM STDIN;
{data}\\.
UPDATE v SET k = '{prefix}' || id;
-- one: mc_set then mc_get per row (the CTE is evaluated first, row by row)
CREATE TEMP TABLE r1 AS
WITH s AS MATERIALIZED (SELECT id, k, val, mc_set(k, val, min_compress_len => {mcl}) AS stored FROM v)
SELECT id, stored, g.typed IS NOT DISTINCT FROM val AS typed_ok,
       {textcheck} AS text_ok, (g.raw).flags AS flags
FROM s, LATERAL (SELECT mc_get(k, NULL::{typ}) AS typed, mc_get_raw(k) AS raw OFFSET 0) g;
CREATE TEMP TABLE bad1 AS SELECT id, stored, typed_ok, text_ok, flags FROM r1
WHERE NOT (stored AND typed_ok AND text_ok AND flags & ~8 = {flags});
SELECT 'count', count(*), (SELECT count(*) FROM bad1), count(*) FILTER (WHERE flags & 8 = 8) FROM r1;
SELECT 'bad1', id, stored, typed_ok, text_ok, flags FROM bad1 ORDER BY id LIMIT 5;
-- two: the same through mc_set_multi(keys, values) and mc_get_multi(keys, type)
SELECT 'failed', cardinality(mc_set_multi(array_agg('m' || k ORDER BY id), array_agg(val ORDER BY id),
                                          min_compress_len => {mcl})) FROM v;
SELECT 'bad2', count(*), min(v.id) FROM v
LEFT JOIN mc_get_multi((SELECT array_agg('m' || k) FROM v), NULL::{typ}) g ON g.key = 'm' || v.k
WHERE g.key IS NULL OR g.value IS DISTINCT FROM v.val;
""".format(typ=typ, data=data, prefix=prefix, mcl=mcl, flags=FLAGS[typ],
               textcheck=("true" if not check_text else "pg_temp.bytea_text_ok(k, val)" if typ == "bytea"
                          else "mc_get(k) IS NOT DISTINCT FROM " + TEXTFORM[typ]))
    t0 = time.time()
    out, err = sql.session(script)
    t1 = time.time()
    T.diag("%s %s: SQL %.1f s" % (mode, typ, t1 - t0))
    rows = [line.split("\x1f") for line in out.split("\n") if line]
    errors = [line for line in err.splitlines() if "ERROR" in line]
    if errors:
        T.ok(False, "%s %s: the SQL ran without errors" % (mode, typ), "\n".join(errors[:5]))
        return
    by = {}
    for r in rows:
        by.setdefault(r[0], []).append(r[1:])
    count, nbad, ncompressed = by["count"][0]
    T.ok(int(count) == len(values) and int(nbad) == 0,
         "%s %s: %d values: mc_set, typed mc_get%s and flags %d all agree (%s stored compressed)"
         % (mode, typ, len(values), ", text form" if check_text else "", FLAGS[typ], ncompressed),
         "bad rows (id, stored, typed_ok, text_ok, flags): %r; seed %d; e.g. %r"
         % (by.get("bad1"), SEED, [values[int(b[0])] for b in by.get("bad1", [])][:2]))
    if mcl and typ in ("text", "bytea", "jsonb"):
        T.ok(int(ncompressed) > 0, "%s %s: some values were stored compressed" % (mode, typ), ncompressed)
    T.eq(by["failed"], [["0"]], "%s %s: mc_set_multi stored every value" % (mode, typ))
    nbad2, first = by["bad2"][0]
    T.ok(nbad2 == "0", "%s %s: mc_get_multi typed returns every value unchanged" % (mode, typ),
         "%s mismatches, first id %s (%r); seed %d" % (nbad2, first, values[int(first)] if first else None, SEED))

    # pylibmc reads what SQL stored
    mc = pylibmc.Client([SERVER], binary=binary)
    keys = [prefix + str(i) for i in range(len(values))]
    got = {}
    for start in range(0, len(keys), 500):
        got.update(mc.get_multi(keys[start:start + 500]))
    bad = [i for i, v in enumerate(values) if not pylibmc_sees(typ, v, got.get(keys[i], KeyError))]
    T.ok(not bad, "%s %s: pylibmc reads every value as Python generated it" % (mode, typ),
         "%d mismatches, first id %s: want %r got %r; seed %d"
         % (len(bad), bad[0] if bad else None, values[bad[0]] if bad else None,
            got.get(keys[bad[0]]) if bad else None, SEED))


def main():
    T.diag("seed %d (rerun with PMC_SEED=%d), %d values per type" % (SEED, SEED, N))
    setup_database()
    t0 = time.time()
    values = {typ: [gen() for _ in range(N)] for typ, gen in GENERATORS.items()}
    # extremes and the empty values always take part
    values["bigint"][:len(EXTREMES)] = EXTREMES
    values["text"][0] = ""
    values["bytea"][0] = b""
    values["boolean"][:2] = [True, False]
    values["jsonb"][:6] = [{}, [], None, "", 0, {"": [None, {"a": "é"}]}]
    for mode, binary, mcl in (("ascii", False, 0), ("ascii-z", False, 1), ("binary-z", True, 1)):
        for typ in GENERATORS:
            try:
                run_type(mode, binary, mcl, typ, values[typ], check_text=(mode == "ascii"))
            except (SqlError, pylibmc.Error, KeyError, IndexError, ValueError) as e:
                T.ok(False, "%s %s: ran to the end" % (mode, typ), repr(e))
    T.diag("%.1f s" % (time.time() - t0))
    return T.done()


if __name__ == "__main__":
    sys.exit(main())
