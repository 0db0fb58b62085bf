"""What a site's nginx config points at, read-only: its files and its pass targets.

Parsing is nginx_tokens'; this module only follows `include`s and reads `uwsgi_pass`,
`proxy_pass` and `upstream` blocks into plain data for discovery and planning.
"""
import glob
import os

from . import nginx_tokens

MAX_INCLUDE_DEPTH = 8  # nginx itself allows deeper, but a vhost tree never needs it


def resolve_include(arg, conf_dir, glob_func=glob.glob):
    """The files an `include` names, as nginx expands them: relative to the conf dir, globbed
    in sorted order. ``glob_func(pattern) -> paths`` lets callers glob elsewhere than disk."""
    path = arg if os.path.isabs(arg) else os.path.join(conf_dir, arg)
    if glob.has_magic(path):
        return sorted(glob_func(path))
    return [os.path.normpath(path)]


def load_tree(start, conf_dir, read):
    """[(path, Config)] for ``start`` and every file it includes, depth first, in nginx order.

    ``read(path) -> bytes`` does the reading. Files that cannot be read or parsed are skipped
    and reported in the second return value as (path, message).
    """
    out, problems, seen = [], [], set()

    def visit(path, depth):
        if path in seen or depth > MAX_INCLUDE_DEPTH:
            return
        seen.add(path)
        try:
            conf = nginx_tokens.parse(read(path), path)
        except (OSError, nginx_tokens.NginxConfigError, ValueError) as e:
            problems.append((path, str(e)))
            return
        out.append((path, conf))
        for d in conf.walk():
            if d.name == "include" and d.args:
                for inc in resolve_include(d.args[0], conf_dir):
                    visit(inc, depth + 1)

    visit(start, 0)
    return out, problems


def normalize_address(addr):
    """A comparable form of a pass target or listen address: 'host:port', 'unix:/path' or a
    bare upstream name. 'localhost' is 127.0.0.1; a scheme and any URI part are dropped."""
    a = addr.strip()
    for scheme in ("http://", "https://", "uwsgi://", "grpc://"):
        if a.startswith(scheme):
            a = a[len(scheme):]
            break
    if a.startswith("unix:"):
        # proxy_pass http://unix:/path:/uri — the socket path ends at the next colon
        rest = a[5:]
        return "unix:" + rest.split(":", 1)[0]
    a = a.split("/", 1)[0]
    if a.startswith("localhost:") or a == "localhost":
        a = "127.0.0.1" + a[9:]
    return a


def targets(tree):
    """Every uwsgi_pass / proxy_pass in the tree: [{directive, address, file, line}]."""
    found = []
    for path, conf in tree:
        for d in conf.walk():
            if d.name in ("uwsgi_pass", "proxy_pass") and d.args:
                found.append({"directive": d.name, "raw": d.args[0],
                              "address": normalize_address(d.args[0]),
                              "file": path, "line": d.line})
    return found


def upstreams(trees):
    """{name: {servers: [address], file, line}} from every upstream block in the given trees."""
    ups = {}
    for tree in trees:
        for path, conf in tree:
            for d in conf.walk():
                if d.name == "upstream" and d.args and d.block is not None:
                    servers = [normalize_address(c.args[0]) for c in d.block
                               if c.name == "server" and c.args]
                    ups.setdefault(d.args[0], {"servers": servers, "file": path, "line": d.line})
    return ups


def listen_matches(nginx_addr, listen_addr):
    """Does a server listening on ``listen_addr`` answer nginx's ``nginx_addr``?"""
    if nginx_addr == listen_addr:
        return True
    if nginx_addr.startswith("unix:") or listen_addr.startswith("unix:"):
        return False
    n_host, _, n_port = nginx_addr.rpartition(":")
    l_host, _, l_port = listen_addr.rpartition(":")
    if n_port != l_port:
        return False
    # bandit B104 reviewed: compares addresses, binds nothing
    return l_host in ("0.0.0.0", "[::]", "", "*") or (l_host == "127.0.0.1" and n_host == "127.0.0.1")  # nosec B104
