# Cordon's in-container executor: runs code for the runner inside a sandbox container.
#
# It runs as the sandbox's unprivileged user, as the child of docker-init (PID 1), from the
# container's command line (python3 -I -c <this file>), so images need only python3.
# It is NOT trusted: code in the sandbox runs as the same user and can replace it. The runner
# checks and caps everything it says, enforces the wall-clock limit itself, and learns about
# out-of-memory kills from the engine. This file only makes the common case fast: no
# `docker exec` per call, and a Python interpreter whose state lives from call to call.
#
# Channels (all under /run/cordon, a directory the runner binds in read-only):
#   executor.sock  the runner listens; we connect once, at start (gVisor's --host-uds=open
#                  lets a sandbox connect to a host socket, not listen on one). The runner
#                  accepts only the first connection, made before any code runs.
#   egress.sock    this sandbox's egress proxy channel, present only when it has egress.
#                  127.0.0.1:3128 forwards to it, so HTTP_PROXY-aware clients reach it.
# Frames both ways: a 4-byte big-endian length, then UTF-8 JSON.
import ast
import base64
import errno
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback

RUN_DIR = '/run/cordon'
MAX_REQUEST = 8 << 20
PROXY_PORT = 3128
KERNEL_SOURCE = r'''
import ast, io, os, struct, sys, traceback, json
try:
    with open('/proc/self/oom_score_adj', 'w') as f:
        f.write('1000')  # the interpreter, not the executor, is what the OOM killer takes
except OSError:
    pass
# argv: the reply pipe's descriptor, then the request pipe's. stdin is /dev/null, so code
# that reads its input cannot take the interpreter's requests.
out = os.fdopen(int(sys.argv[1]), 'wb', buffering=0)
ctl = os.fdopen(int(sys.argv[2]), 'rb', buffering=0)
sys.stdin = open(os.devnull)
sys.stdout = io.TextIOWrapper(io.FileIO(1, 'w', closefd=False), encoding='utf-8', errors='backslashreplace', write_through=True)
sys.stderr = io.TextIOWrapper(io.FileIO(2, 'w', closefd=False), encoding='utf-8', errors='backslashreplace', write_through=True)
os.chdir('/workspace')
g = {'__name__': '__main__', '__builtins__': __builtins__}
def read_exact(n):
    b = b''
    while len(b) < n:
        c = ctl.read(n - len(b))
        if not c:
            os._exit(0)
        b += c
    return b
out.write(struct.pack('>I', 2) + b'{}')  # ready
while True:
    n = struct.unpack('>I', read_exact(4))[0]
    req = json.loads(read_exact(n).decode('utf-8'))
    reply = {}
    try:
        tree = ast.parse(req['source'], '<cell>', 'exec')
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        exec(compile(tree, '<cell>', 'exec'), g)
        if last is not None:
            v = eval(compile(last, '<cell>', 'eval'), g)
            if v is not None:
                reply['value'] = repr(v)[: req['resultChars']]
    except BaseException as e:
        line = getattr(e, 'lineno', None)
        tb = e.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == '<cell>':
                line = tb.tb_lineno
            tb = tb.tb_next
        reply['error'] = {'name': type(e).__name__, 'message': str(e)[:4096]}
        if isinstance(line, int):
            reply['error']['line'] = line
        # The traceback from the cell's own frames on: this interpreter's loop is not the user's.
        tb = e.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != '<cell>':
            tb = tb.tb_next
        traceback.print_exception(type(e), e, tb)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        pass
    data = json.dumps(reply).encode('utf-8')
    out.write(struct.pack('>I', len(data)) + data)
'''


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


class Output:
    """stdout and stderr of one call, kept up to a shared byte cap; the rest is read and dropped."""

    def __init__(self, cap):
        self.cap = cap
        self.kept = 0
        self.parts = {'stdout': bytearray(), 'stderr': bytearray()}
        self.truncated = False

    def add(self, name, data):
        room = self.cap - self.kept
        if len(data) > room:
            self.truncated = True
            data = data[:max(room, 0)]
        self.parts[name] += data
        self.kept += len(data)


def pump(streams, output, until, deadline):
    """Reads `streams` ({fd: name}) into output until `until()` is true or the deadline passes.
    Returns False on the deadline."""
    while streams:
        if until():
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        ready, _, _ = select.select(list(streams), [], [], min(left, 0.05))
        for fd in ready:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b''
            if not data:
                del streams[fd]
            elif streams[fd] in output.parts:
                output.add(streams[fd], data)
            else:
                streams[fd](data)
    return True


def drain(fds, output, names):
    for fd in fds:
        while True:
            ready, _, _ = select.select([fd], [], [], 0)
            if not ready:
                break
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            output.add(names[fd], data)


def kill_everything_else():
    """After a timeout: every process this user may signal, but this one (and PID 1)."""
    try:
        os.kill(-1, signal.SIGKILL)
    except OSError:
        pass


class Kernel:
    """A Python interpreter whose globals live from call to call, like a notebook's.

    The first one is forked from the executor before it starts any thread (no second
    interpreter start on a new container's first call); later ones, after a timeout or an
    out-of-memory kill, are spawned afresh."""

    def __init__(self, fork=False):
        r_ctl, self.ctl = os.pipe()
        self.res, w_res = os.pipe()
        r_out, w_out = os.pipe()
        r_err, w_err = os.pipe()
        if fork:
            self.pid = os.fork()
            if self.pid == 0:
                try:
                    null = os.open(os.devnull, os.O_RDONLY)
                    os.dup2(null, 0)
                    os.dup2(w_out, 1)
                    os.dup2(w_err, 2)
                    keep = {0, 1, 2, w_res, r_ctl}
                    for fd in range(3, max(keep) + 64):
                        if fd not in keep:
                            try:
                                os.close(fd)
                            except OSError:
                                pass
                    sys.argv = ['-c', str(w_res), str(r_ctl)]
                    exec(compile(KERNEL_SOURCE, '<kernel>', 'exec'), {'__name__': '__main__', '__builtins__': __builtins__})
                finally:
                    os._exit(0)
        else:
            for fd in (w_res, r_ctl):
                os.set_inheritable(fd, True)
            actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0), (os.POSIX_SPAWN_DUP2, w_out, 1), (os.POSIX_SPAWN_DUP2, w_err, 2)]
            self.pid = os.posix_spawn(sys.executable, [sys.executable, '-I', '-u', '-c', KERNEL_SOURCE, str(w_res), str(r_ctl)], dict(os.environ), file_actions=actions)
        for fd in (r_ctl, w_res, w_out, w_err):
            os.close(fd)
        self.out = r_out
        self.err = r_err
        self.returncode = None
        self.fresh = True
        self.ready = False

    def wait_ready(self, deadline):
        """Reads the interpreter's ready frame; False if it died or the deadline passed first."""
        buf = b''
        while len(buf) < 6:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.res], [], [], left)[0]:
                return False
            chunk = os.read(self.res, 6 - len(buf))
            if not chunk:
                return False
            buf += chunk
        self.ready = buf == struct.pack('>I', 2) + b'{}'
        return self.ready

    def poll(self):
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid != 0:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self):
        if self.returncode is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def alive(self):
        return self.poll() is None

    def close(self):
        for fd in (self.ctl, self.res, self.out, self.err):
            try:
                os.close(fd)
            except OSError:
                pass


def run_python(state, req, output):
    kernel = state.get('kernel')
    if kernel is not None and not kernel.alive():
        kernel.close()
        kernel = None
    if kernel is None:
        kernel = state['kernel'] = Kernel()
    result = {'fresh': kernel.fresh}
    kernel.fresh = False
    before = oom_kills()
    deadline = time.monotonic() + req['timeoutMs'] / 1000.0
    names = {kernel.out: 'stdout', kernel.err: 'stderr'}
    reply_buf = bytearray()

    def done():
        if len(reply_buf) >= 4:
            n = struct.unpack('>I', bytes(reply_buf[:4]))[0]
            return len(reply_buf) >= 4 + n
        return False

    if kernel.ready or kernel.wait_ready(deadline):
        body = json.dumps({'source': req['source'], 'resultChars': req['resultBytes']}).encode('utf-8')
        try:
            os.write(kernel.ctl, struct.pack('>I', len(body)) + body)
        except OSError:
            pass

        def on_reply(data):
            reply_buf.extend(data[: (req['resultBytes'] * 4 + 65536) - len(reply_buf)])

        streams = dict(names)
        streams[kernel.res] = on_reply
        in_time = pump(streams, output, lambda: done() or kernel.res not in streams, deadline)
    else:
        in_time = time.monotonic() < deadline
    if not in_time:
        kill_everything_else()
        kernel.wait()
        drain(names, output, names)
        kernel.close()
        state['kernel'] = None
        result['status'] = 'timeout'
        return result
    if done():
        drain(names, output, names)
        n = struct.unpack('>I', bytes(reply_buf[:4]))[0]
        try:
            reply = json.loads(bytes(reply_buf[4:4 + n]).decode('utf-8'))
        except ValueError:
            reply = {'error': {'name': 'ExecutorError', 'message': 'unreadable reply from the interpreter'}}
        if 'error' in reply:
            result['status'] = 'error'
            result['error'] = reply['error']
        else:
            result['status'] = 'ok'
            if 'value' in reply:
                result['value'] = reply['value']
        return result
    # The interpreter died under the call: killed (out of memory?) or it exited.
    code = kernel.wait()
    drain(names, output, names)
    kernel.close()
    state['kernel'] = None
    after = oom_kills()
    if code == -signal.SIGKILL and (before is None or after is None or after > before):
        result['status'] = 'oom'
    else:
        result['status'] = 'error'
        result['error'] = {'name': 'ProcessExit', 'message': 'the Python interpreter exited with %s; its state is gone' % (('signal %d' % -code) if code < 0 else ('code %d' % code))}
    return result


def run_sh(req, output):
    before = oom_kills()
    deadline = time.monotonic() + req['timeoutMs'] / 1000.0
    proc = subprocess.Popen(
        ['/bin/sh', '-c', req['source']],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        cwd='/workspace', close_fds=True, start_new_session=True,
    )
    names = {proc.stdout.fileno(): 'stdout', proc.stderr.fileno(): 'stderr'}
    streams = dict(names)
    in_time = pump(streams, output, lambda: proc.poll() is not None, deadline)
    if not in_time:
        kill_everything_else()
        proc.wait()
        drain(names, output, names)
        proc.stdout.close()
        proc.stderr.close()
        return {'status': 'timeout'}
    code = proc.wait()
    # What the shell wrote before it ended; a background child holding the pipes open is not waited for.
    drain(names, output, names)
    proc.stdout.close()
    proc.stderr.close()
    after = oom_kills()
    if after is not None and before is not None and after > before:
        return {'status': 'oom', 'exitCode': 128 + 9 if code < 0 else code}
    if code < 0:
        return {'status': 'error', 'exitCode': 128 - code, 'error': {'name': 'Signal', 'message': 'the shell was killed by signal %d' % -code}}
    return {'status': 'ok' if code == 0 else 'error', 'exitCode': code}


def handle_run(state, req):
    output = Output(req['outputBytes'])
    started = time.monotonic()
    if req['lang'] == 'python':
        result = run_python(state, req, output)
    elif req['lang'] == 'sh':
        result = run_sh(req, output)
    else:
        result = {'status': 'error', 'error': {'name': 'LanguageError', 'message': 'unknown language'}}
    result['stdout'] = base64.b64encode(bytes(output.parts['stdout'])).decode('ascii')
    result['stderr'] = base64.b64encode(bytes(output.parts['stderr'])).decode('ascii')
    result['truncated'] = output.truncated
    result['durationMs'] = (time.monotonic() - started) * 1000.0
    return result


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


def main():
    state = {'kernel': None}
    # The container's languages (argv): a Python sandbox forks its interpreter now, before any
    # thread or socket exists, so its first call does not wait for a second interpreter to start.
    if len(sys.argv) > 1 and 'python' in sys.argv[1].split(','):
        state['kernel'] = Kernel(fork=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(os.path.join(RUN_DIR, 'executor.sock'))
    threading.Thread(target=forward_egress, daemon=True).start()
    if state['kernel'] is not None:
        state['kernel'].wait_ready(time.monotonic() + 30)
    send_frame(sock, {'op': 'hello', 'version': 1, 'pid': os.getpid()})
    while True:
        try:
            req = recv_frame(sock)
        except (EOFError, OSError, ValueError):
            os._exit(0)
        if req.get('op') != 'run':
            send_frame(sock, {'id': req.get('id'), 'status': 'error', 'error': {'name': 'ExecutorError', 'message': 'unknown op'}})
            continue
        try:
            result = handle_run(state, req)
        except Exception as e:  # noqa: BLE001 - reported to the runner, which decides
            result = {'status': 'error', 'error': {'name': 'ExecutorError', 'message': str(e)[:1000]}, 'stdout': '', 'stderr': '', 'truncated': False}
        result['id'] = req.get('id')
        send_frame(sock, result)


if __name__ == '__main__':
    main()
