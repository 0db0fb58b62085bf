"""Rewrite a site's nginx config from ``uwsgi_pass`` to ``proxy_pass``: text in, text out.

The files a site uses come as one ``nginx_tree.Tree`` (read by the caller): a location in the
vhost that includes the 伪静态 rewrite file sees the rewrite file's directives at its own level,
and a location inherits from its server and from ``http`` in nginx.conf. The headers a switched
location needs are ``nginx_headers``'; static-map locations and cache zones ``nginx_static``'.

Only the directives that change are spliced (see ``nginx_edit``); everything else stays byte for
byte. Running the translation on its own output changes nothing.
"""
import collections
import difflib

from . import addresses
from .nginx_edit import Editor, quote
from .nginx_headers import HTTP_ONLY, NO_TWIN, HeaderRules
from .nginx_static import StaticAndCaches
from .nginx_tree import Tree, is_params_include
# find_site_files is nginx_tree's (it reads files); it stays importable from here for callers
# of the translation's former home (the corpus tests).
from .nginx_tree import find_site_files  # noqa: F401

Result = collections.namedtuple("Result", "new_files diffs warnings changed")
KEEPALIVE = "16"


class _Translation(HeaderRules, StaticAndCaches):
    def __init__(self, tree, new_bind, hint, static_maps, websocket, vhost):
        self.tree = tree
        self.site_files = None if vhost is None else self.tree.reachable(vhost)
        self.bind = addresses.bind_address(new_bind)
        self.hint = hint
        self.static_maps = list(static_maps or ())
        self.websocket = websocket
        self.editors = {}
        self.warnings = []
        self.done = set()  # (file, offset) of directives already edited
        self.upstreams = dict((n.args[0], n) for n in self.tree.nodes
                              if n.name == "upstream" and n.args)
        self.keepalive_locations = set()
        self.has_connection_upgrade = any(
            n.name == "map" and len(n.args) >= 2 and n.args[1] == "$connection_upgrade"
            for n in self.tree.nodes)

    # editing helpers
    def editor(self, path):
        if path not in self.editors:
            self.editors[path] = Editor(self.tree.texts[path], path)
        return self.editors[path]

    def once(self, d):
        key = (d.filename, d.start)
        if key in self.done:
            return False
        self.done.add(key)
        return True

    def warn(self, node, message):
        text = "%s:%d: %s" % (node.file, node.d.line, message)
        if text not in self.warnings:
            self.warnings.append(text)

    # backend matching
    def upstream_of(self, target):
        return self.upstreams.get(addresses.upstream_name(target))

    def matches_hint(self, target):
        if self.hint is None:
            return True
        up = self.upstream_of(target)
        if up is not None:
            if up.args[0] == self.hint:
                return True
            return any(k.name == "server" and k.args and addresses.same_backend(k.args[0], self.hint)
                       for k in up.kids)
        return "$" not in target and addresses.same_backend(target, self.hint)

    def own(self, node):
        """Is ``node`` in the site's own files (the vhost and what it includes)?"""
        return self.site_files is None or node.file in self.site_files

    def run(self):
        passes = [n for n in self.tree.nodes if n.name == "uwsgi_pass" and n.args
                  and self.own(n)]
        chosen = []
        for n in passes:
            target = n.args[0]
            if "$" in target or self.matches_hint(target):
                chosen.append(n)
            else:
                self.warn(n, "uwsgi_pass %s is not the switched backend %s; left as it is"
                          % (target, self.hint))
        groups = collections.OrderedDict()
        for n in chosen:
            loc = n.enclosing("location")
            if loc is None:
                self.warn(n, "uwsgi_pass outside a location; left as it is")
                continue
            groups.setdefault(loc, []).append((n, self.pass_authority(n, loc)))
        for loc, items in groups.items():
            self.fix_location(loc, items)
        servers = []
        for loc in groups:
            server = loc.enclosing("server")
            if server is None:
                for k in loc.walk():
                    self.rename_one(k)
            elif server not in servers:
                servers.append(server)
        for server in servers:
            self.clean_server(server, chosen, [loc for loc in groups
                                               if loc.enclosing("server") is server])
        if not passes:
            servers = self.repoint_proxies()
        for server in servers:
            self.add_static_maps(server)
        self.convert_cache_paths()
        if not passes and self.hint is None:
            self.warnings.append("no uwsgi_pass found and no old backend address given: "
                                 "nothing to switch")

    # -- uwsgi_pass -> proxy_pass -----------------------------------------------------------

    def upstream_target(self, up):
        """Point the upstream at the new bind; returns the name proxy_pass should use."""
        name = up.args[0]
        if not self.once(up.d):
            return name
        ed = self.editor(up.file)
        servers = [k for k in up.kids if k.name == "server" and k.args]
        if not servers:
            self.warn(up, "upstream %s has no server; one is added" % name)
            ed.insert_into(up.d, ["server %s;" % self.bind])
        else:
            first = servers[0]
            if first.args[0] != self.bind:
                ed.set_arg(first.d, 0, quote(self.bind))
            for extra in servers[1:]:
                self.warn(extra, "upstream %s: server %s removed, Gunicorn listens on one bind"
                          % (name, extra.args[0]))
                ed.delete(extra.d)
        if not any(k.name == "keepalive" for k in up.kids):
            anchor = servers[0].d if servers else None
            if anchor is not None and anchor.filename == up.file:
                ed.insert_after(anchor, ["keepalive %s;" % KEEPALIVE])
            else:
                ed.insert_into(up.d, ["keepalive %s;" % KEEPALIVE])
        users = [p for p in self.tree.nodes if p.name == "uwsgi_pass" and p.args
                 and self.upstream_of(p.args[0]) is up and "$" not in p.args[0]
                 and not (self.own(p) and self.matches_hint(p.args[0]))]
        for p in users:
            self.warn(p, "upstream %s is also used here by uwsgi_pass; that location now "
                      "reaches Gunicorn over the uwsgi protocol" % name)
        return name

    def pass_authority(self, n, loc):
        """What the new proxy_pass names: the (rewritten) upstream or the bind itself."""
        target = n.args[0]
        if target.startswith("suwsgi://"):
            self.warn(n, "uwsgi_pass over TLS (suwsgi); Gunicorn is reached over plain HTTP")
        if "$" in target:
            self.warn(n, "uwsgi_pass %s uses a variable; pointed at %s instead"
                      % (target, self.bind))
            return self.bind
        up = self.upstream_of(target)
        if up is None:
            return self.bind
        self.keepalive_locations.add(loc)
        return self.upstream_target(up)

    def fix_location(self, loc, items):
        level, params = self.uwsgi_params(loc)
        lines = self.header_lines(loc, params) + self.inherited_uwsgi_lines(loc)
        if level is loc:
            for p in params:
                if self.once(p.d):
                    self.editor(p.file).delete(p.d)
        for n, authority in items:
            if not self.once(n.d):
                continue
            ed = self.editor(n.file)
            ed.replace(n.d, ["proxy_pass http://%s;" % authority])
            if lines and n.parent is loc:
                # the headers sit right below the proxy_pass that replaces uwsgi_pass
                ed.insert_after(n.d, lines)
                lines = []
        if lines:
            # uwsgi_pass inside an if {}: headers are not allowed there, put them after it
            via = items[0][0]
            while via.parent is not loc:
                via = via.parent
            self.editor(via.file).insert_after(via.d, lines)

    def rename_one(self, k):
        name = k.name
        if not name.startswith("uwsgi_") or name in ("uwsgi_pass", "uwsgi_param"):
            return
        if (k.d.filename, k.d.start) in self.done:
            return
        level = k.parent.kids if k.parent is not None else []
        if name in NO_TWIN:
            self.once(k.d)
            self.warn(k, "%s has no proxy equivalent; removed" % name)
            self.editor(k.file).delete(k.d)
            return
        if name in HTTP_ONLY:
            return
        twin = "proxy_" + name[6:]
        self.once(k.d)
        if any(x.name == twin for x in level) and twin not in ("proxy_cache_valid",
                                                                "proxy_hide_header",
                                                                "proxy_pass_header",
                                                                "proxy_cache_bypass",
                                                                "proxy_no_cache"):
            self.warn(k, "%s dropped: %s is already set here" % (name, twin))
            self.editor(k.file).delete(k.d)
            return
        self.editor(k.file).rename(k.d, twin)

    def clean_server(self, server, chosen, locations):
        """Rename uwsgi_* → proxy_* and drop the server-level uwsgi_param (folded into the
        locations) when every uwsgi_pass of the server was switched; else only in ours."""
        under = [p for p in self.tree.nodes if p.name == "uwsgi_pass"
                 and p.enclosing("server") is server]
        if any(p not in chosen for p in under):
            for loc in locations:
                for k in loc.walk():
                    self.rename_one(k)
            return
        for k in server.walk():
            self.rename_one(k)
        for k in server.kids:
            if k.name == "uwsgi_param" or (k.name == "include" and k.args
                                           and is_params_include(k.args[0])):
                if self.once(k.d):
                    self.editor(k.file).delete(k.d)

    # -- sites already on proxy_pass (uWSGI http= mode, Baota python_<name>.conf) -----------

    def repoint_proxies(self):
        servers = []
        if self.hint is None:
            return servers
        for n in self.tree.nodes:
            if n.name != "proxy_pass" or not n.args or not self.own(n):
                continue
            scheme, authority, uri = addresses.split_proxy_url(n.args[0])
            if scheme is None or "$" in authority:
                continue
            up = self.upstreams.get(authority)
            if up is not None:
                if not self.matches_hint(authority) or self._upstream_is_bind(up):
                    continue
                self.upstream_target(up)
            elif addresses.same_backend(authority, self.bind) or not self.matches_hint(authority):
                continue
            elif self.once(n.d):
                self.editor(n.file).set_arg(n.d, 0, quote("http://%s%s" % (self.bind, uri)))
            server = n.enclosing("server")
            if server is not None and server not in servers:
                servers.append(server)
        return servers

    def _upstream_is_bind(self, up):
        servers = [k for k in up.kids if k.name == "server" and k.args]
        return len(servers) == 1 and addresses.same_backend(servers[0].args[0], self.bind)

    # -- result -----------------------------------------------------------------------------

    def result(self):
        new_files = {}
        diffs = []
        for path in sorted(self.editors):
            ed = self.editors[path]
            if not ed.changed:
                continue
            new = ed.result()
            old = self.tree.files[path]
            old = old if isinstance(old, bytes) else old.encode("utf-8", "surrogateescape")
            if new == old:
                continue
            new_files[path] = new
            diffs.append(unified_diff(path, self.tree.texts[path], ed.result_text()))
        return Result(new_files, "".join(diffs), list(self.warnings), bool(new_files))


def unified_diff(path, old, new):
    lines = difflib.unified_diff(old.splitlines(True), new.splitlines(True),
                                 "a" + path, "b" + path)
    out = []
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def translate_site(files, new_bind, old_upstream_hint=None, static_maps=(), websocket=None,
                   conf_dir=None, vhost=None):
    """``translate_tree`` of the files ``files`` ({path: bytes}); ``conf_dir`` resolves their
    relative includes (default: the directory of a given nginx.conf). Raises
    ``NginxConfigError`` for a file nginx could not parse."""
    return translate_tree(Tree(files, conf_dir), new_bind, old_upstream_hint, static_maps,
                          websocket, vhost)


def translate_tree(tree, new_bind, old_upstream_hint=None, static_maps=(), websocket=None,
                   vhost=None):
    """Switch the site whose files ``tree`` holds to Gunicorn at ``new_bind``.

    ``old_upstream_hint`` is the uWSGI address (``127.0.0.1:8001``, ``unix:/x.sock``) or the
    upstream name the site used: uwsgi_pass directives aimed elsewhere are left alone, and a
    site already on proxy_pass (http= mode) is re-pointed only from that address.
    ``static_maps`` is a list of (mountpoint, directory) from uWSGI's static-map.
    ``websocket`` True/False forces the Upgrade headers on/off; None detects them.
    ``vhost``: the site's vhost path; when given, only uwsgi_pass/proxy_pass in it and in the
    files it includes are switched (other files only supply upstreams, maps, cache zones).

    Returns ``Result(new_files, diffs, warnings, changed)``; ``new_files`` holds only the
    files that changed.
    """
    t = _Translation(tree, new_bind, old_upstream_hint, static_maps, websocket, vhost)
    t.run()
    return t.result()
