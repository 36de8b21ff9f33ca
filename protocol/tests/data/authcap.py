# Sends a startup packet as the given user and dumps the server's first message (the auth request).
import socket, struct, sys
port = int(open('/tmp/h1pg/port').read())
user, name = sys.argv[1], sys.argv[2]
s = socket.create_connection(('127.0.0.1', port))
body = struct.pack('!I', 196608) + b'user\0' + user.encode() + b'\0database\0postgres\0\0'
s.sendall(struct.pack('!I', len(body)+4) + body)
data = b''
while len(data) < 5 or len(data) < 1 + struct.unpack('!I', data[1:5])[0]:
    c = s.recv(4096)
    if not c: break
    data += c
open('/tmp/h1pg/cap/%s.bin' % name, 'wb').write(data); print(name, data)
