"""What a switched location must say to Gunicorn: the ``proxy_set_header`` set that stands for
its ``uwsgi_param`` set, and the ``uwsgi_*`` settings it inherited from ``http``.

``proxy_set_header`` (like ``uwsgi_param``) is inherited only by levels that define none of
their own: adding one header to a location silently drops every header the server level set,
so a location that gets headers gets the complete set, the inherited ones carried down.
"""
import collections

from .nginx_tree import is_params_include

# The CGI variables of ``uwsgi_params``: HTTP carries all of them, so they are dropped.
_CGI_PARAMS = frozenset("""QUERY_STRING REQUEST_METHOD CONTENT_TYPE CONTENT_LENGTH REQUEST_URI
PATH_INFO DOCUMENT_ROOT SERVER_PROTOCOL REMOTE_ADDR REMOTE_PORT SERVER_PORT SERVER_NAME
SERVER_ADDR DOCUMENT_URI SCRIPT_FILENAME GATEWAY_INTERFACE SERVER_SOFTWARE HTTP_HOST""".split())
_SCHEME_PARAMS = frozenset(["HTTPS", "REQUEST_SCHEME", "UWSGI_SCHEME"])
# uwsgi_* directives with no proxy_* twin; everything else keeps its suffix.
NO_TWIN = frozenset(["uwsgi_modifier1", "uwsgi_modifier2"])
# http-only directives: they cannot be copied down into a location.
HTTP_ONLY = frozenset(["uwsgi_cache_path"])
_STANDARD_HEADERS = (
    # $http_host is the client's Host verbatim, what uWSGI saw as HTTP_HOST (keeps the port).
    ("Host", "$http_host"),
    ("X-Real-IP", "$remote_addr"),
    ("X-Forwarded-For", "$proxy_add_x_forwarded_for"),
    ("X-Forwarded-Proto", "$scheme"),
)


def copy_directive(node, name=None):
    """The directive as written (quotes and escapes kept), under ``name`` if given."""
    args = " ".join(t.text for t in node.d.arg_tokens)
    return "%s %s;" % (name or node.name, args) if args else "%s;" % (name or node.name)


class HeaderRules(object):
    """Part of the translation (``nginx_translate._Translation``); uses its ``tree``,
    ``websocket``, ``keepalive_locations``, ``has_connection_upgrade`` and ``warn``."""

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
                    or (k.name == "include" and k.args and is_params_include(k.args[0]))]
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
                lines.append(copy_directive(k))
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
                if (k.name.startswith("uwsgi_") and k.name not in NO_TWIN
                        and k.name not in HTTP_ONLY
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
                    lines.append(copy_directive(k, twin))
            node = node.parent
        return lines
