"""The panel's ``get`` object: ``public.dict_obj`` as ``get_input()`` fills it.

The panel builds it from ``request.args`` then ``request.form`` (so a form field wins over a
query argument of the same name); every value is a ``str``; keys that do not match
``^[\\w\\s\\[\\]\\-\\.]+$``, dunder keys and the helper names are dropped; then it sets ``name``,
``s``, ``action`` and ``client_ip`` (baota-internals.md §3).
"""
import json
import re

KEY_RE = re.compile(r"^[\w\s\[\]\-\.]+$")
RESERVED = {"get", "set", "get_items", "exists"}


class dict_obj:
    """Attributes are the request's parameters, all ``str``."""

    def __contains__(self, key):
        # As the panel: ``'x' in get`` is the truth of the value, so an empty string is "not in".
        return bool(getattr(self, key, None))

    def __setitem__(self, key, value):
        setattr(self, key, value)

    def __getitem__(self, key):
        return getattr(self, key, None)

    def __delitem__(self, key):
        delattr(self, key)

    def get_items(self):
        return self

    def exists(self, keys):
        return all(k in self for k in keys)

    def get(self, key, default="", format=""):
        """``get.get('x', default)``; ``'x/d'`` asks for an int, ``'x/j'`` for JSON (subset)."""
        if "/" in key:
            key, format = key.split("/", 1)
        value = getattr(self, key, default)
        if value is default:
            return default
        try:
            if format in ("d", "int"):
                return int(value)
            if format in ("j", "json"):
                return json.loads(value)
        except (TypeError, ValueError):
            return default
        return value


def allowed_key(key):
    return bool(KEY_RE.match(key)) and not key.startswith("__") and key not in RESERVED


def build_get(args, form, name, s, client_ip, action="a"):
    """A ``dict_obj`` from query ``args`` and ``form`` fields (lists of (key, value) pairs)."""
    get = dict_obj()
    for key, value in list(args) + list(form):
        if key == "blob" or not allowed_key(key):
            continue
        setattr(get, key, str(value))
    if not hasattr(get, "data"):
        get.data = []  # the panel's default when no ``data`` is sent
    get.name = name
    if s is not None:
        get.s = s
    get.action = action
    get.client_ip = client_ip
    return get
