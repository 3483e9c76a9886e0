# Part of Cordon's executor: see executor.py. The parts run as one program, in the order
# executor-link.ts lists them.

def send_frame(sock, obj):
    data = json.dumps(obj, separators=(',', ':')).encode('utf-8')
    sock.sendall(struct.pack('>I', len(data)) + data)


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            raise EOFError
        buf += chunk
    return bytes(buf)


def recv_frame(sock):
    n = struct.unpack('>I', recv_exact(sock, 4))[0]
    if n > MAX_REQUEST:
        raise ValueError('request too large')
    return json.loads(recv_exact(sock, n).decode('utf-8'))


def oom_kills():
    """The container's OOM-kill count (cgroup v1 or v2), or None where it cannot be read (gVisor)."""
    for path in ('/sys/fs/cgroup/memory/memory.oom_control', '/sys/fs/cgroup/memory.events'):
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith('oom_kill '):
                        return int(line.split()[1])
        except (OSError, ValueError):
            pass
    return None
