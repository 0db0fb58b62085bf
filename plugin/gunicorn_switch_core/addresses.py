"""Backend and listen addresses as nginx, uWSGI and Gunicorn spell them, in comparable forms.

Text in, text out: nothing here binds, connects or resolves a name. The any-address spellings
are only ever compared, which is why the one bandit B104 note of the core sits on ANY_HOSTS.
"""
import re

from .safe_text import digits

# Hosts that mean "every address" in a listen or bind ("" is ":8000", "*" nginx's "*:80").
# bandit B104 reviewed: compared with what configs say, never bound
ANY_HOSTS = frozenset(["", "*", "0.0.0.0", "[::]", "::"])  # nosec B104
# Hosts a local backend is reached at, besides 127.0.0.1 itself.
LOOPBACK_ALIASES = frozenset(["localhost", "[::1]"])
LOOPBACK = "127.0.0.1"
_SCHEMES = ("http://", "https://", "uwsgi://", "suwsgi://", "grpc://")
_PROXY_URL = re.compile(r"^(https?://)(unix:[^:]*:?|[^/]*)(.*)$")


def is_any_host(host):
    return host in ANY_HOSTS


def strip_scheme(addr):
    """``addr`` without a leading ``http://``, ``uwsgi://``, ...: what nginx's *_pass names."""
    for scheme in _SCHEMES:
        if addr.startswith(scheme):
            return addr[len(scheme):]
    return addr


def upstream_name(target):
    """The name an upstream block would need to answer a pass target (scheme and URI dropped,
    nothing else changed: ``upstream localhost {}`` is a name like any other)."""
    return strip_scheme(target).split("/", 1)[0]


def normalize(addr):
    """The form discovery shows and compares: 'host:port', 'unix:/path' or a bare upstream
    name; the scheme and any URI part are dropped and 'localhost' is 127.0.0.1. A listening
    socket's any-address is kept (``listen_matches`` knows what it answers)."""
    a = strip_scheme(addr.strip())
    if a.startswith("unix:"):
        # proxy_pass http://unix:/path:/uri: the socket path ends at the next colon
        return "unix:" + a[5:].split(":", 1)[0]
    a = a.split("/", 1)[0]
    if a == "localhost" or a.startswith("localhost:"):
        a = LOOPBACK + a[9:]
    return a


def backend_key(addr):
    """The form two spellings of one backend share: uWSGI on 0.0.0.0:8000, ':8000' and
    'localhost:8000' are all reached at 127.0.0.1:8000; a bare '/path' is a unix socket."""
    a = strip_scheme(addr.strip())
    if a.startswith("/"):
        return "unix:" + a
    a = normalize(a)
    if a.startswith("unix:") or ":" not in a:
        return a  # a socket, or an upstream's name
    host, _, port = a.rpartition(":")
    if is_any_host(host) or host in LOOPBACK_ALIASES:
        host = LOOPBACK
    return "%s:%s" % (host, port)


def same_backend(a, b):
    return backend_key(a) == backend_key(b)


def listen_matches(nginx_addr, listen_addr):
    """Does a server listening on ``listen_addr`` answer nginx's ``nginx_addr``? (both in
    ``normalize``'s form)"""
    if nginx_addr == listen_addr:
        return True
    if nginx_addr.startswith("unix:") or listen_addr.startswith("unix:"):
        return False
    n_host, _, n_port = nginx_addr.rpartition(":")
    l_host, _, l_port = listen_addr.rpartition(":")
    if n_port != l_port:
        return False
    return is_any_host(l_host) or (l_host == LOOPBACK and n_host == LOOPBACK)


def bind_address(bind):
    """A Gunicorn bind (``127.0.0.1:8001``, ``:8001``, ``unix:/x.sock``, ``/x.sock``) in the
    form nginx's ``server`` and ``proxy_pass http://`` take."""
    bind = bind.strip()
    if bind.startswith("unix:"):
        return bind
    if bind.startswith("/"):
        return "unix:" + bind
    if bind.startswith(":"):
        return LOOPBACK + bind
    return bind


def unix_path(bind):
    """The socket path of a ``unix:`` bind; None for TCP."""
    return bind[5:] if bind.startswith("unix:") else None


def tcp_address(bind):
    """(host, port) to reach a TCP bind at; None for a unix socket."""
    if bind.startswith("unix:"):
        return None
    host, _, port = bind.rpartition(":")
    return host.strip("[]") or LOOPBACK, int(port)


def proxy_pass_for(bind):
    """The nginx ``proxy_pass`` target for a Gunicorn bind, never with a URI part: a URI would
    make nginx replace the matched location prefix in every request path."""
    path = unix_path(bind)
    if path is not None:
        return "http://unix:%s:" % path
    return "http://%s" % bind


def split_proxy_url(url):
    """``http://host:port/uri`` → (scheme, authority, uri); (None, url, "") when it is not an
    http(s) URL (an upstream name, a variable)."""
    m = _PROXY_URL.match(url)
    if not m:
        return None, url, ""
    return m.group(1), m.group(2), m.group(3)


def listen_to_loopback(listen):
    """A loopback 'host:port' reaching an nginx ``listen`` argument ('80', '*:80',
    '0.0.0.0:80', '10.0.0.1:80'); None when it names no port (a unix socket)."""
    if digits(listen):
        return "%s:%s" % (LOOPBACK, listen)
    host, _, port = listen.rpartition(":")
    if not digits(port):
        return None
    return "%s:%s" % (LOOPBACK if is_any_host(host) else host, port)
