# A scripted fake PostgreSQL server for one connection: answers SSLRequest with N, reads the
# startup packet, sends STARTUP bytes; then, on the first Query, sends QUERY bytes and closes.
import socket, struct, sys, threading
def m(t, body): return t + struct.pack('!I', len(body) + 4) + body
def run(startup_bytes, query_bytes, port_file):
    srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(('127.0.0.1', 0)); srv.listen(1)
    open(port_file, 'w').write(str(srv.getsockname()[1]))
    c, _ = srv.accept()
    def read_packet():
        hdr = b''
        while len(hdr) < 4: hdr += c.recv(4 - len(hdr))
        n = struct.unpack('!I', hdr)[0]; body = b''
        while len(body) < n - 4: body += c.recv(n - 4 - len(body))
        return body
    body = read_packet()
    if struct.unpack('!I', body[:4])[0] == 80877103:
        c.sendall(b'N'); body = read_packet()
    c.sendall(startup_bytes)
    data = c.recv(65536)
    if data[:1] == b'Q':
        c.sendall(query_bytes)
    import time; time.sleep(0.5)
    c.close()
