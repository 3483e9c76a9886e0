# Part of Cordon's executor: see executor.py. The parts run as one program, in the order
# executor-link.ts lists them.

KERNEL_SOURCE = r'''
import _ast, io, os, struct, sys, json
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
        # _ast and compile's AST flag, not the ast module: the module costs tens of ms to load under gVisor.
        tree = compile(req['source'], '<cell>', 'exec', _ast.PyCF_ONLY_AST)
        last = None
        if tree.body and isinstance(tree.body[-1], _ast.Expr):
            last = _ast.Expression(tree.body.pop().value)
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
        import traceback
        traceback.print_exception(type(e), e, tb)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        pass
    data = json.dumps(reply).encode('utf-8')
    out.write(struct.pack('>I', len(data)) + data)
'''



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
    result = {}
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
