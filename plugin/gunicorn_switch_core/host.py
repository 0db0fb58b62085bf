"""The thin side-effect layer: files, processes, commands. Everything else is pure.

Every path given here is a real path: callers map Baota's constants with ``paths.real`` where
they name them, and paths read out of config files are real already. Commands are argument
lists (never a shell), with a timeout. File reads and writes go through ``safe_files``: the
plugin runs as root, and much of what it touches lies in directories the site's user can
write.
"""
import grp
import os
import pwd
import subprocess

from . import safe_files, safe_text

MAX_READ = 1024 * 1024  # nothing the plugin reads (configs, vhosts) is legitimately bigger
# What a command run as the site's user keeps of the panel's environment: the locale, and
# pip's own settings (a server points pip at a mirror this way).
KEPT_ENV_PREFIXES = ("PIP_", "LANG", "LC_")
SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# How often a switch polls for what it waits on (a pidfile, a listening socket, an answer):
# each of those waits is on the path from confirm to "serving on Gunicorn", and a check costs
# far less than the wait it ends early.
POLL = 0.05


class HostError(Exception):
    """A side effect failed; the message is fit for the page."""


def exists(path):
    return os.path.exists(path)


def read_bytes(path, limit=MAX_READ):
    """The bytes of a regular file, refusing anything over ``limit`` (a config is never that
    big), a FIFO or a device, and a symlink that the site's user could have planted."""
    data = safe_files.read_bytes(path, limit)
    if len(data) > limit:
        raise HostError("%s is larger than %d bytes" % (path, limit))
    return data


def read_text(path, limit=MAX_READ, default=None):
    try:
        return read_bytes(path, limit).decode("utf-8", "replace")
    except (OSError, HostError):
        if default is not None:
            return default
        raise


def write_atomic(path, data, mode=0o644, owner=None, make_dirs=True):
    """Replace a file in one rename so that readers (nginx, supervisord) never see half of it;
    ``owner`` (uid, gid) for a file that belongs to the site's user."""
    d = os.path.dirname(path)
    if make_dirs and not os.path.isdir(d):
        safe_files.makedirs(d)
    if isinstance(data, str):
        data = data.encode("utf-8")
    safe_files.write_atomic(path, data, mode=mode, owner=owner)


def read_pid(path):
    """A pid from a pid file (bounded, never blocking, never through a planted link: pid
    files sit in directories the site's user can write)."""
    try:
        text = read_text(path, limit=64).strip()
    except (OSError, HostError):
        return None
    return int(text) if safe_text.digits(text) and int(text) > 0 else None


# ---- users -----------------------------------------------------------------------------

class User(object):
    """A system user the plugin runs the site's code as."""

    def __init__(self, name):
        pw = pwd.getpwnam(name)  # KeyError for an unknown user: the caller validated it
        self.name = name
        self.uid = pw.pw_uid
        self.gid = pw.pw_gid
        self.home = pw.pw_dir or "/"
        self.gids = set(os.getgrouplist(name, pw.pw_gid))

    @property
    def owner(self):
        return (self.uid, self.gid)

    def group_name(self):
        try:
            return grp.getgrgid(self.gid).gr_name
        except KeyError:
            return str(self.gid)

    def env(self, extra_path=None, base=None):
        """A clean environment for this user: no LD_*, no PYTHON*, nothing of root's but the
        locale and pip's settings."""
        base = os.environ if base is None else base
        env = {k: v for k, v in base.items() if k.startswith(KEPT_ENV_PREFIXES)}
        env.update({"PATH": (extra_path + ":" if extra_path else "") + SAFE_PATH,
                    "HOME": self.home, "USER": self.name, "LOGNAME": self.name})
        env.setdefault("LANG", "C.UTF-8")
        return env

    def drop(self):
        """The preexec function that turns a child of root into this user, groups included."""
        name, uid, gid = self.name, self.uid, self.gid

        def drop():
            os.setgid(gid)
            os.initgroups(name, gid)
            os.setuid(uid)
            if os.getuid() != uid or os.geteuid() != uid:  # pragma: no cover - kernel refused
                os._exit(126)
        return drop


def user_for_uid(uid):
    try:
        return User(pwd.getpwuid(uid).pw_name)
    except KeyError:
        return None


# ---- commands --------------------------------------------------------------------------

def run(argv, timeout=60, env=None, cwd=None, input_data=None, as_user=None):
    """Run a command (a list, no shell); returns (returncode, combined output text).
    ``as_user`` (a User) runs it as that user with a clean environment unless ``env``."""
    return finish(begin(argv, env=env, cwd=cwd, as_user=as_user, stdin=input_data is not None),
                  timeout, input_data)


def begin(argv, env=None, cwd=None, as_user=None, stdin=False):
    """Start a command as run() does and return at once: a Popen for finish(), or the
    (returncode, text) of one that could not start."""
    if not isinstance(argv, (list, tuple)) or not argv:
        raise HostError("internal: a command must be a non-empty list")
    kw = {}
    if as_user is not None:
        kw["preexec_fn"] = as_user.drop()
        if env is None:
            env = as_user.env()
    try:
        return subprocess.Popen(
            [str(a) for a in argv], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL, env=env, cwd=cwd, **kw)
    except FileNotFoundError:
        return 127, "%s: not found" % argv[0]
    except PermissionError as e:
        return 126, "%s: %s" % (argv[0], e.strerror)


def finish(proc, timeout=60, input_data=None):
    """(returncode, combined output text) of a begin()'s command; killed after ``timeout``
    seconds (124, as timeout(1) says it)."""
    if isinstance(proc, tuple):
        return proc
    try:
        out, _ = proc.communicate(input_data, timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        return 124, (out or b"").decode("utf-8", "replace") + "\n(timed out after %ss)" % timeout
    return proc.returncode, out.decode("utf-8", "replace")


def spawn(argv, cwd, env, log_path, as_user=None):
    """Start a long-running process detached from us (new session, no inherited fds), its
    output appended to ``log_path``. With ``as_user`` the log is opened by the child after
    it became that user: root never opens a file in the site's log dir for writing."""
    if as_user is None:
        fd = safe_files.open_append(log_path)
        try:
            proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=fd,
                                    stderr=subprocess.STDOUT, start_new_session=True,
                                    close_fds=True)
        finally:
            os.close(fd)
        return proc.pid
    drop = as_user.drop()
    nofollow = getattr(os, "O_NOFOLLOW", 0)

    def child():
        drop()
        try:
            fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK
                         | nofollow, 0o640)
        except OSError:
            fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        if fd > 2:
            os.close(fd)
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, close_fds=True, preexec_fn=child)
    return proc.pid
