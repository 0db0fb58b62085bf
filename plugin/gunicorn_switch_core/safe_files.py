"""Root's file operations in a tree that a site's own user may be able to write.

The project dir, the logs and the runtime dir belong to the site's run user, which is what an
attacker gets from a hole in the web app. A path there may turn into a symlink, a FIFO or a
hard link between two of root's calls, so root never follows a name there: every path is
walked from ``/`` one component at a time, a symlink is followed only where it sits in a
directory that only root can write (root made it), and everything past the first directory
that another user can write is opened with ``O_NOFOLLOW``. Files are then checked on their
descriptor (``fstat``), created under a fresh name with ``O_EXCL``, given their mode and owner
on the descriptor, and renamed into place relative to the directory's descriptor.
"""
import errno
import os
import stat
import secrets

MAX_LINKS = 40  # as the kernel's own symlink limit
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class UnsafePath(OSError):
    """A path that root must not follow or use (its message names it and says why)."""


def trusted_dir(st):
    """Only root can add, remove or rename entries of a directory with this stat."""
    return st.st_uid == 0 and not st.st_mode & 0o022


def _split(path):
    if not isinstance(path, str) or not path.startswith("/") or "\0" in path:
        raise UnsafePath(errno.EINVAL, "not an absolute path", str(path)[:200])
    return [c for c in path.split("/") if c and c != "."]


def _open_parent(path, follow_last=False):
    """(directory fd, last component, parent trusted) for ``path``; the caller closes the fd.

    Symlinks met on the way are resolved by this walk itself (never by the kernel), and only
    where the directory holding the link is trusted; the last component too with
    ``follow_last`` (reads), else it is left as it is (writes replace a link, never follow)."""
    todo = _split(path)
    if not todo:
        raise UnsafePath(errno.EINVAL, "the root directory has no parent", path)
    fd = os.open("/", _DIR)
    links = 0
    try:
        while True:
            name = todo.pop(0)
            if name == "..":
                nfd = os.open("..", _DIR, dir_fd=fd)
                os.close(fd)
                fd = nfd
                continue
            trusted = trusted_dir(os.fstat(fd))
            try:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                st = None
            if st is not None and stat.S_ISLNK(st.st_mode) and (todo or (follow_last and trusted)):
                if not trusted:
                    raise UnsafePath(errno.ELOOP, "a symlink in a directory that a non-root "
                                     "user can write", path)
                links += 1
                if links > MAX_LINKS:
                    raise UnsafePath(errno.ELOOP, "too many levels of symbolic links", path)
                target = os.readlink(name, dir_fd=fd)
                if target.startswith("/"):
                    os.close(fd)
                    fd = os.open("/", _DIR)
                todo = [c for c in target.split("/") if c and c != "."] + todo
                if not todo:
                    raise UnsafePath(errno.EINVAL, "a symlink to the root directory", path)
                continue
            if not todo:
                return fd, name, trusted
            nfd = os.open(name, _DIR | _NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = nfd
    except BaseException:
        os.close(fd)
        raise


class _Parent(object):
    def __init__(self, path, follow_last=False):
        self.path = path
        self.follow_last = follow_last

    def __enter__(self):
        self.fd, self.name, self.trusted = _open_parent(self.path, self.follow_last)
        return self

    def __exit__(self, *exc):
        os.close(self.fd)


def open_regular(path, flags=os.O_RDONLY, mode=0o600):
    """A descriptor of the regular file at ``path``, never through a link root did not make,
    never blocking on a FIFO or a device; UnsafePath for anything but a regular file."""
    with _Parent(path, follow_last=flags == os.O_RDONLY) as p:
        fd = os.open(p.name, flags | os.O_NONBLOCK | os.O_CLOEXEC | _NOFOLLOW, mode, dir_fd=p.fd)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafePath(errno.EINVAL, "not a regular file", path)
        if not (flags & os.O_ACCMODE) == os.O_RDONLY and st.st_nlink != 1:
            raise UnsafePath(errno.EMLINK, "a hard-linked file", path)
        return fd
    except BaseException:
        os.close(fd)
        raise


def open_append(path, mode=0o640):
    """A descriptor to append to the regular file at ``path``, created if missing; a link, a
    FIFO or a hard link in its place is refused."""
    return open_regular(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, mode)


def _read_fd(fd, limit):
    chunks, size = [], 0
    while size <= limit:
        b = os.read(fd, min(65536, limit + 1 - size))
        if not b:
            break
        chunks.append(b)
        size += len(b)
    return b"".join(chunks)


def read_bytes(path, limit):
    """The bytes of a regular file, at most ``limit + 1`` of them (the caller checks)."""
    fd = open_regular(path)
    try:
        return _read_fd(fd, limit)
    finally:
        os.close(fd)


def read_tail(path, max_bytes):
    """(the last ``max_bytes`` bytes of a regular file, its size)."""
    fd = open_regular(path)
    try:
        size = os.fstat(fd).st_size
        os.lseek(fd, max(0, size - max_bytes), os.SEEK_SET)
        return _read_fd(fd, max_bytes - 1), size
    finally:
        os.close(fd)


def lstat(path):
    """The lstat of ``path`` reached safely; None when it does not exist."""
    try:
        with _Parent(path) as p:
            return os.stat(p.name, dir_fd=p.fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def readlink(path):
    with _Parent(path) as p:
        return os.readlink(p.name, dir_fd=p.fd)


def _tmp_name():
    return ".gsw-%s.tmp" % secrets.token_hex(8)


def write_atomic(path, data, mode=0o644, owner=None):
    """Replace ``path`` with ``data`` in one rename, mode and owner (uid, gid) set on the
    descriptor; the directory must exist. Whatever ``path`` was (a symlink too) is replaced,
    never written through."""
    with _Parent(path) as p:
        tmp = _tmp_name()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | _NOFOLLOW,
                     0o600, dir_fd=p.fd)
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                if owner is not None:
                    os.fchown(fd, owner[0], owner[1])
                os.fchmod(fd, mode)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, p.name, src_dir_fd=p.fd, dst_dir_fd=p.fd)
        except BaseException:
            try:
                os.unlink(tmp, dir_fd=p.fd)
            except OSError:
                pass
            raise


def symlink_atomic(path, target):
    """Make ``path`` a symlink to ``target`` (restoring a link a backup recorded)."""
    with _Parent(path) as p:
        tmp = _tmp_name()
        os.symlink(target, tmp, dir_fd=p.fd)
        try:
            os.replace(tmp, p.name, src_dir_fd=p.fd, dst_dir_fd=p.fd)
        except BaseException:
            os.unlink(tmp, dir_fd=p.fd)
            raise


def unlink(path):
    """Remove the entry ``path`` (a link itself, never its target); False if absent."""
    try:
        with _Parent(path) as p:
            os.unlink(p.name, dir_fd=p.fd)
        return True
    except FileNotFoundError:
        return False


def makedirs(path, mode=0o755, owner=None):
    """Create ``path`` and missing parents; the last level gets ``mode`` and ``owner`` on its
    descriptor (also when it existed); a non-directory or link in the way is refused."""
    parts = _split(path)
    for i in range(1, len(parts) + 1):
        sub = "/" + "/".join(parts[:i])
        with _Parent(sub) as p:
            try:
                os.mkdir(p.name, 0o700 if i == len(parts) else 0o755, dir_fd=p.fd)
            except FileExistsError:
                pass
            if i == len(parts):
                fd = os.open(p.name, _DIR | _NOFOLLOW, dir_fd=p.fd)
                try:
                    if owner is not None:
                        os.fchown(fd, owner[0], owner[1])
                    os.fchmod(fd, mode)
                finally:
                    os.close(fd)


def give_to(path, owner):
    """Hand a root-owned regular file (not hard-linked) to ``owner`` (uid, gid), by
    descriptor; False when it is not root's (nothing to do) or absent."""
    try:
        fd = open_regular(path)
    except FileNotFoundError:
        return False
    try:
        st = os.fstat(fd)
        if st.st_uid != 0 or st.st_nlink != 1:
            return False
        os.fchown(fd, owner[0], owner[1])
        return True
    finally:
        os.close(fd)


def listdir(path):
    """The names in a directory reached safely (a symlink in its place is refused)."""
    with _Parent(path) as p:
        fd = os.open(p.name, _DIR | _NOFOLLOW, dir_fd=p.fd)
    try:
        return os.listdir(fd)
    finally:
        os.close(fd)


def root_only(path):
    """Can only root change the file at ``path`` (links resolved) and every directory above
    it? A root-owned sticky directory (/tmp) counts for a root-owned entry: only its owner
    can rename or remove that entry."""
    try:
        real = os.path.realpath(path)
        st = os.stat(real)
        if st.st_uid != 0 or st.st_mode & 0o022:
            return False
        d = os.path.dirname(real)
        while True:
            dst = os.stat(d)
            if not (trusted_dir(dst) or (dst.st_uid == 0 and dst.st_mode & stat.S_ISVTX)):
                return False
            if d == "/":
                return True
            d = os.path.dirname(d)
    except OSError:
        return False


def user_can_read(path, uid, gids):
    """Could a process of ``uid`` (groups ``gids``) open ``path`` for reading? Walks the real
    path (symlinks resolved by the kernel, as that process would) checking search permission
    on every directory and read permission on the file, by mode bits (ACLs are not read)."""
    if uid == 0:
        return True
    real = os.path.realpath(path)

    def allowed(st, bit):
        if st.st_uid == uid:
            return bool(st.st_mode & (bit << 6))
        if st.st_gid in gids:
            return bool(st.st_mode & (bit << 3))
        return bool(st.st_mode & bit)
    parts = _split(real)
    d = "/"
    for name in parts[:-1]:
        if not allowed(os.stat(d), 1):
            return False
        d = os.path.join(d, name)
    return allowed(os.stat(d), 1) and allowed(os.stat(real), 4)
