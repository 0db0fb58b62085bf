"""Rewrite a site's nginx config from ``uwsgi_pass`` to ``proxy_pass`` (pure: text in, text out).

The files a site uses are read as one tree: ``include`` directives are followed among the files
given, so a location in the vhost that includes the 伪静态 rewrite file sees the rewrite file's
directives at its own level, and a location inherits from its server and from ``http`` in
nginx.conf. That matters because ``proxy_set_header`` (like ``uwsgi_param``) is inherited only by
levels that define none of their own: adding one header to a location silently drops every
header the server level set, so the translation emits the complete set (§4.2 of the notes).

Only the directives that change are spliced (see ``nginx_edit``); everything else stays byte for
byte. Running the translation on its own output changes nothing.
"""
import collections
import difflib
import fnmatch
import glob
import os
import re

from . import nginx_view
from .nginx_edit import Editor, quote
from .nginx_tokens import NginxConfigError, decode, parse

Result = collections.namedtuple("Result", "new_files diffs warnings changed")

# The CGI variables of ``uwsgi_params``: HTTP carries all of them, so they are dropped.
_CGI_PARAMS = frozenset("""QUERY_STRING REQUEST_METHOD CONTENT_TYPE CONTENT_LENGTH REQUEST_URI
PATH_INFO DOCUMENT_ROOT SERVER_PROTOCOL REMOTE_ADDR REMOTE_PORT SERVER_PORT SERVER_NAME
SERVER_ADDR DOCUMENT_URI SCRIPT_FILENAME GATEWAY_INTERFACE SERVER_SOFTWARE HTTP_HOST""".split())
_SCHEME_PARAMS = frozenset(["HTTPS", "REQUEST_SCHEME", "UWSGI_SCHEME"])
# uwsgi_* directives with no proxy_* twin; everything else keeps its suffix.
_NO_TWIN = frozenset(["uwsgi_modifier1", "uwsgi_modifier2"])
# http-only directives: they cannot be copied down into a location.
_HTTP_ONLY = frozenset(["uwsgi_cache_path"])
_STANDARD_HEADERS = (
    # $http_host is the client's Host verbatim, what uWSGI saw as HTTP_HOST (keeps the port).
    ("Host", "$http_host"),
    ("X-Real-IP", "$remote_addr"),
    ("X-Forwarded-For", "$proxy_add_x_forwarded_for"),
    ("X-Forwarded-Proto", "$scheme"),
)
FALLBACK_LOCATION = "@gunicorn_switch"
KEEPALIVE = "16"


# -- the include tree ----------------------------------------------------------------------

class Node(object):
    """A directive placed in the site's tree: ``parent`` is the enclosing block directive's
    node even when the directive sits in an included file; ``via`` is the child of ``parent``
    written in the parent's own file (the directive itself, or the ``include`` that brought it).
    """

    __slots__ = ("d", "parent", "kids", "via", "file")

    def __init__(self, d, parent, via):
        self.d = d
        self.parent = parent
        self.via = via
        self.kids = []
        self.file = d.filename

    @property
    def name(self):
        return self.d.name

    @property
    def args(self):
        return self.d.args

    def ancestors(self):
        p = self.parent
        while p is not None:
            yield p
            p = p.parent

    def enclosing(self, *names):
        for a in self.ancestors():
            if a.name in names:
                return a
        return None

    def walk(self):
        yield self
        for k in self.kids:
            for x in k.walk():
                yield x


def included_among(arg, conf_dir, candidates):
    """Paths among ``candidates`` that ``include arg`` names (nginx: relative to conf dir)."""
    path = arg if os.path.isabs(arg) else os.path.join(conf_dir or "/", arg)
    path = os.path.normpath(path)
    if not glob.has_magic(path):
        return [path] if path in candidates else []
    depth = path.count("/")
    return sorted(c for c in candidates
                  if c.count("/") == depth and fnmatch.fnmatchcase(c, path))


class Tree(object):
    """The parsed files of a site, with includes followed among them."""

    def __init__(self, files, conf_dir=None):
        self.texts = dict((p, decode(b)) for p, b in files.items())
        self.configs = dict((p, parse(t, p)) for p, t in self.texts.items())
        self.conf_dir = conf_dir or self._guess_conf_dir()
        self.included = set()
        for cfg in self.configs.values():
            for d in cfg.walk():
                if d.name == "include" and d.args:
                    self.included.update(self._targets(d))
        roots = [p for p in sorted(self.configs) if p not in self.included]
        # A file with server blocks at top level is included from http {} in nginx.conf.
        self.roots = [self._root_node(p) for p in roots]
        self.nodes = [n for r in self.roots for n in r.walk()]

    def _guess_conf_dir(self):
        for p in self.texts:
            if p.endswith("/nginx.conf"):
                return os.path.dirname(p)
        return "/www/server/nginx/conf"

    def reachable(self, path):
        """``path`` and the files it includes, directly or not, among the given files."""
        seen = set()
        todo = [path]
        while todo:
            p = todo.pop()
            if p in seen or p not in self.configs:
                continue
            seen.add(p)
            for d in self.configs[p].walk():
                if d.name == "include" and d.args and not _is_params_include(d.args[0]):
                    todo.extend(self._targets(d))
        return seen

    def _targets(self, include):
        return included_among(include.args[0], self.conf_dir, self.configs)

    def _root_node(self, path):
        cfg = self.configs[path]
        names = set(d.name for d in cfg.directives)
        context = "main" if "http" in names or "events" in names else (
            "http" if names & set(["server", "upstream", "map"]) else "server")
        root = Node(_Context(context, path), None, None)
        self._expand(cfg.directives, root, None, [path])
        return root

    def _expand(self, directives, parent, via, stack):
        for d in directives:
            node = Node(d, parent, via or d)
            parent.kids.append(node)
            if d.name == "include" and d.args and not _is_params_include(d.args[0]):
                for target in self._targets(d):
                    if target in stack:
                        continue  # nginx would loop; we just stop
                    self._expand(self.configs[target].directives, parent, via or d,
                                 stack + [target])
            elif d.block is not None:
                self._expand(d.block, node, None, stack)

    def context_of(self, node):
        """The block name that holds ``node`` ('http', 'server', 'location', ...)."""
        p = node.parent
        if isinstance(p.d, _Context):
            return p.d.context
        return p.name


def _copy(node, name=None):
    """The directive as written (quotes and escapes kept), under ``name`` if given."""
    args = " ".join(t.text for t in node.d.arg_tokens)
    return "%s %s;" % (name or node.name, args) if args else "%s;" % (name or node.name)


def _is_params_include(arg):
    """nginx's stock ``uwsgi_params`` is read as a whole: it is shared by every site, never
    edited; including it means "the standard CGI set"."""
    return "uwsgi_params" in os.path.basename(arg)


class _Context(object):
    """Stands for the implicit block a root file's top level lives in."""

    def __init__(self, context, filename):
        self.context = context
        self.name = "<%s>" % context
        self.args = []
        self.filename = filename
        self.block = None


# -- addresses -----------------------------------------------------------------------------

def bind_address(bind):
    """``127.0.0.1:8001`` / ``unix:/x.sock`` / ``/x.sock`` → the form nginx's ``server`` takes."""
    bind = bind.strip()
    if bind.startswith("unix:"):
        return bind
    if bind.startswith("/"):
        return "unix:" + bind
    if bind.startswith(":"):
        return "127.0.0.1" + bind
    return bind


def _normal(addr):
    """A comparable form of a backend address: scheme and URI part dropped, any-address and
    localhost treated as loopback (uWSGI on 0.0.0.0:8000 is reached at 127.0.0.1:8000)."""
    a = addr.strip()
    for scheme in ("uwsgi://", "suwsgi://", "http://", "https://"):
        if a.startswith(scheme):
            a = a[len(scheme):]
    if a.startswith("unix:"):
        path = a[5:]
        return "unix:" + path.split(":", 1)[0]
    if a.startswith("/"):
        return "unix:" + a
    a = a.split("/", 1)[0]
    if a.startswith(":"):
        a = "127.0.0.1" + a
    host, _, port = a.rpartition(":")
    # bandit B104 reviewed: compares addresses, binds nothing
    if host in ("0.0.0.0", "localhost", "[::]", "*", "[::1]", ""):  # nosec B104
        host = "127.0.0.1"
    return "%s:%s" % (host, port) if port else a


def _proxy_target(url):
    """Split ``http://host:port/uri`` into (scheme, authority, uri)."""
    m = re.match(r"^(https?://)(unix:[^:]*:?|[^/]*)(.*)$", url)
    if not m:
        return None, url, ""
    return m.group(1), m.group(2), m.group(3)


# -- translation ---------------------------------------------------------------------------

class _Translation(object):
    def __init__(self, files, new_bind, hint, static_maps, websocket, conf_dir, vhost):
        self.tree = Tree(files, conf_dir)
        self.site_files = None if vhost is None else self.tree.reachable(vhost)
        self.files = files
        self.bind = bind_address(new_bind)
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
        name = target
        for scheme in ("uwsgi://", "suwsgi://", "http://", "https://"):
            if name.startswith(scheme):
                name = name[len(scheme):]
        return self.upstreams.get(name.split("/", 1)[0])

    def matches_hint(self, target):
        if self.hint is None:
            return True
        up = self.upstream_of(target)
        if up is not None:
            if up.args[0] == self.hint:
                return True
            return any(k.name == "server" and k.args and _normal(k.args[0]) == _normal(self.hint)
                       for k in up.kids)
        return "$" not in target and _normal(target) == _normal(self.hint)

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

    def level_values(self, loc, name):
        """Directives ``name`` in effect at ``loc`` (nginx's inherit-if-none-here rule)."""
        node = loc
        while node is not None:
            here = [k for k in node.kids if k.name == name]
            if here:
                return node, here
            node = node.parent
        return None, []

    def uwsgi_params(self, loc):
        node = loc
        while node is not None:
            here = [k for k in node.kids if k.name == "uwsgi_param"
                    or (k.name == "include" and k.args and _is_params_include(k.args[0]))]
            if here:
                return node, here
            node = node.parent
        return None, []

    def wants_websocket(self, loc):
        if self.websocket is not None:
            return self.websocket
        for k in loc.kids:
            if k.name == "proxy_set_header" and k.args and k.args[0].lower() == "upgrade":
                return True
            if k.name == "uwsgi_param" and k.args and k.args[0] == "HTTP_UPGRADE":
                return True
        return False

    def wanted_headers(self, loc, params):
        headers = collections.OrderedDict((k.lower(), (k, v)) for k, v in _STANDARD_HEADERS)
        for p in params:
            if p.name != "uwsgi_param" or len(p.args) < 2:
                continue
            key, value = p.args[0], p.d.arg_tokens[1].text
            if key in _SCHEME_PARAMS:
                if key == "HTTPS":
                    value = "$scheme" if "$" in value else (
                        "https" if p.args[1].lower() in ("on", "1", "true") else "http")
                headers["x-forwarded-proto"] = ("X-Forwarded-Proto", value)
            elif key in _CGI_PARAMS:
                continue
            elif key.startswith("HTTP_"):
                header = "-".join(w.capitalize() for w in key[5:].split("_"))
                headers[header.lower()] = (header, value)
            elif key == "SCRIPT_NAME":
                # gunicorn's default forwarder_headers accept SCRIPT_NAME from a trusted proxy
                headers["script_name"] = ("SCRIPT_NAME", value)
                self.warn(p, "SCRIPT_NAME %s is passed as a header; gunicorn accepts it from "
                          "127.0.0.1 (forwarded_allow_ips, forwarder_headers)" % p.args[1])
            else:
                self.warn(p, "uwsgi_param %s has no HTTP equivalent; set it in gunicorn's "
                          "raw_env if the app needs it" % key)
        if self.wants_websocket(loc):
            conn = "$connection_upgrade" if self.has_connection_upgrade else '"upgrade"'
            headers["upgrade"] = ("Upgrade", "$http_upgrade")
            headers["connection"] = ("Connection", conn)
        elif loc in self.keepalive_locations:
            headers["connection"] = ("Connection", '""')
        return headers

    def header_lines(self, loc, params, fresh=False):
        """The proxy_set_header (and version) lines ``loc`` needs on top of what it has; with
        ``fresh`` all of them, for a new location beside ``loc`` that has none of its own."""
        own = [k for k in loc.kids if k.name == "proxy_set_header" and k.args]
        have = set(k.args[0].lower() for k in own) if not fresh else set()
        lines = []
        carried = own if fresh else []
        if not own:
            # adding headers here cuts inheritance: carry the inherited ones down
            _, carried = self.level_values(loc.parent, "proxy_set_header")
        for k in carried:
            if k.args and k.args[0].lower() not in have:
                have.add(k.args[0].lower())
                lines.append(_copy(k))
        for key, (header, value) in self.wanted_headers(loc, params).items():
            if key not in have:
                lines.append("proxy_set_header %s %s;" % (header, value))
        needs_11 = self.wants_websocket(loc) or loc in self.keepalive_locations
        if needs_11:
            _, versions = self.level_values(loc, "proxy_http_version")
            if fresh or not versions or versions[-1].args != ["1.1"]:
                lines.insert(0, "proxy_http_version 1.1;")
        return lines

    def inherited_uwsgi_lines(self, loc):
        """http-level uwsgi_* settings the location inherited and would lose by switching."""
        lines = []
        seen = set(k.name for k in loc.kids)
        node = loc.parent
        while node is not None:
            for k in node.kids:
                if (k.name.startswith("uwsgi_") and k.name not in _NO_TWIN
                        and k.name not in _HTTP_ONLY
                        and k.name not in ("uwsgi_pass", "uwsgi_param")
                        # a temp path is the server's scratch space for uwsgi, not a
                        # setting of this site: proxy keeps its own (proxy_temp_path)
                        and k.name != "uwsgi_temp_path"
                        and k.name not in seen and self.tree.context_of(k) == "http"):
                    twin = "proxy_" + k.name[6:]
                    seen.add(k.name)
                    if twin in seen or any(x.name == twin for x in node.kids):
                        continue
                    if k.name == "uwsgi_cache" and k.args and k.args[0] != "off":
                        self.warn(k, "uwsgi_cache at http level is not carried over")
                        continue
                    lines.append(_copy(k, twin))
            node = node.parent
        return lines

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
        if name in _NO_TWIN:
            self.once(k.d)
            self.warn(k, "%s has no proxy equivalent; removed" % name)
            self.editor(k.file).delete(k.d)
            return
        if name in _HTTP_ONLY:
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
                                           and _is_params_include(k.args[0])):
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
            scheme, authority, uri = _proxy_target(n.args[0])
            if scheme is None or "$" in authority:
                continue
            up = self.upstreams.get(authority)
            if up is not None:
                if not self.matches_hint(authority) or self._upstream_is_bind(up):
                    continue
                self.upstream_target(up)
            elif _normal(authority) == _normal(self.bind) or not self.matches_hint(authority):
                continue
            elif self.once(n.d):
                self.editor(n.file).set_arg(n.d, 0, quote("http://%s%s" % (self.bind, uri)))
            server = n.enclosing("server")
            if server is not None and server not in servers:
                servers.append(server)
        return servers

    def _upstream_is_bind(self, up):
        servers = [k for k in up.kids if k.name == "server" and k.args]
        return len(servers) == 1 and _normal(servers[0].args[0]) == _normal(self.bind)

    # -- static-map -------------------------------------------------------------------------

    def proxied_location(self, server):
        best = None
        for n in server.walk():
            if n.name == "proxy_pass" or (n.name == "uwsgi_pass"
                                          and (n.d.filename, n.d.start) in self.done):
                loc = n.enclosing("location")
                if loc is None:
                    continue
                if best is None or (loc.args and loc.args[-1] == "/"):
                    best = loc
        return best

    def add_static_maps(self, server):
        if not self.static_maps or not self.once(server.d):
            return
        loc = self.proxied_location(server)
        if loc is None:
            return
        anchor = loc
        while anchor.parent is not server:
            anchor = anchor.parent
        existing = set()
        for k in server.kids:
            if k.name == "location" and k.args:
                existing.add(k.args[-1])
        lines = []
        for mount, directory in self.static_maps:
            mount = "/" + mount.strip("/") + "/"
            if mount == "//":
                self.warn(server, "static-map on / cannot be served by nginx in front of the "
                          "app; skipped")
                continue
            if mount in existing or mount.rstrip("/") in existing:
                continue
            existing.add(mount)
            lines += ["location ^~ %s {" % quote(mount),
                      ["alias %s;" % quote(directory.rstrip("/") + "/"),
                       # uWSGI's static-map falls through to the app when the file is missing
                       "try_files $uri %s;" % FALLBACK_LOCATION],
                      "}"]
        if not lines:
            return
        if FALLBACK_LOCATION not in existing:
            target = self._target_of(loc)
            inner = ["proxy_pass http://%s;" % target]
            _, params = self.uwsgi_params(loc)
            inner += self.header_lines(loc, params, fresh=True)
            lines += ["location %s {" % FALLBACK_LOCATION, inner, "}"]
        self.editor(anchor.file).insert_before(anchor.d, lines)

    def _target_of(self, loc):
        for k in loc.walk():
            if k.name == "uwsgi_pass" and k.args:
                up = self.upstream_of(k.args[0])
                return up.args[0] if up is not None and "$" not in k.args[0] else self.bind
            if k.name == "proxy_pass" and k.args:
                _, authority, _ = _proxy_target(k.args[0])
                if authority in self.upstreams:
                    return authority
        return self.bind

    # -- cache zones ------------------------------------------------------------------------

    def convert_cache_paths(self):
        """uwsgi_cache_path → proxy_cache_path when every user of the zone was switched."""
        used = set()
        for n in self.tree.nodes:
            if n.name == "uwsgi_cache" and n.args and n.args[0] != "off":
                used.add(n.args[0])
        for n in self.tree.nodes:
            if n.name != "uwsgi_cache_path":
                continue
            zone = None
            for a in n.args:
                if a.startswith("keys_zone="):
                    zone = a[len("keys_zone="):].split(":", 1)[0]
            if zone is None or zone not in used:
                continue
            users = [u for u in self.tree.nodes if u.name == "uwsgi_cache" and u.args
                     and u.args[0] == zone]
            if all((u.d.filename, u.d.start) in self.done for u in users):
                if self.once(n.d):
                    self.editor(n.file).rename(n.d, "proxy_cache_path")
            else:
                self.warn(n, "cache zone %s is still used by uwsgi_cache elsewhere; the switched "
                          "site's proxy_cache needs its own proxy_cache_path" % zone)

    # -- result -----------------------------------------------------------------------------

    def result(self):
        new_files = {}
        diffs = []
        for path in sorted(self.editors):
            ed = self.editors[path]
            if not ed.changed:
                continue
            new = ed.result()
            old = self.files[path]
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
    """Switch the site described by ``files`` ({path: bytes}) to Gunicorn at ``new_bind``.

    ``old_upstream_hint`` is the uWSGI address (``127.0.0.1:8001``, ``unix:/x.sock``) or the
    upstream name the site used: uwsgi_pass directives aimed elsewhere are left alone, and a
    site already on proxy_pass (http= mode) is re-pointed only from that address.
    ``static_maps`` is a list of (mountpoint, directory) from uWSGI's static-map.
    ``websocket`` True/False forces the Upgrade headers on/off; None detects them.
    ``conf_dir`` resolves relative includes (default: the directory of a given nginx.conf).
    ``vhost``: the site's vhost path; when given, only uwsgi_pass/proxy_pass in it and in the
    files it includes are switched (other files only supply upstreams, maps, cache zones).

    Returns ``Result(new_files, diffs, warnings, changed)``; ``new_files`` holds only the
    files that changed. Raises ``NginxConfigError`` for a file nginx could not parse.
    """
    t = _Translation(files, new_bind, old_upstream_hint, static_maps, websocket, conf_dir,
                     vhost)
    t.run()
    return t.result()


# -- which files a site uses ---------------------------------------------------------------

def _read_default(path):
    with open(path, "rb") as f:
        return f.read()


def find_site_files(main_conf_path, vhost_path, read_file=_read_default, glob_func=None):
    """The files the site's translation needs: the vhost and everything it includes, plus the
    files (nginx.conf and its includes) that define the upstreams, cache zones and the
    ``$connection_upgrade`` map the site uses. Missing files are skipped, as nginx would
    report them itself. ``read_file(path) -> bytes``; ``glob_func(pattern) -> paths``.
    """
    glob_func = glob_func or glob.glob
    conf_dir = os.path.dirname(main_conf_path)
    parsed = {}

    site_done = []

    def load(path):
        if path not in parsed:
            try:
                parsed[path] = parse(read_file(path), path)
            except (IOError, OSError):
                parsed[path] = None
            except NginxConfigError:
                # the site's own files must parse; another site's broken file is not ours
                # to judge here (nginx -t will name it)
                if not site_done:
                    raise
                parsed[path] = None
        return parsed[path]

    def includes_of(cfg):
        for d in cfg.walk():
            if d.name == "include" and d.args and not _is_params_include(d.args[0]):
                for p in nginx_view.resolve_include(d.args[0], conf_dir, glob_func):
                    yield p

    def closure(start):
        """Files reachable from ``start`` in include order, each with the file including it."""
        order = collections.OrderedDict()
        todo = [(start, None)]
        while todo:
            path, parent = todo.pop(0)
            if path in order:
                continue
            cfg = load(path)
            if cfg is None:
                continue
            order[path] = parent
            todo.extend((p, path) for p in includes_of(cfg) if p not in order)
        return order

    site = list(closure(vhost_path))
    site_done.append(True)
    wanted = set([("map", "$connection_upgrade")])
    for path in site:
        for d in parsed[path].walk():
            if d.name in ("uwsgi_pass", "proxy_pass") and d.args:
                _, authority, _ = _proxy_target(d.args[0])
                if "://" in authority:
                    authority = authority.split("://", 1)[1]
                wanted.add(("upstream", authority.split("/", 1)[0]))
            elif d.name in ("uwsgi_cache", "proxy_cache") and d.args:
                wanted.add(("zone", d.args[0]))
    result = list(site)
    tree = closure(main_conf_path)
    for path in tree:
        if path in result or parsed[path] is None or not _provides(parsed[path], wanted):
            continue
        # the chain of includes from nginx.conf, so that the file sits in its context
        chain = []
        while path is not None and path not in result:
            chain.append(path)
            path = tree[path]
        result.extend(reversed(chain))
    return result


def _provides(cfg, wanted):
    """Does this file define something the site uses, or uwsgi_* settings it inherits?"""
    for d in cfg.walk():
        if d.name == "upstream" and d.args:
            key = ("upstream", d.args[0])
        elif d.name == "map" and len(d.args) >= 2:
            key = ("map", d.args[1])
        elif d.name in ("uwsgi_cache_path", "proxy_cache_path"):
            key = None
            for a in d.args:
                if a.startswith("keys_zone="):
                    key = ("zone", a[10:].split(":", 1)[0])
        elif d.name.startswith("uwsgi_") and not _inside(d, "server"):
            return True
        else:
            continue
        if key in wanted:
            return True
    return False


def _inside(d, name):
    p = d.parent
    while p is not None:
        if p.name == name:
            return True
        p = p.parent
    return False
