# Part of Cordon's executor: see executor.py. The parts run as one program, in the order
# executor-link.ts lists them.

# --- workspace ops on trees: fs.list, fs.mkdir, fs.move, fs.remove (see workspace-ops.py) ---


def ws_names(fd):
    """A directory's names in the order the host lists them: JavaScript's sort (UTF-16 code
    units). A name that is not UTF-8 is left out, as the host's lstat of its decoded name fails."""
    names = []
    for name in os.listdir(fd):
        try:
            name.encode('utf-8')
        except UnicodeEncodeError:
            continue
        names.append(name)
    names.sort(key=lambda n: n.encode('utf-16-be', 'surrogatepass'))
    return names


def fs_list(req):
    """Sorted walk order exactly as workspace-tree.ts list: each entry is pushed, then descended
    if it is a directory above `depth`; links are never descended. A path the file tools could
    not name (over MAX_PATH_BYTES or MAX_DEPTH) is left out, and its subtree with it."""
    parts = ws_parts(req.get('path'))
    depth, max_entries = ws_count(req, 'depth'), ws_count(req, 'maxEntries')
    entries = []
    state = {'truncated': False}

    def walk(fd, prefix, level):
        for name in ws_names(fd):
            if state['truncated']:
                return
            rel = prefix + '/' + name if prefix else name
            if len(rel.encode('utf-8')) > MAX_PATH_BYTES or rel.count('/') + 1 > MAX_DEPTH:
                continue
            try:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except OSError:
                continue  # removed while listing
            if len(entries) >= max_entries:
                state['truncated'] = True
                return
            kind = ws_type(st.st_mode)
            entries.append({'path': rel, 'type': kind, 'sizeBytes': st.st_size})
            if kind == 'directory' and level < depth:
                try:
                    child = open_child_dir(fd, name)
                except OSError:
                    continue  # swapped for a link or removed meanwhile: skip it
                try:
                    walk(child, rel, level + 1)
                finally:
                    os.close(child)

    fd = ws_walk(parts)
    try:
        walk(fd, '/'.join(parts), 1)
    except OSError as e:
        raise ws_errno(e)
    finally:
        os.close(fd)
    return {'status': 'ok', 'entries': entries, 'truncated': state['truncated']}


def fs_mkdir(req):
    """Each missing component made, then opened without following whatever is there now (ours,
    or a racing link); an existing directory is fine, a file on the way is ENOTDIR."""
    parts = ws_parts(req.get('path'))
    fd = os.open(WORKSPACE, DIR_FLAGS)
    try:
        for name in parts:
            try:
                os.mkdir(name, 0o755, dir_fd=fd)
            except FileExistsError:
                pass
            child = open_child_dir(fd, name)
            os.close(fd)
            fd = child
    except OSError as e:
        raise ws_errno(e)
    finally:
        os.close(fd)
    return {'status': 'ok'}


def ws_rename_noreplace(src_fd, src, dst_fd, dst):
    """renameat2(RENAME_NOREPLACE): "no overwrite" without a check-then-rename gap. False where
    the kernel (or gVisor, or this libc) has no such flag; the caller then checks, then renames."""
    try:
        import ctypes  # noqa: PLC0415 - costly under gVisor, and only a move without overwrite needs it
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (ImportError, OSError, AttributeError):
        return False
    if renameat2(src_fd, os.fsencode(src), dst_fd, os.fsencode(dst), RENAME_NOREPLACE) == 0:
        return True
    n = ctypes.get_errno()
    if n in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        # EINVAL is also "into itself": the plain rename that follows says so again.
        return False
    raise OSError(n, os.strerror(n))


def fs_move(req):
    """Both parents walked and held; the rename goes through their descriptors. Without
    renameat2, an entry created at the target between the check and the rename is replaced: it
    can only be inside the workspace, so that is a lost update, not an escape (as on the host)."""
    src = ws_parts(req.get('from'), 'from')
    dst = ws_parts(req.get('to'), 'to')
    overwrite = req.get('overwrite') is True
    src_fd = ws_walk(src[:-1], 'from')
    try:
        if not src:
            raise WsError('FS_INVALID_PATH', 'workspace_root', 'from')
        dst_fd = ws_walk(dst[:-1], 'to')
        try:
            if not dst:
                raise WsError('FS_INVALID_PATH', 'workspace_root', 'to')
            ws_lstat(src_fd, src[-1], 'from')
            try:
                if not overwrite and ws_rename_noreplace(src_fd, src[-1], dst_fd, dst[-1]):
                    return {'status': 'ok'}
                if not overwrite:
                    try:
                        os.stat(dst[-1], dir_fd=dst_fd, follow_symlinks=False)
                        raise WsError('FS_EXISTS', None, 'to')
                    except FileNotFoundError:
                        pass
                os.rename(src[-1], dst[-1], src_dir_fd=src_fd, dst_dir_fd=dst_fd)
            except OSError as e:
                if e.errno == errno.EINVAL:
                    raise WsError('FS_INVALID_PATH', 'into_itself', 'from')
                raise ws_errno(e, 'to')
        finally:
            os.close(dst_fd)
    finally:
        os.close(src_fd)
    return {'status': 'ok'}


def ws_empty(fd):
    """Removes everything inside an open directory, descriptor by descriptor: each subdirectory
    is opened through its parent without following a link (a directory swapped for a link fails
    the removal instead of deleting outside, unlike a path-based rm -r); links are unlinked."""
    for name in os.listdir(fd):
        try:
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            continue
        if stat.S_ISDIR(st.st_mode):
            child = open_child_dir(fd, name)
            try:
                ws_empty(child)
            finally:
                os.close(child)
            os.rmdir(name, dir_fd=fd)
        else:
            os.unlink(name, dir_fd=fd)


def fs_remove(req):
    parts = ws_parts(req.get('path'))
    parent = ws_walk(parts[:-1])
    try:
        if not parts:
            raise WsError('FS_INVALID_PATH', 'workspace_root')
        name = parts[-1]
        try:
            st = os.stat(name, dir_fd=parent, follow_symlinks=False)
            if not stat.S_ISDIR(st.st_mode):
                os.unlink(name, dir_fd=parent)
                return {'status': 'ok'}
            if req.get('recursive') is not True:
                raise WsError('FS_NOT_A_FILE')
            fd = open_child_dir(parent, name)
            try:
                ws_empty(fd)
            finally:
                os.close(fd)
            os.rmdir(name, dir_fd=parent)
        except OSError as e:
            raise ws_errno(e)
    finally:
        os.close(parent)
    return {'status': 'ok'}


WS_OPS = {'fs.stat': fs_stat, 'fs.list': fs_list, 'fs.mkdir': fs_mkdir, 'fs.move': fs_move, 'fs.remove': fs_remove}


def handle_fs(state, sock, req):
    """One workspace op and its one reply. A write in several frames goes on only with its own
    next frame: any other request ends it, its temp file removed."""
    op = req.get('op')
    staged = state.get('ws_write')
    if staged is not None and not (op == 'fs.write' and req.get('first') is not True):
        state['ws_write'] = None
        staged.abort()
    try:
        if op == 'fs.read':
            reply = fs_read(sock, req)
        elif op == 'fs.write':
            reply = fs_write(state, req)
        elif op in WS_OPS:
            reply = WS_OPS[op](req)
        else:
            reply = WsError('FS_ERRNO', 'ENOSYS').reply()
    except WsError as e:
        reply = e.reply()
    except OSError as e:
        reply = ws_errno(e).reply()
    except RecursionError:
        reply = WsError('FS_ERRNO', 'ELOOP').reply()
    except Exception:  # noqa: BLE001 - an op that failed oddly fails alone; the executor goes on
        reply = WsError('FS_ERRNO', 'EIO').reply()
    if reply is not None:
        reply['id'] = req.get('id')
        send_frame(sock, reply)
