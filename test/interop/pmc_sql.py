"""Shared helpers for the interop tests: TAP output and psql.

The tests talk to PostgreSQL only through psql (the same client a user
has), to memcached through the real pylibmc.  They use their own database
(PMC_INTEROP_DB, default pmc_interop) with the extension, so they neither
need nor disturb one that other tests use.
"""
import os
import subprocess
import sys

FS = "\x1f"  # field separator of psql's unaligned output


class Tap:
    """TAP producer: one line per check, the plan printed at the end."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, diag=None):
        self.n += 1
        if cond:
            print("ok %d - %s" % (self.n, name))
        else:
            self.failed += 1
            print("not ok %d - %s" % (self.n, name))
            if diag is not None:
                for line in str(diag).splitlines()[:20]:
                    print("#   " + line[:500])
        sys.stdout.flush()
        return cond

    def eq(self, got, want, name):
        return self.ok(got == want, name, "got:  %r\nwant: %r" % (got, want))

    def diag(self, msg):
        print("# " + msg)
        sys.stdout.flush()

    def done(self):
        print("1..%d" % self.n)
        return 1 if self.failed else 0


def database():
    return os.environ.get("PMC_INTEROP_DB", "pmc_interop")


def run_psql(args, sql=None, db=None, timeout=300):
    """Run psql; returns (returncode, stdout, stderr)."""
    cmd = ["psql", "-X", "-q", "-At", "-F", FS, "-d", db or database()] + args
    env = dict(os.environ, PGCLIENTENCODING="UTF8")
    p = subprocess.run(cmd, input=sql, capture_output=True, text=True, env=env,
                       timeout=timeout, encoding="utf-8", errors="surrogateescape")
    return p.returncode, p.stdout, p.stderr


def setup_database():
    """Create the test database and the extension in it if missing."""
    db = database()
    rc, out, err = run_psql(["-v", "db=" + db, "-f", "-"],
                            sql="SELECT count(*) FROM pg_database WHERE datname = :'db'\n",
                            db=os.environ.get("PGDATABASE", "postgres"))
    if rc != 0:
        raise RuntimeError("psql failed: " + err)
    if out.strip() == "0":
        rc, out, err = run_psql(["-v", "db=" + db, "-f", "-"],
                                sql="CREATE DATABASE :\"db\"\n",
                                db=os.environ.get("PGDATABASE", "postgres"))
        if rc != 0 and "already exists" not in err:
            raise RuntimeError("cannot create database %s: %s" % (db, err))
    for _ in range(3):
        rc, out, err = run_psql(["-v", "ON_ERROR_STOP=1", "-c",
                                 "CREATE EXTENSION IF NOT EXISTS pylibmc_pg"])
        if rc == 0:
            return
    raise RuntimeError("cannot create the extension: " + err)


class Sql:
    """Run SQL in one psql call, with pylibmc_pg.binary_protocol set as asked."""

    def __init__(self, binary=False):
        self.binary = binary

    def prelude(self):
        # "binary" is a keyword: SET needs it quoted (SET pylibmc_pg.binary_protocol)
        return "SET pylibmc_pg.binary_protocol = %s;\n" % ("on" if self.binary else "off")

    def rows(self, sql):
        """Rows of the last statement, each a list of str; raise on error."""
        rc, out, err = run_psql(["-v", "ON_ERROR_STOP=1", "-f", "-"],
                                sql=self.prelude() + sql + "\n")
        if rc != 0:
            raise SqlError(err.strip())
        return [line.split(FS) for line in out.split("\n") if line != ""]

    def value(self, sql):
        """The one value of a one-row, one-column query ('' for NULL)."""
        r = self.rows(sql)
        if len(r) != 1 or len(r[0]) != 1:
            raise SqlError("expected one value, got %r" % (r,))
        return r[0][0]

    def session(self, sql):
        """Run a script, going on after errors (VERBOSITY verbose, so each
        error shows its SQLSTATE); returns (stdout, stderr)."""
        rc, out, err = run_psql(["-f", "-"],
                                sql="\\set VERBOSITY verbose\n" + self.prelude() + sql + "\n")
        return out, err


class SqlError(Exception):
    pass


def lit(s):
    """A SQL string literal for a Python str (standard_conforming_strings)."""
    return "'" + s.replace("'", "''") + "'"


def text_lit(s):
    """A SQL text expression for any str, built from its UTF-8 bytes."""
    return "convert_from('\\x%s'::bytea, 'UTF8')" % s.encode("utf-8").hex()


def bytea_lit(b):
    return "'\\x%s'::bytea" % b.hex()
