import sys, subprocess, threading, time, struct
sys.path.insert(0, '/tmp/h1pg/fake')
from fake import run, m
ok = m(b'R', b'\0\0\0\0') + m(b'K', struct.pack('!ii', 1, 2)) + m(b'Z', b'I')
T1 = m(b'T', b'\0\x01a\0' + b'\0'*6 + b'\0\0\0\x17\0\x04\xff\xff\xff\xff\0\0')
cases = {
 'S_extra': (m(b'R', b'\0\0\0\0') + m(b'S', b'a\0b\0x') + m(b'K', struct.pack('!ii', 1, 2)) + m(b'Z', b'I'), b''),
 'D_past_end': (ok, T1 + m(b'D', b'\0\x01\0\0\0\x05ab') + m(b'C', b'SELECT 1\0') + m(b'Z', b'I')),
 'D_negative': (ok, T1 + m(b'D', b'\0\x01\xff\xff\xff\xfe') + m(b'C', b'SELECT 1\0') + m(b'Z', b'I')),
 'D_extra': (ok, T1 + m(b'D', b'\0\x01\0\0\0\x01ab') + m(b'C', b'SELECT 1\0') + m(b'Z', b'I')),
 'T_short': (ok, m(b'T', b'\0\x02a\0' + b'\0'*18) + m(b'Z', b'I')),
 'C_no_nul': (ok, m(b'C', b'SELECT 1') + m(b'Z', b'I')),
 'Z_unknown': (ok, m(b'C', b'SELECT 1\0') + m(b'Z', b'?')),
 'E_no_term': (ok, m(b'E', b'SERROR\0Mboom\0') + m(b'Z', b'I')),
}
which = sys.argv[1:] or list(cases)
for name in which:
    s, q = cases[name]
    pf = '/tmp/h1pg/fake/port'
    t = threading.Thread(target=run, args=(s, q, pf)); t.start()
    time.sleep(0.3)
    port = open(pf).read()
    out = subprocess.run(['python3', '/tmp/h1pg/fake/pq.py', 'host=127.0.0.1 port=%s user=u dbname=d sslmode=disable' % port, 'select 1'], capture_output=True, text=True)
    print(name, '=>', out.stdout.strip(), out.stderr.strip()[-300:])
    t.join()
