# Part of Cordon's executor: see executor.py. The parts run as one program, in the order
# executor-link.ts lists them.

# --- workspace ops for the file tools: fs.read, fs.write, fs.stat, fs.list, fs.mkdir,
# fs.move, fs.remove on /workspace, with the host workspace's semantics (workspace-fs.ts,
# workspace-tree.ts) and its error codes ---
#
# Every path is walked one component at a time from a descriptor of /workspace with
# open_child_dir (workspace-files.py: lstat, then O_DIRECTORY|O_NOFOLLOW, then the same inode),
# so a symbolic link anywhere on the way (to the outside or inside: one rule is easy to audit)
# is refused, even one swapped in while we walk. Every later call is relative to the held
# parent's descriptor (dir_fd=), so nothing is resolved again by path. /workspace is a mount
# of its own: rename(2) and link(2) cannot cross mounts, so a directory we hold cannot be moved
# out of it and no file of another mount can be linked into it.
#
# Replies carry a code (FS_*), perhaps a reason and which path of a move it concerns, never
# our own words: the runner writes every message a caller sees and refuses unknown codes.

WS_TEMP_PREFIX = '.cordon-'
WS_TYPES = {stat.S_IFREG: 'file', stat.S_IFDIR: 'directory', stat.S_IFLNK: 'symlink'}
RENAME_NOREPLACE = 1


class WsError(Exception):
    """A workspace op refused: a code the runner knows, perhaps a reason and which path."""

    def __init__(self, code, reason=None, which=None):
        Exception.__init__(self, code)
        self.code = code
        self.reason = reason
        self.which = which

    def reply(self):
        error = {'code': self.code}
        if self.reason is not None:
            error['reason'] = self.reason
        if self.which is not None:
            error['which'] = self.which
        return {'status': 'error', 'error': error}


def ws_errno(e, which=None):
    """An errno as workspace-dir.ts fsError maps it; a full tmpfs is the workspace's quota."""
    n = e.errno
    if n == errno.ENOENT:
        return WsError('FS_NOT_FOUND', None, which)
    if n == errno.ELOOP:
        return WsError('FS_OUTSIDE_WORKSPACE', 'symlink', which)
    if n == errno.ENOTDIR:
        return WsError('FS_NOT_A_DIRECTORY', None, which)
    if n == errno.EISDIR:
        return WsError('FS_NOT_A_FILE', None, which)
    if n in (errno.EEXIST, errno.ENOTEMPTY):
        return WsError('FS_EXISTS', None, which)
    if n == errno.ENAMETOOLONG:
        return WsError('FS_INVALID_PATH', 'path_too_long', which)
    if n in (errno.ENOSPC, errno.EDQUOT):
        return WsError('FS_TOO_LARGE', 'workspace_full', which)
    # Anything else (EACCES after a chmod 000, EIO): the runner reports it by errno name.
    return WsError('FS_ERRNO', errno.errorcode.get(n, 'EIO') if n else 'EIO', which)


def ws_parts(path, which=None):
    """The components of a normal relative path ('' is the workspace). The runner parsed it
    already (parseWorkspacePath); this is defence in depth, and refuses rather than repairs."""
    if not isinstance(path, str):
        raise WsError('FS_INVALID_PATH', 'not_a_string', which)
    if path == '':
        return []
    if '\0' in path:
        raise WsError('FS_INVALID_PATH', 'nul_byte', which)
    if path.startswith('/'):
        raise WsError('FS_OUTSIDE_WORKSPACE', 'absolute_path', which)
    try:
        size = len(path.encode('utf-8'))
    except UnicodeEncodeError:
        raise WsError('FS_INVALID_PATH', 'not_utf8', which)
    if size > MAX_PATH_BYTES:
        raise WsError('FS_INVALID_PATH', 'path_too_long', which)
    parts = path.split('/')
    for p in parts:
        if p == '..':
            raise WsError('FS_OUTSIDE_WORKSPACE', 'dot_dot', which)
        if p in ('', '.'):
            raise WsError('FS_INVALID_PATH', 'not_normal', which)
        if len(p.encode('utf-8')) > MAX_COMPONENT_BYTES:
            raise WsError('FS_INVALID_PATH', 'component_too_long', which)
    if len(parts) > MAX_DEPTH:
        raise WsError('FS_INVALID_PATH', 'too_deep', which)
    return parts


def ws_count(req, key, default=None):
    n = req.get(key, default)
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise WsError('FS_ERRNO', 'EINVAL')
    return n


def ws_walk(parts, which=None):
    """A descriptor of /workspace/<parts>, opened one component at a time, following no link."""
    fd = os.open(WORKSPACE, DIR_FLAGS)
    try:
        for name in parts:
            child = open_child_dir(fd, name)
            os.close(fd)
            fd = child
    except OSError as e:
        os.close(fd)
        raise ws_errno(e, which)
    return fd


def ws_lstat(dir_fd, name, which=None):
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError as e:
        raise ws_errno(e, which)


def ws_type(mode):
    return WS_TYPES.get(stat.S_IFMT(mode), 'other')


def fs_read(sock, req):
    """Up to `want` bytes from `offset` of a regular file. The file's bytes go out in pieces of
    one frame, so a large read is held once here, not once per encoding (the container's memory
    limit holds the workspace's tmpfs too)."""
    parts = ws_parts(req.get('path'))
    offset, want = ws_count(req, 'offset', 0), ws_count(req, 'want')
    if not parts:
        raise WsError('FS_NOT_A_FILE')
    parent = ws_walk(parts[:-1])
    try:
        # The final name is no link either (ELOOP: outside), and O_NONBLOCK keeps a FIFO from hanging us.
        fd = open_nofollow(parent, parts[-1], os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        raise ws_errno(e)
    finally:
        os.close(parent)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise WsError('FS_NOT_A_FILE')
        size = st.st_size
        start = min(offset, size)
        left = min(want, size - start)
        chunks = []
        while left > 0:
            chunk = os.pread(fd, min(left, 1 << 20), start)
            if not chunk:
                break
            chunks.append(chunk)
            start += len(chunk)
            left -= len(chunk)
        data = b''.join(chunks)
    except OSError as e:
        raise ws_errno(e)
    finally:
        os.close(fd)
    head = json.dumps({'id': req.get('id'), 'status': 'ok', 'sizeBytes': size}, separators=(',', ':')).encode('ascii')
    step = 3 << 20  # a multiple of 3: the pieces' base64 joins into the whole's
    pieces = [head[:-1] + b',"content":"'] + [b64encode(data[i:i + step]) for i in range(0, len(data), step)] + [b'"}']
    sock.sendall(struct.pack('>I', sum(len(p) for p in pieces)))
    for p in pieces:
        sock.sendall(p)
    return None


class StagedWrite:
    """One write, whose bytes may come in several frames: a temp file beside the name (O_EXCL and
    O_NOFOLLOW: neither an existing file nor a planted link), filled, fsynced, then renamed over
    the name (or, createOnly, linked: link(2) fails with EEXIST instead of replacing, so no check
    can race). rename(2) replaces a link at the name itself, never its target."""

    def __init__(self, parts, create_only):
        self.name, self.create_only = parts[-1], create_only
        self.fd = self.tmp = None
        self.dir = ws_walk(parts[:-1])
        try:
            try:
                st = os.stat(self.name, dir_fd=self.dir, follow_symlinks=False)
            except FileNotFoundError:
                st = None
            if st is not None and stat.S_ISDIR(st.st_mode):
                raise WsError('FS_NOT_A_FILE')
            if st is not None and create_only:
                raise WsError('FS_EXISTS')
            # An existing file keeps its permission bits (a script stays executable); no setuid bits.
            mode = stat.S_IMODE(st.st_mode) & 0o777 if st is not None and stat.S_ISREG(st.st_mode) else 0o644
            tmp = WS_TEMP_PREFIX + os.urandom(12).hex() + '.tmp'
            self.fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=self.dir)
            self.tmp = tmp
            os.fchmod(self.fd, mode)
        except BaseException as e:
            self.abort()
            raise ws_errno(e) if isinstance(e, OSError) else e

    def add(self, data):
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self.fd, view):]
        except OSError as e:
            self.abort()
            raise ws_errno(e)

    def commit(self):
        try:
            os.fsync(self.fd)
            os.close(self.fd)
            self.fd = None
            if self.create_only:
                os.link(self.tmp, self.name, src_dir_fd=self.dir, dst_dir_fd=self.dir, follow_symlinks=False)
                os.unlink(self.tmp, dir_fd=self.dir)
            else:
                os.rename(self.tmp, self.name, src_dir_fd=self.dir, dst_dir_fd=self.dir)
            self.tmp = None
            try:
                os.fsync(self.dir)
            except OSError:
                pass
        except OSError as e:
            self.abort()
            raise ws_errno(e)
        self.abort()

    def abort(self):
        """Closes everything and removes the temp file: a failed write (a full workspace) leaves nothing."""
        if self.fd is not None:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = None
        if self.tmp is not None:
            try:
                os.unlink(self.tmp, dir_fd=self.dir)
            except OSError:
                pass
            self.tmp = None
        if self.dir is not None:
            os.close(self.dir)
            self.dir = None


def fs_write(state, req):
    """One frame of a write: `first` starts it, `more` says more frames follow, the last commits."""
    staged = state.get('ws_write')
    state['ws_write'] = None
    if req.get('first') is True:
        if staged is not None:
            staged.abort()
        parts = ws_parts(req.get('path'))
        if not parts:
            raise WsError('FS_NOT_A_FILE')
        staged = StagedWrite(parts, req.get('createOnly') is True)
    elif staged is None:
        raise WsError('FS_ERRNO', 'EINVAL')
    try:
        data = b64decode(req.get('data') or '')
    except (ValueError, TypeError):
        staged.abort()
        raise WsError('FS_ERRNO', 'EINVAL')
    staged.add(data)
    if req.get('more') is True:
        state['ws_write'] = staged
    else:
        staged.commit()
    return {'status': 'ok'}


def fs_stat(req):
    """The entry itself (lstat): a link is reported as 'symlink', never followed."""
    parts = ws_parts(req.get('path'))
    if not parts:
        fd = ws_walk([])
        try:
            st = os.fstat(fd)
        finally:
            os.close(fd)
    else:
        parent = ws_walk(parts[:-1])
        try:
            st = ws_lstat(parent, parts[-1])
        finally:
            os.close(parent)
    return {'status': 'ok', 'type': ws_type(st.st_mode), 'sizeBytes': st.st_size, 'mtimeMs': st.st_mtime_ns / 1e6, 'mode': st.st_mode & 0o7777}
