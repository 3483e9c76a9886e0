# Part of Cordon's executor: see executor.py. The parts run as one program, in the order
# executor-link.ts lists them.

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
            view = memoryview(b64decode(entry.get('data') or ''))
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
                          + b64encode(data) + b'"}')


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
