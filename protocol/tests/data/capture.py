# Connects to a local PostgreSQL 15 server (trust auth), sends a startup packet and then
# the given queries one by one (simple protocol or extended), and dumps the raw reply bytes.
import socket, struct, sys, time
port = int(open('/tmp/h1pg/port').read())
def recv_until_Z(s):
    data = b''
    while True:
        chunk = s.recv(65536)
        if not chunk: return data
        data += chunk
        # walk frames
        i = 0; done = False
        while i + 5 <= len(data):
            t = data[i:i+1]; l = struct.unpack('!I', data[i+1:i+5])[0]
            if i + 1 + l > len(data): break
            if t == b'Z': done = True
            i += 1 + l
        if done and i == len(data): return data
def startup(s, user='postgres', db='postgres', extra=()):
    params = [('user', user), ('database', db), ('client_encoding', 'UTF8')] + list(extra)
    body = struct.pack('!I', 196608) + b''.join(k.encode()+b'\0'+v.encode()+b'\0' for k,v in params) + b'\0'
    s.sendall(struct.pack('!I', len(body)+4) + body)
    return recv_until_Z(s)
def q(sql):
    b = sql.encode() + b'\0'
    return b'Q' + struct.pack('!I', len(b)+4) + b
s = socket.create_connection(('127.0.0.1', port))
name = sys.argv[1]
if name == 'startup_select':
    out = startup(s); s.sendall(q('select 1 as one')); out += recv_until_Z(s)
else:
    startup(s)
    s.sendall(sys.argv[2].encode('latin1').decode('unicode_escape').encode('latin1') if False else b'')
    out = b''
    for sql in sys.argv[2:]:
        s.sendall(q(sql)); out += recv_until_Z(s)
open('/tmp/h1pg/cap/%s.bin' % name, 'wb').write(out)
s.sendall(b'X\0\0\0\x04'); s.close()
print(name, len(out))
