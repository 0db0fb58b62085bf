"""What a site's nginx config points at, as plain data for discovery and planning: its
``uwsgi_pass``/``proxy_pass`` targets and the ``upstream`` blocks they may name.

It reads the ``[(path, Config)]`` lists of ``nginx_tree.load_tree``; addresses are in
``addresses.normalize``'s form.
"""
from .addresses import normalize


def targets(tree):
    """Every uwsgi_pass / proxy_pass in the tree: [{directive, raw, address, file, line}]."""
    found = []
    for path, conf in tree:
        for d in conf.walk():
            if d.name in ("uwsgi_pass", "proxy_pass") and d.args:
                found.append({"directive": d.name, "raw": d.args[0],
                              "address": normalize(d.args[0]),
                              "file": path, "line": d.line})
    return found


def upstreams(trees):
    """{name: {servers: [address], file, line}} from every upstream block in the given trees."""
    ups = {}
    for tree in trees:
        for path, conf in tree:
            for d in conf.walk():
                if d.name == "upstream" and d.args and d.block is not None:
                    servers = [normalize(c.args[0]) for c in d.block
                               if c.name == "server" and c.args]
                    ups.setdefault(d.args[0], {"servers": servers, "file": path, "line": d.line})
    return ups
