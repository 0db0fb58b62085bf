"""uWSGI's ``static-map`` as nginx locations, and ``uwsgi_cache_path`` zones, in the switched
site's nginx config.
"""
from .addresses import split_proxy_url
from .nginx_edit import quote
from .nginx_tree import cache_zone

FALLBACK_LOCATION = "@gunicorn_switch"


class StaticAndCaches(object):
    """Part of the translation (``nginx_translate._Translation``); uses its ``tree``,
    ``static_maps``, ``bind``, ``upstreams``, ``done``, the header rules and the editing
    helpers."""

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
                _, authority, _ = split_proxy_url(k.args[0])
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
            zone = cache_zone(n)
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
