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
# Ops: run (code), warm (start the Python interpreter), put and get (files in /workspace).
import ast
import base64
import errno
import json
import os
import select
import signal
import socket
import stat
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


# --- files: put and get under /workspace, never through a symbolic link ---
#
# The runner moves files in and out through us: the root file system is read-only and
# /workspace is a tmpfs the Docker daemon cannot see, so the Engine API's archive endpoints
# cannot. The runner has checked every path and cap already; the checks here are defence in
# depth, and the runner checks our replies in turn. Every path is walked one component at a
# time from an open /workspace, each opened only if it is no link and is what lstat saw
# (open_nofollow), so a symbolic link (made by code in the sandbox, perhaps while we walk)
# never takes a read or a write anywhere else.

WORKSPACE = '/workspace'
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# No setuid, setgid or sticky bit, no group or world write.
PERMISSIONS = 0o755
MAX_PATH_BYTES = 1024
MAX_COMPONENT_BYTES = 255
MAX_DEPTH = 64
MAX_SKIPPED = 100
STAGED_PREFIX = '.cordon-put-'


class FileError(Exception):
    """A put or get that cannot be done; reported to the runner with the path it concerns."""

    def __init__(self, name, message, path):
        Exception.__init__(self, message)
        self.name = name
        self.path = path


def file_error(e, path):
    if e.errno == errno.ELOOP:
        return FileError('ELOOP', '%s: a symbolic link is in the way; links are not followed' % path, path)
    name = errno.errorcode.get(e.errno, 'OSError') if e.errno else 'OSError'
    return FileError(name, '%s: %s' % (path, e.strerror or name), path)


def split_path(path, root_ok=False):
    """A normal relative path's components: no absolute path, no '..', '.' or empty component, no NUL."""
    if not isinstance(path, str):
        raise FileError('InvalidPath', 'a path is a string', '')
    if root_ok and path == '.':
        return []
    parts = path.split('/')
    try:
        size = len(path.encode('utf-8'))
    except UnicodeEncodeError:
        size = MAX_PATH_BYTES + 1
    if ('\0' in path or path.startswith('/') or any(p in ('', '.', '..') for p in parts)
            or len(parts) > MAX_DEPTH or size > MAX_PATH_BYTES):
        raise FileError('InvalidPath', '%r is not a relative path inside the workspace' % path[:256], path[:256])
    return parts


def open_nofollow(dir_fd, name, flags):
    """`name` in dir_fd opened, never through a link. O_NOFOLLOW alone is not relied on:
    gVisor's openat has followed a final link despite it, and Linux says ENOTDIR rather than
    ELOOP with O_DIRECTORY. So the name is lstat'ed first (a link is ELOOP), and what was
    opened must be what lstat saw (a link swapped in meanwhile is ELOOP too)."""
    before = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    if stat.S_ISLNK(before.st_mode):
        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP))
    fd = os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        after = os.fstat(fd)
    except OSError:
        os.close(fd)
        raise
    if (after.st_dev, after.st_ino) != (before.st_dev, before.st_ino):
        os.close(fd)
        raise OSError(errno.ELOOP, 'it changed while it was opened')
    return fd


def open_child_dir(dir_fd, name):
    return open_nofollow(dir_fd, name, os.O_RDONLY | os.O_DIRECTORY)


def open_dir(parts, made=None):
    """/workspace/<parts> opened as a directory, one component at a time, following no link.
    With `made` (a list), missing directories are created and recorded there."""
    fd = os.open(WORKSPACE, DIR_FLAGS)
    try:
        for i, name in enumerate(parts):
            try:
                child = open_child_dir(fd, name)
            except FileNotFoundError:
                if made is None:
                    raise
                os.mkdir(name, 0o755, dir_fd=fd)
                made.append(parts[:i + 1])
                child = open_child_dir(fd, name)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


class PutBatch:
    """One archive's entries, which may come in several frames. Files are staged under
    temporary names and renamed into place by the last frame (commit); a batch that fails
    (the workspace is full, a link is in the way) removes what it staged and the directories
    it made, so the workspace is as it was."""

    def __init__(self, batch):
        self.batch = batch
        self.staged = []      # [parent parts, temporary name, final name, renamed]
        self.made = []        # parts of the directories this batch created, in order
        self.dirs = []        # (parts, mode) of directory entries, set at commit
        self.current = None   # (fd, path) of a file whose data goes on in the next frame
        self.files = 0

    def add(self, entry):
        if not isinstance(entry, dict):
            raise FileError('ProtocolError', 'an entry is an object', '')
        path, kind, mode = entry.get('path'), entry.get('type'), entry.get('mode')
        if not isinstance(mode, int) or isinstance(mode, bool):
            mode = 0o755 if kind == 'directory' else 0o644
        if self.current is not None:
            if path != self.current[1] or kind != 'file':
                raise FileError('ProtocolError', 'the last frame left a file unfinished', self.current[1])
            self.write(entry)
            return
        parts = split_path(path)
        if kind == 'directory':
            try:
                os.close(open_dir(parts, self.made))
            except OSError as e:
                raise file_error(e, path)
            self.dirs.append((parts, (mode & PERMISSIONS) | 0o700))
            return
        if kind != 'file':
            raise FileError('ProtocolError', 'an entry is a file or a directory', path)
        try:
            parent = open_dir(parts[:-1], self.made)
            try:
                try:
                    if stat.S_ISDIR(os.stat(parts[-1], dir_fd=parent, follow_symlinks=False).st_mode):
                        raise FileError('EISDIR', '%s: a directory is there' % path, path)
                except FileNotFoundError:
                    pass
                tmp = STAGED_PREFIX + os.urandom(8).hex()
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=parent)
            finally:
                os.close(parent)
            self.staged.append([parts[:-1], tmp, parts[-1], False])
            self.current = (fd, path)
            os.fchmod(fd, mode & PERMISSIONS)
        except OSError as e:
            raise file_error(e, path)
        self.write(entry)

    def write(self, entry):
        fd, path = self.current
        try:
            view = memoryview(base64.b64decode(entry.get('data') or '', validate=True))
        except (ValueError, TypeError):
            raise FileError('InvalidData', '%s: data is not base64' % path, path)
        try:
            while view:
                view = view[os.write(fd, view):]
            if entry.get('more') is True:
                return
            os.close(fd)
        except OSError as e:
            raise file_error(e, path)
        self.current = None
        self.files += 1

    def commit(self):
        if self.current is not None:
            raise FileError('ProtocolError', 'the last frame left a file unfinished', self.current[1])
        for item in self.staged:
            parent, tmp, name = item[0], item[1], item[2]
            path = '/'.join(parent + [name])
            try:
                fd = open_dir(parent)
                try:
                    os.rename(tmp, name, src_dir_fd=fd, dst_dir_fd=fd)
                finally:
                    os.close(fd)
            except OSError as e:
                raise file_error(e, path)
            item[3] = True
        # Directory modes last, once everything is in them (each keeps u+rwx: see the runner).
        for parts, mode in sorted(self.dirs, key=lambda d: -len(d[0])):
            try:
                fd = open_dir(parts)
                try:
                    os.fchmod(fd, mode)
                finally:
                    os.close(fd)
            except OSError as e:
                raise file_error(e, '/'.join(parts))
        return self.files

    def rollback(self):
        if self.current is not None:
            try:
                os.close(self.current[0])
            except OSError:
                pass
            self.current = None
        for parent, tmp, _, renamed in self.staged:
            if renamed:
                continue
            try:
                fd = open_dir(parent)
                try:
                    os.unlink(tmp, dir_fd=fd)
                finally:
                    os.close(fd)
            except OSError:
                pass
        for parts in reversed(self.made):
            try:
                fd = open_dir(parts[:-1])
                try:
                    os.rmdir(parts[-1], dir_fd=fd)
                finally:
                    os.close(fd)
            except OSError:
                pass
        self.staged, self.made, self.dirs = [], [], []


def handle_put(state, req):
    batch = state.get('put')
    if batch is not None and batch.batch != req.get('batch'):
        batch.rollback()
        batch = None
    if batch is None:
        batch = state['put'] = PutBatch(req.get('batch'))
    try:
        files = req.get('files')
        if not isinstance(files, list):
            raise FileError('ProtocolError', 'files is a list', '')
        for entry in files:
            batch.add(entry)
        if req.get('commit') is True:
            state['put'] = None
            return {'status': 'ok', 'written': batch.commit()}
        return {'status': 'ok', 'written': batch.files}
    except FileError as e:
        error = {'name': e.name, 'message': str(e)[:1000], 'path': e.path}
    except Exception as e:  # noqa: BLE001 - reported to the runner, which decides
        error = {'name': 'ExecutorError', 'message': str(e)[:1000]}
    batch.rollback()
    state['put'] = None
    return {'status': 'error', 'error': error}


class Reader:
    """A get's walk: files and directories under a path, in name order, within the caps.
    Links, devices, fifos and sockets are skipped, not followed or read; a file that does not
    fit what is left of maxBytes is left out whole (never cut), and the reply says truncated."""

    def __init__(self, max_bytes, max_files):
        self.left = max_bytes
        self.max_files = max_files
        self.count = 0
        self.parts = []       # each entry, JSON-encoded once
        self.skipped = []
        self.truncated = False
        self.full = False

    def skip(self, path, reason):
        if reason == 'too_large':
            self.truncated = True
        if len(self.skipped) < MAX_SKIPPED:
            self.skipped.append({'path': path[:256], 'reason': reason})

    def room(self):
        if self.count >= self.max_files:
            self.truncated = self.full = True
            return False
        self.count += 1
        return True

    def walk(self, dir_fd, prefix, depth):
        try:
            names = sorted(os.listdir(dir_fd))
        except OSError:
            self.skip(prefix, 'unreadable')
            return
        for name in names:
            if self.full:
                return
            rel = prefix + '/' + name if prefix else name
            try:
                size = len(rel.encode('utf-8'))
            except UnicodeEncodeError:
                self.skip(rel.encode('utf-8', 'surrogateescape').decode('utf-8', 'replace'), 'name_not_utf8')
                continue
            if depth + 1 > MAX_DEPTH:
                self.skip(rel, 'too_deep')
                continue
            if size > MAX_PATH_BYTES or len(name.encode('utf-8')) > MAX_COMPONENT_BYTES:
                self.skip(rel, 'path_too_long')
                continue
            try:
                st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except OSError:
                continue  # gone since it was listed
            if stat.S_ISLNK(st.st_mode):
                self.skip(rel, 'symlink')
            elif stat.S_ISDIR(st.st_mode):
                self.directory(dir_fd, name, rel, depth + 1)
            elif stat.S_ISREG(st.st_mode):
                self.file(dir_fd, name, rel, False)
            else:
                self.skip(rel, 'not_a_file')

    def directory(self, dir_fd, name, rel, depth):
        try:
            fd = open_child_dir(dir_fd, name)
        except OSError as e:
            self.skip(rel, 'symlink' if e.errno == errno.ELOOP else 'unreadable')
            return
        try:
            if not self.room():
                return
            mode = os.fstat(fd).st_mode & PERMISSIONS
            self.parts.append(json.dumps({'type': 'directory', 'path': rel, 'mode': mode}, separators=(',', ':')).encode('ascii'))
            self.walk(fd, rel, depth)
        finally:
            os.close(fd)

    def file(self, dir_fd, name, rel, alone):
        try:
            # O_NONBLOCK: a fifo swapped in after the stat does not hang the open.
            fd = open_nofollow(dir_fd, name, os.O_RDONLY | os.O_NONBLOCK)
        except OSError as e:
            if alone:
                raise file_error(e, rel)
            self.skip(rel, 'symlink' if e.errno == errno.ELOOP else 'unreadable')
            return
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                if alone:
                    raise FileError('NotAFile', '%s is not a regular file' % rel, rel)
                self.skip(rel, 'not_a_file')
                return
            if st.st_size > self.left:
                if alone:
                    raise FileError('TooLarge', '%s is %d bytes; this transfer may read %d' % (rel, st.st_size, self.left), rel)
                self.skip(rel, 'too_large')
                return
            if not self.room():
                return
            chunks, want = [], st.st_size
            while want > 0:
                chunk = os.read(fd, min(want, 1 << 20))
                if not chunk:
                    break
                chunks.append(chunk)
                want -= len(chunk)
            data = b''.join(chunks)
        finally:
            os.close(fd)
        self.left -= len(data)
        self.parts.append(b'{"type":"file","path":' + json.dumps(rel).encode('ascii') + b',"mode":%d,"data":"' % (st.st_mode & PERMISSIONS)
                          + base64.b64encode(data) + b'"}')


def handle_get(sock, req):
    """Replies with one frame, written from each entry's encoded bytes: a large reply is never
    copied whole (the container's memory limit holds the workspace's tmpfs too)."""
    path = req.get('path')
    try:
        max_bytes, max_files = req.get('maxBytes'), req.get('maxFiles')
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in (max_bytes, max_files)):
            raise FileError('ProtocolError', 'maxBytes and maxFiles are counts', '')
        parts = split_path(path, root_ok=True)
        reader = Reader(max_bytes, max_files)
        try:
            fd = open_dir(parts[:-1])
        except OSError as e:
            raise file_error(e, path)
        try:
            if not parts:
                reader.walk(fd, '', 0)
            else:
                try:
                    st = os.stat(parts[-1], dir_fd=fd, follow_symlinks=False)
                except OSError as e:
                    raise file_error(e, path)
                if stat.S_ISLNK(st.st_mode):
                    raise FileError('ELOOP', '%s is a symbolic link; links are not followed' % path, path)
                if stat.S_ISDIR(st.st_mode):
                    reader.directory(fd, parts[-1], path, len(parts))
                elif stat.S_ISREG(st.st_mode):
                    reader.file(fd, parts[-1], path, True)
                else:
                    raise FileError('NotAFile', '%s is not a regular file or a directory' % path, path)
        finally:
            os.close(fd)
    except FileError as e:
        send_frame(sock, {'id': req.get('id'), 'status': 'error', 'error': {'name': e.name, 'message': str(e)[:1000], 'path': e.path}})
        return
    head = json.dumps({'id': req.get('id'), 'status': 'ok', 'truncated': reader.truncated, 'skipped': reader.skipped}, separators=(',', ':')).encode('ascii')
    pieces = [head[:-1] + b',"files":[']
    for i, part in enumerate(reader.parts):
        pieces.append(b',' + part if i else part)
    pieces.append(b']}')
    sock.sendall(struct.pack('>I', sum(len(p) for p in pieces)))
    for p in pieces:
        sock.sendall(p)


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
    state = {'kernel': None, 'put': None}
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
        # A put batch goes on only with its own next frame: anything else ends it, undone.
        if req.get('op') != 'put' and state['put'] is not None:
            state['put'].rollback()
            state['put'] = None
        if req.get('op') == 'put':
            reply = handle_put(state, req)
            reply['id'] = req.get('id')
            send_frame(sock, reply)
            continue
        if req.get('op') == 'get':
            try:
                handle_get(sock, req)
            except (OSError, ValueError, TypeError) as e:
                send_frame(sock, {'id': req.get('id'), 'status': 'error', 'error': {'name': 'ExecutorError', 'message': str(e)[:1000]}})
            continue
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
