# Part of Cordon's executor: see executor.py. The parts run as one program, in the order
# executor-link.ts lists them.

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



def run_sh(req, output):
    import subprocess  # noqa: PLC0415 - only sh needs it; a Python container's start skips it
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
    result['stdout'] = b64encode(bytes(output.parts['stdout'])).decode('ascii')
    result['stderr'] = b64encode(bytes(output.parts['stderr'])).decode('ascii')
    result['truncated'] = output.truncated
    result['durationMs'] = (time.monotonic() - started) * 1000.0
    return result
