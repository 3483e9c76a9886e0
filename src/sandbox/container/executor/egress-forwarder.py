# Part of Cordon's executor: see executor.py. The parts run as one program, in the order
# executor-link.ts lists them.

# --- egress: 127.0.0.1:3128 -> /run/cordon/egress.sock, one thread for every connection ---

NO_EGRESS = (b'HTTP/1.1 403 Forbidden\r\nx-cordon-error: no_egress\r\ncontent-type: text/plain\r\n'
             b'connection: close\r\ncontent-length: 62\r\n\r\n'
             b'this sandbox has no egress: its profile names no egress policy')


def forward_egress():
    try:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(('127.0.0.1', PROXY_PORT))
        listener.listen(64)
        listener.setblocking(False)
    except OSError:
        return
    peers = {}
    pending = {}
    while True:
        watch = [listener] + list(peers)
        writers = [s for s in peers if pending.get(peers[s])]
        try:
            readable, writable, _ = select.select(watch, writers, [], 1.0)
        except (OSError, ValueError):
            readable, writable = [], []
            for s in list(peers):
                if s.fileno() < 0:
                    close_pair(peers, pending, s)
        for s in writable:
            out = peers.get(s)
            if out is None:
                continue
            buf = pending.get(out)
            try:
                sent = s.send(buf)
                pending[out] = buf[sent:]
            except OSError:
                close_pair(peers, pending, s)
        for s in readable:
            if s is listener:
                try:
                    client, _ = listener.accept()
                except OSError:
                    continue
                if len(peers) >= 128:
                    client.close()
                    continue
                upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    upstream.connect(os.path.join(RUN_DIR, 'egress.sock'))
                except OSError:
                    upstream.close()
                    try:
                        client.sendall(NO_EGRESS)
                    except OSError:
                        pass
                    client.close()
                    continue
                client.setblocking(False)
                upstream.setblocking(False)
                peers[client] = upstream
                peers[upstream] = client
                continue
            if s not in peers:
                continue
            # Back-pressure: read no more from a side whose peer has not taken the last read.
            if pending.get(s):
                continue
            try:
                data = s.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b''
            if not data:
                close_pair(peers, pending, s)
                continue
            pending[s] = data


def close_pair(peers, pending, s):
    other = peers.pop(s, None)
    pending.pop(s, None)
    if other is not None:
        peers.pop(other, None)
        pending.pop(other, None)
        other.close()
    s.close()
