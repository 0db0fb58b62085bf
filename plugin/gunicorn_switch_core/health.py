"""HTTP health checks: a GET with the site's Host header, over TCP or a unix socket."""
import http.client
import socket
import time

from .host import POLL

# How long a step waits for a freshly started server to answer as the site did.
DEADLINE = 30.0


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        http.client.HTTPConnection.__init__(self, "localhost", timeout=timeout)
        self._path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(self._path)
        except OSError:
            s.close()
            raise
        self.sock = s


def connection(bind, timeout=5.0):
    """An HTTP connection to a Gunicorn-style bind: 'host:port' or 'unix:/path'."""
    if bind.startswith("unix:"):
        return _UnixHTTPConnection(bind[5:], timeout)
    host, _, port = bind.rpartition(":")
    return http.client.HTTPConnection(host.strip("[]") or "127.0.0.1", int(port), timeout=timeout)


def status(bind, host_header, path="/", timeout=5.0):
    """The HTTP status of GET path, or None when nothing answers."""
    c = connection(bind, timeout)
    try:
        c.request("GET", path, headers={"Host": host_header, "User-Agent": "gunicorn_switch-health",
                                        "X-Forwarded-Proto": "http"})
        resp = c.getresponse()
        resp.read()
        return resp.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        c.close()


def wait_status(bind, host_header, expected, path="/", deadline=30.0, log=None):
    """Poll until GET answers with ``expected`` (or any non-5xx when expected is None);
    returns (ok, last status)."""
    end = time.monotonic() + deadline
    last = None
    while True:
        last = status(bind, host_header, path, timeout=min(5.0, deadline))
        good = (last == expected) if expected is not None else (last is not None and last < 500)
        if good:
            return True, last
        if time.monotonic() >= end:
            return False, last
        time.sleep(POLL)
