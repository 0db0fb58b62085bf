"""The panel's ``get`` object: ``public.dict_obj`` as ``get_input()`` fills it.

The panel builds it from ``request.args`` then ``request.form`` (so a form field wins over a
query argument of the same name); every value is a ``str``; keys that do not match
``^[\\w\\s\\[\\]\\-\\.]+$``, dunder keys and the helper names are dropped; ``data`` is ``[]``
when not sent; then it sets ``name``, ``s`` and ``action`` (baota-internals.md §3, §11).
BaoTa 11's and aaPanel's ``in`` is ``hasattr``, and ``get()`` strips the value. On aaPanel
the values sit behind a ``__dict__`` property instead of in the instance's own dict.
"""
import json
import re

KEY_RE = re.compile(r"^[\w\s\[\]\-\.]+$")
RESERVED = {"get", "set", "get_items", "exists"}


class dict_obj:
    """Attributes are the request's parameters, all ``str``."""

    def __contains__(self, key):
        return hasattr(self, key)

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
        if isinstance(value, str):
            value = value.strip()
        try:
            if format in ("d", "int"):
                return int(value)
            if format in ("j", "json"):
                return json.loads(value)
        except (TypeError, ValueError):
            return default
        return value


class aapanel_dict_obj(dict_obj):
    """aaPanel 8's shape: the same API, the values in a dict that ``__dict__`` returns."""

    def __init__(self):
        object.__setattr__(self, "_values", {})

    @property
    def __dict__(self):
        return object.__getattribute__(self, "_values")

    def __setattr__(self, key, value):
        object.__getattribute__(self, "_values")[key] = value

    def __getattr__(self, key):
        try:
            return object.__getattribute__(self, "_values")[key]
        except KeyError:
            raise AttributeError(key) from None

    def __delattr__(self, key):
        try:
            del object.__getattribute__(self, "_values")[key]
        except KeyError:
            raise AttributeError(key) from None


def allowed_key(key):
    return bool(KEY_RE.match(key)) and not key.startswith("__") and key not in RESERVED


def build_get(args, form, name, s, action="a", aapanel=False):
    """A ``dict_obj`` from query ``args`` and ``form`` fields (lists of (key, value) pairs)."""
    get = aapanel_dict_obj() if aapanel else dict_obj()
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
    return get
