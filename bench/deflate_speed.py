#!/usr/bin/env python3
"""bench/deflate_speed.py: what compressing and inflating bench/run.sh's two
100 KB compressible values costs, with libdeflate (what the extension uses)
and zlib, outside PostgreSQL.

    python3 bench/deflate_speed.py [REPEATS]      (default 300)

For each value (the repeated phrase of the groups get100kz/set100kz, the
JSON of bench/jsonvalue.py for get100kj/set100kj) and levels 1, 6 and 9:
the zlib stream's size, the best time of REPEATS libdeflate_zlib_compress
calls, of REPEATS libdeflate_zlib_decompress calls into a buffer of the
exact size, and of zlib.compress.  Best of, not mean: on a shared machine
the best is the one least disturbed.  Needs libdeflate.so.0 (Debian's
libdeflate0, a dependency of libdeflate-dev).
"""
import ctypes
import os
import subprocess
import sys
import time
import zlib

REPEATS = int(sys.argv[1]) if len(sys.argv) > 1 else 300
HERE = os.path.dirname(os.path.abspath(__file__))

lib = ctypes.CDLL("libdeflate.so.0")
lib.libdeflate_alloc_compressor.restype = ctypes.c_void_p
lib.libdeflate_alloc_compressor.argtypes = [ctypes.c_int]
lib.libdeflate_free_compressor.argtypes = [ctypes.c_void_p]
lib.libdeflate_zlib_compress.restype = ctypes.c_size_t
lib.libdeflate_zlib_compress.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                                         ctypes.c_void_p, ctypes.c_size_t]
lib.libdeflate_alloc_decompressor.restype = ctypes.c_void_p
lib.libdeflate_zlib_decompress.restype = ctypes.c_int
lib.libdeflate_zlib_decompress.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                                           ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]


def best(fn, n):
    t = float("inf")
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        t = min(t, time.perf_counter() - t0)
    return t * 1e6


values = {
    "phrase (get100kz/set100kz)": (b"pylibmc_pg benchmark row, compressible; " * 2560)[:102400],
    "JSON (get100kj/set100kj)": subprocess.run(
        [sys.executable, os.path.join(HERE, "jsonvalue.py"), "102400"],
        check=True, capture_output=True).stdout,
}
decompressor = lib.libdeflate_alloc_decompressor()
print(f"best of {REPEATS} calls (zlib.compress: best of {max(REPEATS // 10, 1)}), µs\n")
print("| value | level | zlib stream bytes | ratio | libdeflate compress | libdeflate inflate "
      "| zlib compress |")
print("|---|---:|---:|---:|---:|---:|---:|")
for name, data in values.items():
    assert len(data) == 102400, (name, len(data))
    for level in (1, 6, 9):
        comp = lib.libdeflate_alloc_compressor(level)
        out = ctypes.create_string_buffer(len(data) + 1024)
        n = lib.libdeflate_zlib_compress(comp, data, len(data), out, len(out))
        stream = out.raw[:n]
        back = ctypes.create_string_buffer(len(data))
        if lib.libdeflate_zlib_decompress(decompressor, stream, n, back, len(data), None) != 0 \
                or back.raw != data or zlib.decompress(stream) != data:
            sys.exit(f"deflate_speed.py: {name} level {level} does not inflate back")
        tc = best(lambda: lib.libdeflate_zlib_compress(comp, data, len(data), out, len(out)), REPEATS)
        ti = best(lambda: lib.libdeflate_zlib_decompress(decompressor, stream, n, back, len(data), None),
                  REPEATS)
        tz = best(lambda: zlib.compress(data, level), max(REPEATS // 10, 1))
        print(f"| {name} | {level} | {n:,} | {len(data) / n:.1f}x | {tc:.0f} | {ti:.0f} | {tz:.0f} |")
        lib.libdeflate_free_compressor(comp)
