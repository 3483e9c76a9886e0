# Part of Cordon's executor: see executor.py. The parts run as one program, in the order
# executor-link.ts lists them.

def main():
    state = {'kernel': None, 'put': None, 'ws_write': None}
    # The container's languages (argv): a Python sandbox forks its interpreter now, before any
    # thread or socket exists, so its first call does not wait for a second interpreter to start.
    if len(sys.argv) > 1 and 'python' in sys.argv[1].split(','):
        state['kernel'] = Kernel(fork=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(os.path.join(RUN_DIR, 'executor.sock'))
    _thread.start_new_thread(forward_egress, ())
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
        # A write in several frames goes on only with its own next frame (handle_fs).
        if req.get('op') != 'fs.write' and state.get('ws_write') is not None:
            state['ws_write'].abort()
            state['ws_write'] = None
        if isinstance(req.get('op'), str) and req['op'].startswith('fs.'):
            handle_fs(state, sock, req)
            continue
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
