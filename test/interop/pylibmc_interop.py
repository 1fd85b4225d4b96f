#!/usr/bin/python3
"""pylibmc_interop.py: values cross between the real pylibmc 1.6.3 and SQL.

Every type the two share is written on one side and read on the other, in
both directions, over the ASCII protocol and again over the binary one
(pylibmc binary=True, SET pylibmc_pg.binary_protocol = on): str, bytes, int, bool,
jsonb (Python sees the JSON text), compressed values, pickles (a miss in
SQL), get_multi, incr on a counter the other side wrote, and CAS tokens
passed from one to the other.  Every compress_level (-1, 0..9) both ways,
on 100 KB and 600 KB values (our streams are libdeflate's, pylibmc's
zlib's).  Flags-0 bytes read as text: the text when UTF-8, else 22021.  Last, a zlib bomb written with pylibmc's
serialize hook: a value under the item size limit that inflates past 1 GB
must be an ERROR (54000) in SQL, never a crash, and the backend lives on;
and a statement_timeout cancels the read while it inflates.

Emits TAP.  Needs PMC_TCP (the memcached that pylibmc_pg.servers names by
default) and PG* for psql.  test/t/050_interop_pylibmc.pl runs it on a node
and a memcached of its own and reports each of its checks.
"""
import json
import os
import pickle
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pylibmc  # noqa: E402

from pmc_sql import Sql, SqlError, Tap, bytea_lit, lit, setup_database, text_lit  # noqa: E402

T = Tap()
SERVER = os.environ["PMC_TCP"]
STRS = {
    "empty": "",
    "ascii": "hello world",
    "accent": "héllo",
    "emoji": "emoji \U0001F600 \u2603 \u4e2d\u6587",
    "quote": "it's a \"quote\" \\ backslash\nnewline\ttab",
}
BYTES = {
    "empty": b"",
    "nul": b"\x00a\x00\x00b\x00",
    "all256": bytes(range(256)),
}
INTS = {"zero": 0, "neg7": -7, "max": 2**63 - 1, "min": -2**63, "big": 12345678901234}


class RawClient(pylibmc.Client):
    """pylibmc with the serialize hook: set(key, (bytes, flags))."""

    def serialize(self, value):
        return value[0], value[1]


def sql_rows_by_key(sql, query):
    return {r[0]: r[1:] for r in sql.rows(query)}


def check_python_to_sql(mode, mc, sql):
    p = "interop:%s:py2sql:" % mode

    # str
    for name, s in STRS.items():
        assert mc.set(p + "str:" + name, s)
    got = sql_rows_by_key(sql, "SELECT k, encode(convert_to(mc_get(%s || k), 'UTF8'), 'hex'), "
                          "(mc_get_raw(%s || k)).flags, mc_get(%s || k) IS NULL FROM unnest(array[%s]) k"
                          % (lit(p + "str:"), lit(p + "str:"), lit(p + "str:"),
                             ", ".join(lit(n) for n in STRS)))
    for name, s in STRS.items():
        hexval, flags, isnull = got[name]
        T.ok(isnull == "f" and bytes.fromhex(hexval).decode("utf-8") == s and flags == "16",
             "%s: pylibmc str %s reads back in SQL as the same text (flags 16)" % (mode, name),
             got[name])
    # a str holding NUL: valid for Python, not for SQL text: a miss, its bytes readable
    assert mc.set(p + "str:nul", "a\x00b")
    r = sql.rows("SELECT mc_get(%s) IS NULL, mc_get(%s, NULL::bytea)" % (lit(p + "str:nul"), lit(p + "str:nul")))
    T.eq(r, [["t", "\\x610062"]], "%s: pylibmc str with NUL is a miss as text, readable as bytea" % mode)

    # bytes
    for name, b in BYTES.items():
        assert mc.set(p + "bytes:" + name, b)
    got = sql_rows_by_key(sql, "SELECT k, mc_get(%s || k, NULL::bytea), (mc_get_raw(%s || k)).flags, "
                          "CASE WHEN k = 'empty' THEN mc_get(%s || k) END FROM unnest(array[%s]) k"
                          % (lit(p + "bytes:"), lit(p + "bytes:"), lit(p + "bytes:"),
                             ", ".join(lit(n) for n in BYTES)))
    for name, b in BYTES.items():
        want = "\\x" + b.hex()
        T.eq(got[name][:2], [want, "0"], "%s: pylibmc bytes %s read in SQL as bytea (flags 0)" % (mode, name))
    # as text, flags-0 bytes are UTF-8 text or ERROR 22021 (not hex)
    T.eq(got["empty"][2], "", "%s: pylibmc bytes b'' read as text is ''" % mode)
    assert mc.set(p + "bytes:utf8", "héllo ☃".encode("utf-8"))
    T.eq(sql.value("SELECT mc_get(%s) = %s" % (lit(p + "bytes:utf8"), text_lit("héllo ☃"))), "t",
         "%s: pylibmc UTF-8 bytes read as text are that text" % mode)
    out, err = sql.session("SELECT mc_get(%s);\nSELECT mc_get(%s, NULL::text);\n"
                           % (lit(p + "bytes:all256"), lit(p + "bytes:nul")))
    errors = [line for line in err.splitlines() if "ERROR:" in line]
    T.ok(len(errors) == 2 and all("22021" in e for e in errors) and err.count("mc_get(key, NULL::bytea)") == 2,
         "%s: pylibmc non-UTF-8 bytes read as text: ERROR 22021 with the bytea hint" % mode, err[:1000])

    # int
    for name, i in INTS.items():
        assert mc.set(p + "int:" + name, i)
    got = sql_rows_by_key(sql, "SELECT k, mc_get(%s || k, NULL::bigint), (mc_get_raw(%s || k)).flags, "
                          "mc_get(%s || k) FROM unnest(array[%s]) k"
                          % (lit(p + "int:"), lit(p + "int:"), lit(p + "int:"),
                             ", ".join(lit(n) for n in INTS)))
    for name, i in INTS.items():
        T.eq(got[name], [str(i), "4", str(i)], "%s: pylibmc int %s = %d read as bigint (flags 4)" % (mode, name, i))
    assert mc.set(p + "int:huge", 2**64 + 1)
    r = sql.rows("SELECT mc_get(%s, NULL::numeric)" % lit(p + "int:huge"))
    T.eq(r, [[str(2**64 + 1)]], "%s: pylibmc int 2**64+1 reads as numeric" % mode)
    out, err = sql.session("SELECT mc_get(%s, NULL::bigint);" % lit(p + "int:huge"))
    T.ok("22003" in err and p + "int:huge" in err,
         "%s: pylibmc int 2**64+1 read as bigint is ERROR 22003 naming the key" % mode, err)

    # bool
    assert mc.set(p + "bool:t", True) and mc.set(p + "bool:f", False)
    r = sql.rows("SELECT mc_get(%s, NULL::boolean), mc_get(%s), (mc_get_raw(%s)).flags, "
                 "mc_get(%s, NULL::boolean), mc_get(%s), mc_get(%s, NULL::bigint)"
                 % (lit(p + "bool:t"), lit(p + "bool:t"), lit(p + "bool:t"),
                    lit(p + "bool:f"), lit(p + "bool:f"), lit(p + "bool:t")))
    T.eq(r, [["t", "1", "2", "f", "0", "1"]],
         "%s: pylibmc True/False read as boolean true/false, text '1'/'0', flags 2" % mode)

    # a JSON text written as a str reads as jsonb
    doc = {"a": [1, 2.5, None, "é"], "b": {"c": True}}
    assert mc.set(p + "json", json.dumps(doc))
    r = sql.value("SELECT mc_get(%s, NULL::jsonb)::text" % lit(p + "json"))
    T.eq(json.loads(r), doc, "%s: pylibmc str of JSON reads as jsonb" % mode)

    # compressed: 10 KB str with min_compress_len=100, bytes, and an int
    big = "abcdefghij" * 1024
    assert mc.set(p + "z:str", big, min_compress_len=100)
    assert mc.set(p + "z:bytes", b"\x00\x01" * 5000, min_compress_len=100)
    assert mc.set(p + "z:accent", "é" * 5000, min_compress_len=100, compress_level=9)
    assert mc.set(p + "z:int", 10**300, min_compress_len=1)
    r = sql.rows("SELECT (mc_get_raw(%s)).flags, length((mc_get_raw(%s)).value), mc_get(%s) = repeat('abcdefghij', 1024)"
                 % (lit(p + "z:str"), lit(p + "z:str"), lit(p + "z:str")))
    T.ok(r[0][0] == "24" and int(r[0][1]) < 200 and r[0][2] == "t",
         "%s: pylibmc compressed 10 KB str (flags 24) reads back in SQL" % mode, r)
    r = sql.rows("SELECT (mc_get_raw(%s)).flags, mc_get(%s, NULL::bytea) = %s"
                 % (lit(p + "z:bytes"), lit(p + "z:bytes"), bytea_lit(b"\x00\x01" * 5000)))
    T.eq(r, [["8", "t"]], "%s: pylibmc compressed bytes (flags 8) read back in SQL" % mode)
    r = sql.rows("SELECT (mc_get_raw(%s)).flags, substr((mc_get_raw(%s)).value, 1, 2), mc_get(%s) = repeat('é', 5000)"
                 % (lit(p + "z:accent"), lit(p + "z:accent"), lit(p + "z:accent")))
    T.eq(r, [["24", "\\x78da", "t"]], "%s: pylibmc level-9 compressed multibyte str reads back" % mode)
    r = sql.rows("SELECT (mc_get_raw(%s)).flags, mc_get(%s, NULL::numeric) = 10::numeric ^ 300"
                 % (lit(p + "z:int"), lit(p + "z:int")))
    T.eq(r, [["12", "t"]], "%s: pylibmc compressed int 10**300 (flags 12) reads as numeric" % mode)

    # pickles: a miss in SQL, still visible raw
    assert mc.set(p + "pickle", {"x": [1, 2]})
    assert mc.set(p + "pickle:none", None)
    assert mc.set(p + "pickle:z", list(range(1000)), min_compress_len=1)
    r = sql.rows("SELECT mc_get(k) IS NULL, mc_get(k, NULL::bytea) IS NULL, (mc_get_raw(k)).flags "
                 "FROM unnest(array[%s, %s, %s]) WITH ORDINALITY u(k, n) ORDER BY n"
                 % (lit(p + "pickle"), lit(p + "pickle:none"), lit(p + "pickle:z")))
    T.eq(r, [["t", "t", "1"], ["t", "t", "1"], ["t", "t", "9"]],
         "%s: pylibmc pickles (flags 1, 9) are a miss in SQL, raw flags visible" % mode)
    raw = sql.value("SELECT encode((mc_get_raw(%s)).value, 'hex')" % lit(p + "pickle"))
    T.eq(pickle.loads(bytes.fromhex(raw)), {"x": [1, 2]},
         "%s: mc_get_raw returns the pickle's exact bytes" % mode)

    # get_multi over keys pylibmc wrote, with a prefix, pickles skipped
    # (bytes are flags 0: UTF-8 bytes read as text; b"\xff" would be 22021, tested above)
    assert mc.set_multi({"s": "é", "i": 42, "b": "byté".encode("utf-8"), "t": True, "p": 1.5},
                        key_prefix=p + "multi:") == []
    r = sql.rows("SELECT key, value FROM mc_get_multi(array['s', 'i', 'b', 't', 'p', 'absent'], %s) ORDER BY key"
                 % lit(p + "multi:"))
    T.eq(r, [["b", "byté"], ["i", "42"], ["s", "é"], ["t", "1"]],
         "%s: SQL mc_get_multi reads pylibmc set_multi values (float pickle skipped)" % mode)
    r = sql.rows("SELECT key, value FROM mc_get_multi(array['i', 't'], NULL::bigint, %s) ORDER BY key"
                 % lit(p + "multi:"))
    T.eq(r, [["i", "42"], ["t", "1"]], "%s: typed mc_get_multi(bigint) over pylibmc's int and bool" % mode)

    # non-ASCII key written by pylibmc
    key = p + "ключ"
    assert mc.set(key, "значение")
    T.eq(sql.value("SELECT mc_get(%s)" % text_lit(key)), "значение",
         "%s: non-ASCII key written by pylibmc read in SQL" % mode)

    # incr in SQL on pylibmc's counter, then pylibmc reads it as an int
    assert mc.set(p + "ctr", 10)
    T.eq(sql.value("SELECT mc_incr(%s, 5)" % lit(p + "ctr")), "15", "%s: SQL mc_incr on pylibmc's int" % mode)
    T.eq(mc.get(p + "ctr"), 15, "%s: pylibmc reads the SQL-incremented counter as int 15" % mode)
    T.eq(sql.value("SELECT mc_decr(%s, 100)" % lit(p + "ctr")), "0", "%s: SQL mc_decr stops at 0" % mode)
    T.eq(mc.get(p + "ctr"), 0, "%s: pylibmc reads the decremented counter as 0" % mode)
    assert mc.set(p + "ctr:str", "7")
    T.eq(sql.value("SELECT mc_incr(%s)" % lit(p + "ctr:str")), "8", "%s: SQL mc_incr on pylibmc's str '7'" % mode)
    T.eq(mc.get(p + "ctr:str"), "8", "%s: pylibmc still reads it as str '8' (flags kept)" % mode)

    # append in SQL to pylibmc's str keeps its flags
    assert mc.set(p + "ap", "mid")
    sql.rows("SELECT mc_append(%s, '>'::text), mc_prepend(%s, '<'::text)" % (lit(p + "ap"), lit(p + "ap")))
    T.eq(mc.get(p + "ap"), "<mid>", "%s: SQL append/prepend on pylibmc's str, pylibmc reads str" % mode)


def check_sql_to_python(mode, mc, sql):
    p = "interop:%s:sql2py:" % mode

    sql.rows("SELECT " + ", ".join("mc_set(%s, %s)" % (lit(p + "str:" + n), text_lit(s)) for n, s in STRS.items()))
    for name, s in STRS.items():
        got = mc.get(p + "str:" + name)
        T.ok(type(got) is str and got == s, "%s: SQL text %s reads in pylibmc as the same str" % (mode, name),
             "got %r want %r" % (got, s))

    sql.rows("SELECT " + ", ".join("mc_set(%s, %s)" % (lit(p + "bytes:" + n), bytea_lit(b)) for n, b in BYTES.items()))
    for name, b in BYTES.items():
        got = mc.get(p + "bytes:" + name)
        T.ok(type(got) is bytes and got == b, "%s: SQL bytea %s reads in pylibmc as the same bytes" % (mode, name),
             "got %r" % (got,))

    sql.rows("SELECT " + ", ".join("mc_set(%s, (%d)::bigint)" % (lit(p + "int:" + n), i) for n, i in INTS.items())
             + ", mc_set(%s, 32767::smallint), mc_set(%s, (-2147483648)::integer)"
             % (lit(p + "int:small"), lit(p + "int:int4")))
    for name, i in list(INTS.items()) + [("small", 32767), ("int4", -2147483648)]:
        got = mc.get(p + "int:" + name)
        T.ok(type(got) is int and got == i, "%s: SQL integer %s reads in pylibmc as int %d" % (mode, name, i),
             "got %r" % (got,))

    sql.rows("SELECT mc_set(%s, true), mc_set(%s, false)" % (lit(p + "bool:t"), lit(p + "bool:f")))
    got = (mc.get(p + "bool:t"), mc.get(p + "bool:f"))
    T.ok(got == (1, 0) and all(type(v) is int for v in got),
         "%s: SQL boolean true/false reads in pylibmc as int 1/0" % mode, got)

    doc = {"a": [1, "é", None], "n": {"x": 1.5}}
    sql.rows("SELECT mc_set(%s, %s::jsonb)" % (lit(p + "jsonb"), text_lit(json.dumps(doc))))
    got = mc.get(p + "jsonb")
    T.ok(type(got) is str and json.loads(got) == doc,
         "%s: SQL jsonb (flags 48) reads in pylibmc as the JSON text str" % mode, got)

    # compressed, with min_compress_len=100
    sql.rows("SELECT mc_set(%s, repeat('abcdefghij', 1024), min_compress_len => 100), "
             "mc_set(%s, convert_to(repeat('xy', 5000), 'UTF8'), min_compress_len => 100, compress_level => 1), "
             "mc_set(%s, to_jsonb(repeat('é', 3000)), min_compress_len => 100), "
             "mc_set(%s, repeat('é', 60), min_compress_len => 120, compress_level => 9)"
             % (lit(p + "z:str"), lit(p + "z:bytes"), lit(p + "z:jsonb"), lit(p + "z:accent")))
    r = sql.rows("SELECT (mc_get_raw(k)).flags FROM unnest(array[%s, %s, %s, %s]) WITH ORDINALITY u(k, n) ORDER BY n"
                 % (lit(p + "z:str"), lit(p + "z:bytes"), lit(p + "z:jsonb"), lit(p + "z:accent")))
    T.eq(r, [["24"], ["8"], ["56"], ["24"]], "%s: SQL compressed values have flags 24, 8, 56, 24" % mode)
    T.eq(mc.get(p + "z:str"), "abcdefghij" * 1024, "%s: SQL compressed 10 KB text reads in pylibmc" % mode)
    T.eq(mc.get(p + "z:bytes"), b"xy" * 5000, "%s: SQL compressed bytea (level 1) reads in pylibmc" % mode)
    T.eq(mc.get(p + "z:jsonb"), json.dumps("é" * 3000, ensure_ascii=False),
         "%s: SQL compressed jsonb (flags 56) reads in pylibmc as JSON text" % mode)
    T.eq(mc.get(p + "z:accent"), "é" * 60, "%s: SQL compressed 120-byte multibyte text reads in pylibmc" % mode)

    # set_multi both forms, read with pylibmc get_multi
    r = sql.value("SELECT mc_set_multi(jsonb_build_object('s', 'str', 'i', 5, 't', true, 'o', jsonb_build_object('x', 1),"
                  " 'f', 1.5, 'n', 'null'::jsonb), key_prefix => %s)" % lit(p + "mj:"))
    T.eq(r, "{}", "%s: SQL mc_set_multi(jsonb) stored every key" % mode)
    got = mc.get_multi(["s", "i", "t", "o", "f", "n", "absent"], key_prefix=p + "mj:")
    T.eq(got, {"s": "str", "i": 5, "t": 1, "o": '{"x": 1}', "f": "1.5", "n": "null"},
         "%s: pylibmc get_multi reads SQL set_multi(jsonb) values by type" % mode)
    sql.value("SELECT mc_set_multi(array['a', 'b', 'c'], array[1, -2, 9223372036854775807]::bigint[], key_prefix => %s)"
              % lit(p + "ma:"))
    T.eq(mc.get_multi(["a", "b", "c"], key_prefix=p + "ma:"), {"a": 1, "b": -2, "c": 2**63 - 1},
         "%s: pylibmc get_multi reads SQL set_multi(bigint[])" % mode)
    sql.value("SELECT mc_set_multi(array['a', 'b'], array['\\x00'::bytea, '\\x'::bytea], key_prefix => %s)"
              % lit(p + "mb:"))
    T.eq(mc.get_multi(["a", "b"], key_prefix=p + "mb:"), {"a": b"\x00", "b": b""},
         "%s: pylibmc get_multi reads SQL set_multi(bytea[]) incl. empty" % mode)

    # non-ASCII key written in SQL
    key = p + "ключ"
    sql.rows("SELECT mc_set(%s, 'v'::text)" % text_lit(key))
    T.eq(mc.get(key), "v", "%s: non-ASCII key written in SQL read by pylibmc" % mode)

    # pylibmc incr on SQL's bigint; SQL reads the result
    sql.rows("SELECT mc_set(%s, 41::bigint), mc_set(%s, true)" % (lit(p + "ctr"), lit(p + "ctr:bool")))
    T.eq(mc.incr(p + "ctr"), 42, "%s: pylibmc incr on SQL's bigint" % mode)
    T.eq(sql.value("SELECT mc_get(%s, NULL::bigint)" % lit(p + "ctr")), "42",
         "%s: SQL reads pylibmc's incremented counter" % mode)
    T.eq(mc.incr(p + "ctr:bool"), 2, "%s: pylibmc incr on SQL's boolean true gives 2" % mode)
    out, err = sql.session("SELECT mc_get(%s, NULL::boolean);" % lit(p + "ctr:bool"))
    T.ok("22P02" in err and "ctr:bool" in err, "%s: a flag-2 value of 2 read as boolean is ERROR 22P02" % mode, err)


def check_cas(mode, mcc, sql):
    p = "interop:%s:cas:" % mode
    # token from SQL used by pylibmc
    sql.rows("SELECT mc_set(%s, 'from sql'::text)" % lit(p + "a"))
    value, token = sql.rows("SELECT value, cas FROM mc_gets(%s)" % lit(p + "a"))[0]
    T.eq(value, "from sql", "%s: SQL mc_gets value" % mode)
    _, pytoken = mcc.gets(p + "a")
    T.eq(int(token), pytoken, "%s: SQL and pylibmc see the same CAS token" % mode)
    T.ok(mcc.cas(p + "a", "from python", int(token)) is True, "%s: pylibmc cas with SQL's token stores" % mode)
    T.eq(sql.value("SELECT mc_get(%s)" % lit(p + "a")), "from python", "%s: SQL reads pylibmc's cas write" % mode)
    T.ok(mcc.cas(p + "a", "again", int(token)) is False, "%s: SQL's token is stale for pylibmc after the write" % mode)
    # token from pylibmc used by SQL
    mcc.set(p + "b", 1)
    _, pytoken = mcc.gets(p + "b")
    T.eq(sql.value("SELECT mc_cas(%s, 2::bigint, %d)" % (lit(p + "b"), pytoken)), "t",
         "%s: SQL mc_cas with pylibmc's token stores" % mode)
    T.eq(mcc.get(p + "b"), 2, "%s: pylibmc reads SQL's cas write as int 2" % mode)
    T.eq(sql.value("SELECT mc_cas(%s, 3::bigint, %d)" % (lit(p + "b"), pytoken)), "f",
         "%s: pylibmc's old token is stale for SQL" % mode)
    # typed gets token works in pylibmc
    value, token = sql.rows("SELECT value, cas FROM mc_gets(%s, NULL::bigint)" % lit(p + "b"))[0]
    T.ok(value == "2" and mcc.cas(p + "b", 5, int(token)) is True,
         "%s: typed mc_gets token works in pylibmc cas" % mode)


# the header byte libdeflate writes for a level (RFC 1950 FLEVEL; informational)
FLEVEL = {-1: "789c", 1: "7801", 2: "785e", 3: "785e", 4: "785e", 5: "785e",
          6: "789c", 7: "789c", 8: "78da", 9: "78da"}  # libdeflate: 7 is "default" too (zlib: 7 is "maximum")


def level_values():
    """A 100 KB JSON-like text, and a 600 KB one: larger than the 256 kB
    buffer pmc_inflate tries first, so it takes the measure-then-inflate path."""
    row = '{"id": %d, "name": "user %d", "email": "u%d@example.com", "tags": ["a", "é"]}\n'
    small = "".join(row % (i, i * 7, i % 97) for i in range(1200))[:100 * 1024]
    large = "".join(row % (i, i * 13, i % 101) for i in range(8000))[:600 * 1024]
    return {"100k": small, "600k": large}


def check_levels(mode, mc, sql):
    """compress_level -1 and 0..9, both ways: pylibmc's streams inflate in
    SQL, ours (libdeflate) in pylibmc; 0 never compresses; a value that does
    not shrink stays uncompressed."""
    p = "interop:%s:level:" % mode
    vals = level_values()
    levels = [-1] + list(range(10))
    # pylibmc -> SQL
    for lv in levels:
        for name, v in vals.items():
            assert mc.set("%spy:%d:%s" % (p, lv, name), v, min_compress_len=1, compress_level=lv)
    keys = ["%spy:%d:%s" % (p, lv, name) for lv in levels for name in vals]
    got = sql_rows_by_key(sql, "SELECT k, (mc_get_raw(k)).flags, mc_get(k) = CASE WHEN k LIKE '%%100k' THEN %s ELSE %s END "
                          "FROM unnest(array[%s]) k"
                          % (text_lit(vals["100k"]), text_lit(vals["600k"]), ", ".join(lit(k) for k in keys)))
    bad = [k for k in keys if got[k][1] != "t"]
    T.ok(not bad, "%s: pylibmc's values at every level (-1, 0..9; 100 KB and 600 KB) read back in SQL" % mode, bad)
    T.ok(all(got[k][0] == "24" for k in keys if ":0:" not in k),
         "%s: pylibmc compressed them at levels -1, 1..9 (flags 24)" % mode, got)
    # SQL -> pylibmc
    stmts = []
    for lv in levels:
        for name, v in vals.items():
            stmts.append("mc_set(%s, %s, min_compress_len => 1, compress_level => %d)"
                         % (lit("%ssql:%d:%s" % (p, lv, name)), text_lit(v), lv))
    sql.rows("SELECT " + ", ".join(stmts))
    keys = ["%ssql:%d:%s" % (p, lv, name) for lv in levels for name in vals]
    raw = sql_rows_by_key(sql, "SELECT k, (mc_get_raw(k)).flags, encode(substr((mc_get_raw(k)).value, 1, 2), 'hex'), "
                          "length((mc_get_raw(k)).value) FROM unnest(array[%s]) k" % ", ".join(lit(k) for k in keys))
    bad = []
    for lv in levels:
        for name, v in vals.items():
            k = "%ssql:%d:%s" % (p, lv, name)
            flags, head, size = raw[k]
            if lv == 0:
                ok = flags == "16" and int(size) == len(v.encode("utf-8"))
            else:
                ok = flags == "24" and head == FLEVEL[lv] and int(size) < len(v.encode("utf-8")) // 3
            if not ok or mc.get(k) != v:
                bad.append((k, flags, head, size))
    T.ok(not bad, "%s: SQL values at every level read in pylibmc; 0 stores plain; others zlib streams "
         "with the level's header, under a third of the size" % mode, bad)
    # kept only when smaller
    sql.rows("SELECT mc_set(%s, 'ab'::text, min_compress_len => 1), mc_set(%s, %s, min_compress_len => 1, compress_level => 9)"
             % (lit(p + "tiny"), lit(p + "noise"), bytea_lit(os.urandom(4096))))
    T.eq(sql.rows("SELECT (mc_get_raw(%s)).flags, (mc_get_raw(%s)).flags" % (lit(p + "tiny"), lit(p + "noise"))),
         [["16", "0"]], "%s: values compression does not shrink are stored uncompressed" % mode)
    for k in list(keys) + ["%spy:%d:%s" % (p, lv, name) for lv in levels for name in vals] + [p + "tiny", p + "noise"]:
        mc.delete(k)


def bomb(n):
    """A zlib stream of n zero bytes, at deflate's best ratio (~1030:1)."""
    c = zlib.compressobj(9)
    chunk = b"\0" * (1 << 24)
    parts = []
    left = n
    while left > 0:
        k = min(left, len(chunk))
        parts.append(c.compress(chunk[:k]))
        left -= k
    parts.append(c.flush())
    return b"".join(parts)


def check_bomb(modes_clients):
    t0 = time.time()
    z = bomb((1 << 30) + 1)  # one byte past what PostgreSQL can hold
    T.diag("zlib bomb: %d bytes inflating to %d (built in %.1f s)" % (len(z), (1 << 30) + 1, time.time() - t0))
    T.ok(len(z) < 1024 * 1024 - 1024, "zlib bomb fits within memcached's 1 MB item", len(z))
    for mode, raw, sql, reads in modes_clients:
        p = "interop:%s:bomb:" % mode
        ok8 = raw.set(p + "8", (z, 8))
        ok24 = raw.set(p + "24", (z, 24))
        T.ok(ok8 and ok24, "%s: pylibmc stored the bomb with flags 8 and 24" % mode)
        script = "SELECT pg_backend_pid() AS pid \\gset\n"
        for r in reads:
            script += r.replace("KEY8", lit(p + "8")).replace("KEY24", lit(p + "24")) + ";\n"
        script += "SELECT 'alive', pg_backend_pid() = :pid, mc_set(%s, 'after'::text), mc_get(%s);\n" % (
            lit(p + "after"), lit(p + "after"))
        t0 = time.time()
        out, err = sql.session(script)
        errors = [line for line in err.splitlines() if "ERROR:" in line]
        T.ok(len(errors) == len(reads) and all("54000" in e and "inflates to more than" in e for e in errors),
             "%s: each read of the bomb is ERROR 54000 (%d reads, %.1f s)" % (mode, len(reads), time.time() - t0),
             err[:2000])
        T.eq(out.strip().split("\n")[-1:], ["alive\x1ft\x1ft\x1fafter"],
             "%s: same backend alive and working after the bomb" % mode)
        # cancellable: a statement_timeout fires while the bomb is measured
        t0 = time.time()
        out, err = sql.session("SET statement_timeout = '100ms';\nSELECT mc_get(%s, NULL::bytea);\n" % lit(p + "8"))
        T.ok("57014" in err and "statement timeout" in err,
             "%s: reading the bomb is cancelled by statement_timeout (57014, %.2f s)" % (mode, time.time() - t0),
             err[:1000])
        raw.delete(p + "8")
        raw.delete(p + "24")


def main():
    setup_database()
    ascii_mc = pylibmc.Client([SERVER])
    bin_mc = pylibmc.Client([SERVER], binary=True)
    for mode, mc in (("ascii", ascii_mc), ("binary", bin_mc)):
        sql = Sql(binary=(mode == "binary"))
        T.eq(sql.value("SELECT current_setting('pylibmc_pg.binary_protocol')"), "on" if mode == "binary" else "off",
             "%s: SQL session uses the %s protocol" % (mode, mode))
        for fn in (check_python_to_sql, check_sql_to_python):
            try:
                fn(mode, mc, sql)
            except (SqlError, pylibmc.Error, AssertionError) as e:
                T.ok(False, "%s: %s ran to the end" % (mode, fn.__name__), repr(e))
        try:
            check_levels(mode, mc, sql)
        except (SqlError, pylibmc.Error, AssertionError) as e:
            T.ok(False, "%s: check_levels ran to the end" % mode, repr(e))
        try:
            check_cas(mode, pylibmc.Client([SERVER], binary=(mode == "binary"), behaviors={"cas": True}), sql)
        except (SqlError, pylibmc.Error) as e:
            T.ok(False, "%s: check_cas ran to the end" % mode, repr(e))

    check_bomb([
        ("ascii", RawClient([SERVER]), Sql(False),
         ["SELECT mc_get(KEY24)", "SELECT mc_get(KEY8, NULL::bytea)",
          "SELECT * FROM mc_gets(KEY24)"]),
        ("binary", RawClient([SERVER], binary=True), Sql(True),
         ["SELECT * FROM mc_get_multi(array[KEY8, KEY24])"]),
    ])
    return T.done()


if __name__ == "__main__":
    sys.exit(main())
