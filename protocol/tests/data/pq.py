# libpq 13.3 (psycopg2-binary's copy) via ctypes: connect, run one query, print everything.
import ctypes, sys, glob
for lib in sorted(glob.glob('/root/.cache/rexref/psycopg2_binary.libs/*.so*')):
    pass
for name in ['libcrypto', 'libssl', 'libgssapi', 'libldap', 'liblber', 'libsasl']:
    pass

import os
libs='/root/.cache/rexref/psycopg2_binary.libs'
pending=[n for n in sorted(os.listdir(libs)) if not n.startswith('libpq')]
for _ in range(len(pending)+1):
    left=[]
    for n in pending:
        try: ctypes.CDLL(os.path.join(libs,n), mode=ctypes.RTLD_GLOBAL)
        except OSError: left.append(n)
    pending=left
pq = ctypes.CDLL('/root/.cache/rexref/psycopg2_binary.libs/libpq-6f24e430.so.5.13')
pq.PQconnectdb.restype = ctypes.c_void_p; pq.PQconnectdb.argtypes = [ctypes.c_char_p]
pq.PQerrorMessage.restype = ctypes.c_char_p; pq.PQerrorMessage.argtypes = [ctypes.c_void_p]
pq.PQstatus.argtypes = [ctypes.c_void_p]
pq.PQexec.restype = ctypes.c_void_p; pq.PQexec.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
pq.PQresultStatus.argtypes = [ctypes.c_void_p]
pq.PQresultErrorMessage.restype = ctypes.c_char_p; pq.PQresultErrorMessage.argtypes = [ctypes.c_void_p]
pq.PQntuples.argtypes = [ctypes.c_void_p]; pq.PQnfields.argtypes = [ctypes.c_void_p]
pq.PQgetvalue.restype = ctypes.c_char_p; pq.PQgetvalue.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
pq.PQgetisnull.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
pq.PQtransactionStatus.argtypes = [ctypes.c_void_p]
pq.PQparameterStatus.restype = ctypes.c_char_p; pq.PQparameterStatus.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
def main(conninfo, sql):
    c = pq.PQconnectdb(conninfo.encode())
    print('connect status', pq.PQstatus(c), repr(pq.PQerrorMessage(c)), 'param a =', pq.PQparameterStatus(c, b'a'))
    if pq.PQstatus(c) != 0: return
    r = pq.PQexec(c, sql.encode())
    if not r:
        print('PQexec NULL', repr(pq.PQerrorMessage(c))); return
    st = pq.PQresultStatus(r)
    rows = [[None if pq.PQgetisnull(r, i, j) else pq.PQgetvalue(r, i, j) for j in range(pq.PQnfields(r))] for i in range(pq.PQntuples(r))]
    print('result', st, repr(pq.PQresultErrorMessage(r)), rows, 'xact', pq.PQtransactionStatus(c), 'conn err', repr(pq.PQerrorMessage(c)))
main(sys.argv[1], sys.argv[2])
