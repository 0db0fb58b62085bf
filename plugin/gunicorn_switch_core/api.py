"""The panel API in plain Python: one function per method, arguments as a dict of strings.

``call()`` is the contract of design.md: every method returns {status, msg, data} and never
raises. Bad input is a clear message in the page's language; an unexpected error is a short
message, and its traceback goes to the plugin's own log, not to the page.
"""
import logging
import os
import re
import traceback

from . import discover, i18n, paths

LOG = logging.getLogger("gunicorn_switch")
# What a key or value the panel hands us may look like: the panel itself allows keys
# matching ^[\w\s\[\]\-\.]+$; values are free text and are validated per argument.
MAX_VALUE = 4096
SITE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$")


class BadInput(Exception):
    """An argument the page sent is wrong; the message says which and why."""


def _log_file():
    return os.path.join(paths.host(paths.PLUGIN_STATE), "logs", "plugin.log")


def _logger():
    if not LOG.handlers:
        path = _log_file()
        try:
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            handler = logging.FileHandler(path)
        except OSError:
            handler = logging.NullHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        LOG.addHandler(handler)
        LOG.setLevel(logging.INFO)
        LOG.propagate = False
    return LOG


def args_of(get):
    """The panel's `get` (dict_obj: string attributes) as a dict of str -> str."""
    items = getattr(get, "__dict__", None)
    if items is None and isinstance(get, dict):
        items = get
    out = {}
    for k, v in (items or {}).items():
        if isinstance(k, str) and isinstance(v, str) and not k.startswith("_"):
            out[k] = v
    return out


def require_site(args, sites=None):
    """The site named by args['site'], which must be one discovery knows; else BadInput."""
    name = args.get("site", "")
    if not name:
        raise BadInput(i18n.t("missing_site"))
    if len(name) > 253 or not SITE_NAME.match(name):
        raise BadInput(i18n.t("bad_site", name=name[:80]))
    for s in sites if sites is not None else discover.get_sites():
        if s["site"] == name:
            return s
    raise BadInput(i18n.t("unknown_site", name=name))


def get_sites(args):
    return discover.get_sites()


METHODS = {
    "get_sites": get_sites,
}


def call(method, get):
    """Run one panel method: {status, msg, data}, never an exception."""
    try:
        args = args_of(get)
        for k, v in args.items():
            if len(v) > MAX_VALUE or "\x00" in v:
                raise BadInput(i18n.t("bad_value", name=k[:40]))
        fn = METHODS.get(method)
        if fn is None:
            raise BadInput(i18n.t("unknown_method", name=str(method)[:40]))
        data = fn(args)
        return {"status": True, "msg": "ok", "data": data}
    except BadInput as e:
        return {"status": False, "msg": str(e), "data": None}
    except Exception as e:  # the contract: never raise to the panel
        ref = "%x" % (abs(hash((method, str(e)))) & 0xFFFFFF)
        try:
            _logger().error("%s failed [%s]\n%s", method, ref, traceback.format_exc())
        except Exception:  # logging must not turn an error into a crash  # noqa: S110
            pass
        return {"status": False, "msg": i18n.t("internal_error", ref=ref, log=_log_file()),
                "data": None}
