"""The thin side-effect layer: files, processes, commands. Everything else is pure.

Every path given here is a real path: callers map Baota's constants with ``paths.host`` where
they name them, and paths read out of config files are real already. Commands are argument lists (never a shell), with a timeout; file writes are atomic.
"""
import os
import subprocess
import tempfile

MAX_READ = 1024 * 1024  # nothing the plugin reads (configs, vhosts) is legitimately bigger


class HostError(Exception):
    """A side effect failed; the message is fit for the page."""


def exists(path):
    return os.path.exists(path)


def read_bytes(path, limit=MAX_READ):
    """The bytes of a file, refusing anything over ``limit`` (a config is never that big)."""
    with open(path, "rb") as fh:
        data = fh.read(limit + 1)
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


def write_atomic(path, data, mode=0o644):
    """Replace a file in one rename so that readers (nginx, supervisord) never see half of it."""
    p = path
    d = os.path.dirname(p)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=".gsw-", dir=d)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, p)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def run(argv, timeout=60, env=None, cwd=None, input_data=None):
    """Run a command (a list, no shell); returns (returncode, combined output text)."""
    if not isinstance(argv, (list, tuple)) or not argv:
        raise HostError("internal: a command must be a non-empty list")
    try:
        proc = subprocess.run(
            [str(a) for a in argv], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            timeout=timeout, env=env, cwd=cwd, input=input_data, check=False,
        )
    except FileNotFoundError:
        return 127, "%s: not found" % argv[0]
    except subprocess.TimeoutExpired as e:
        out = (e.output or b"").decode("utf-8", "replace")
        return 124, out + "\n(timed out after %ss)" % timeout
    return proc.returncode, proc.stdout.decode("utf-8", "replace")
