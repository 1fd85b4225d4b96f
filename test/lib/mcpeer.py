#!/usr/bin/python3
"""test/lib/mcpeer.py: a scripted memcached peer, for replies a real
memcached cannot send (malformed, lying or hostile ones).

    mcpeer.py MODE [LIFETIME_S [DRIP_S]]

Listens on 127.0.0.1 on a free port, prints the port on stdout (one line,
flushed), serves every connection in a thread until LIFETIME_S seconds
(default 120) have passed, then exits; the test that starts it kills it
by PID when done.  Standard library only.

ASCII modes answer each request line (a storage command's data line counts
as one too, as a confused service would):
    lying-value     VALUE k 0 5\\r\\nab\\r\\nEND\\r\\n   (a length that lies)
    error           ERROR\\r\\n
    server-error    SERVER_ERROR out of memory\\r\\n
    dup-value       VALUE k 0 1\\r\\na\\r\\nVALUE k 0 1\\r\\nb\\r\\nEND\\r\\n
                    (two values for one key)
    long-key        VALUE <300 x 'a'> 0 1\\r\\nx\\r\\nEND\\r\\n  (a key longer than
                    libmemcached's 251-byte key buffer)
    version-bare    VERSION\\r\\n   (no space, no number)

Timing modes, both protocols:
    drip            answers a get of key K with a value of 40 bytes for K, one
                    byte every DRIP_S seconds (default 0.5; argv[3])
    stall           accepts and never reads nor answers (its socket buffers
                    fill as a SIGSTOPped server's do)

Binary modes speak the binary protocol for everything but get replies
(version, noop, delete, set, quit answered correctly):
    bin-keylen-lie  a get reply whose key length exceeds its body length
    bin-body-lie    a get reply that claims 5 value bytes, sends 2 and
                    closes the connection
    bin-extlen-lie  a get reply whose extras length exceeds its body
    bin-other-key   a well-formed get reply for another key ("victim",
                    value "EVIL"), as a connection out of step would give
    bin-keylen-400  a get reply whose key is 400 bytes (body 405: extras,
                    key, one value byte), longer than libmemcached's key buffer
"""
import socket
import struct
import sys
import threading
import time

MODE = sys.argv[1] if len(sys.argv) > 1 else "lying-value"
LIFETIME = float(sys.argv[2]) if len(sys.argv) > 2 else 120.0
DRIP_S = float(sys.argv[3]) if len(sys.argv) > 3 else 0.5

ASCII_REPLIES = {
    "lying-value": b"VALUE k 0 5\r\nab\r\nEND\r\n",
    "error": b"ERROR\r\n",
    "server-error": b"SERVER_ERROR out of memory\r\n",
    "dup-value": b"VALUE k 0 1\r\na\r\nVALUE k 0 1\r\nb\r\nEND\r\n",
    "long-key": b"VALUE " + b"a" * 300 + b" 0 1\r\nx\r\nEND\r\n",
    "version-bare": b"VERSION\r\n",
}
TIMING_MODES = ("drip", "stall")
DRIP_VALUE = b"d" * 40


def drip(conn, data):
    for i in range(len(data)):
        conn.sendall(data[i:i + 1])
        time.sleep(DRIP_S)


def serve_ascii_drip(conn, first):
    buf = first
    while True:
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            words = line.strip().split()
            if words and words[0] in (b"get", b"gets"):
                reply = b""
                for key in words[1:]:
                    reply += b"VALUE " + key + b" 0 40\r\n" + DRIP_VALUE + b"\r\n"
                drip(conn, reply + b"END\r\n")
            elif words and words[0] == b"version":
                conn.sendall(b"VERSION 1.6.18\r\n")
            else:
                drip(conn, b"NOT_FOUND\r\n")
        chunk = conn.recv(65536)
        if not chunk:
            return
        buf += chunk

# binary opcodes
GET, SET, ADD, REPLACE, DELETE, QUIT, NOOP, VERSION = 0x00, 0x01, 0x02, 0x03, 0x04, 0x07, 0x0A, 0x0B
GETQ, GETK, GETKQ = 0x09, 0x0C, 0x0D
GET_FAMILY = (GET, GETQ, GETK, GETKQ)
QUIET = (GETQ, GETKQ, 0x11, 0x12, 0x13, 0x14, 0x15, 0x17)  # getq, getkq, setq...


def header(opcode, keylen, extlen, status, bodylen, opaque, cas=0):
    return struct.pack(">BBHBBHIIQ", 0x81, opcode, keylen, extlen, 0, status,
                       bodylen, opaque, cas)


def recv_exact(conn, n):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def serve_ascii(conn, first):
    reply = ASCII_REPLIES[MODE]
    buf = first
    while True:
        while b"\n" in buf:
            _line, buf = buf.split(b"\n", 1)
            conn.sendall(reply)
        chunk = conn.recv(65536)
        if not chunk:
            return
        buf += chunk


def serve_binary(conn, first):
    pending = first
    while True:
        if len(pending) < 24:
            pending += recv_exact(conn, 24 - len(pending))
        hdr, pending = pending[:24], pending[24:]
        magic, opcode, keylen, extlen, _dt, _vb, bodylen, opaque, _cas = \
            struct.unpack(">BBHBBHIIQ", hdr)
        if magic != 0x80:
            return
        if len(pending) < bodylen:
            pending += recv_exact(conn, bodylen - len(pending))
        body, pending = pending[:bodylen], pending[bodylen:]
        key = body[extlen:extlen + keylen]
        if opcode in GET_FAMILY and MODE == "drip":
            rkey = key if opcode in (GETK, GETKQ) else b""
            drip(conn, header(opcode, len(rkey), 4, 0, 4 + len(rkey) + 40, opaque, 1)
                 + b"\0\0\0\0" + rkey + DRIP_VALUE)
        elif opcode in GET_FAMILY:
            if MODE == "bin-keylen-400":
                conn.sendall(header(opcode, 400, 4, 0, 405, opaque, 1) + b"\0\0\0\0" + b"a" * 400 + b"x")
            elif MODE == "bin-keylen-lie":
                # key length 200 in a body of 9 bytes
                conn.sendall(header(opcode, 200, 4, 0, 9, opaque, 1) + b"\0\0\0\0" + b"abcde")
            elif MODE == "bin-other-key":
                conn.sendall(header(opcode, 6, 4, 0, 14, opaque, 1) + b"\0\0\0\0" + b"victim" + b"EVIL")
            elif MODE == "bin-extlen-lie":
                # extras length 200 in a body of 9 bytes
                conn.sendall(header(opcode, 0, 200, 0, 9, opaque, 1) + b"\0\0\0\0" + b"abcde")
            else:  # bin-body-lie
                conn.sendall(header(opcode, 0, 4, 0, 9, opaque, 1) + b"\0\0\0\0" + b"ab")
                return
        elif opcode == NOOP:
            conn.sendall(header(NOOP, 0, 0, 0, 0, opaque))
        elif opcode == VERSION:
            conn.sendall(header(VERSION, 0, 0, 0, 6, opaque) + b"1.6.18")
        elif opcode == DELETE:
            conn.sendall(header(DELETE, 0, 0, 1, 9, opaque) + b"Not found")
        elif opcode == QUIT:
            conn.sendall(header(QUIT, 0, 0, 0, 0, opaque))
            return
        elif opcode in QUIET:
            continue
        else:
            conn.sendall(header(opcode, 0, 0, 0, 0, opaque, 1))
        del key


def serve(conn):
    try:
        conn.settimeout(LIFETIME)
        if MODE == "stall":
            time.sleep(LIFETIME)
            return
        first = conn.recv(65536)
        if not first:
            return
        if first[0] == 0x80:
            serve_binary(conn, first)
        elif MODE == "drip":
            serve_ascii_drip(conn, first)
        elif MODE in ASCII_REPLIES:
            serve_ascii(conn, first)
        else:
            # a binary mode asked in ASCII: answer like the lying value
            conn.sendall(ASCII_REPLIES["lying-value"])
    except (OSError, EOFError):
        pass
    finally:
        conn.close()


def main():
    if MODE not in ASCII_REPLIES and MODE not in TIMING_MODES and not MODE.startswith("bin-"):
        sys.exit("unknown mode %r" % MODE)
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    print(srv.getsockname()[1], flush=True)
    deadline = time.monotonic() + LIFETIME
    srv.settimeout(0.5)
    while time.monotonic() < deadline:
        try:
            conn, _addr = srv.accept()
        except socket.timeout:
            continue
        threading.Thread(target=serve, args=(conn,), daemon=True).start()
    srv.close()


if __name__ == "__main__":
    main()
