"""Translate a parsed uWSGI configuration into Gunicorn settings.

``translate(config, context)`` returns the settings (each with the uWSGI line it came from),
the data the nginx rewrite needs, the parameters of the emulation hooks, and a warning for every
option that could not be carried over, saying why and what to do.

It is ``RULES`` applied in order to one ``Options``: each rule reads a few uWSGI options and
writes its part of the ``Translation``. The order is fixed because later rules use what earlier
ones found (the chdir, the app, the bind, the user, the workers), because the settings are
written to gunicorn_conf.py in the order they were set, and because the last rule reports every
option no rule read. Nothing is written; what is read besides the parsed config is the project
(Django detection when the caller has not done it, pythonpath globs, whether a static-map
names a file).
"""
import collections

from . import uwsgi_rules_app as app
from . import uwsgi_rules_handover as handover
from . import uwsgi_rules_server as server
from .gunicorn_versions import choose_gunicorn_version, has_feature
from .uwsgi_values import atoi, atoi_rest

# has_feature and choose_gunicorn_version are part of what callers use from here
__all__ = ["Context", "Options", "RULES", "Setting", "Translation", "choose_gunicorn_version",
           "has_feature", "translate"]


class Context(object):
    """What the plugin knows about the site, besides its uWSGI config."""

    FIELDS = ("site", "project_path", "venv", "python_version", "gunicorn_version",
              "log_dir", "runtime_dir", "stats_dir", "bind", "user", "group", "workers",
              "threads", "worker_class", "timeout", "nginx_read_timeout", "control_socket",
              "access_log", "run_as", "somaxconn")

    def __init__(self, **kw):
        unknown = set(kw) - set(self.FIELDS)
        if unknown:
            raise ValueError("unknown context fields: %s" % ", ".join(sorted(unknown)))
        for name in self.FIELDS:
            setattr(self, name, kw.get(name))
        if self.control_socket is None:
            self.control_socket = True

    @classmethod
    def of(cls, value):
        if isinstance(value, cls):
            return value
        value = dict(value or {})
        overrides = value.pop("overrides", None) or {}
        value.update({k: v for k, v in overrides.items() if v not in (None, "")})
        return cls(**value)


class Setting(object):
    __slots__ = ("name", "value", "origin", "comment")

    def __init__(self, name, value, origin, comment=""):
        self.name = name
        self.value = value
        self.origin = origin
        self.comment = comment

    def as_dict(self):
        return {"value": self.value, "origin": self.origin, "comment": self.comment}


class Translation(object):
    def __init__(self):
        self.settings = collections.OrderedDict()
        self.warnings = []
        self.dropped = []
        self.nginx = {
            "proxy_pass": None, "read_timeout": None, "client_max_body_size": None,
            "static": [], "check_static": [], "static_index": [], "static_expires": [],
            "static_gzip": False, "add_header": [], "script_name": None, "websocket": False,
            "routes": [], "old_binds": [],
        }
        self.hooks = {
            "stats_dir": None, "reload_on_rss_mb": None, "reload_on_as_mb": None,
            "max_worker_lifetime": None, "max_worker_lifetime_delta": 0,
            "limit_as_mb": None, "harakiri_verbose": False, "origins": {},
            "watch": [],
        }
        # what uWSGI ran besides the app and where the switch puts it (the plan lists it)
        self.carried = []
        # what would break the site under Gunicorn: the switch wants the user's confirmation
        self.blockers = []
        self.gunicorn_version = None
        self.run_as = None  # the user the process manager starts the master as
        self.python_version = None
        self.site = None
        self.runtime_dir = None
        self.django = None

    def set(self, name, value, origin, comment=""):
        self.settings[name] = Setting(name, value, origin, comment)

    def warn(self, message, opt=None, option=None):
        self.warnings.append({
            "message": message,
            "origin": opt.origin if opt is not None else None,
            "option": option or (opt.key if opt is not None else None),
        })

    def as_dict(self):
        return {
            "settings": collections.OrderedDict(
                (k, s.as_dict()) for k, s in self.settings.items()),
            "warnings": list(self.warnings),
            "dropped": list(self.dropped),
            "nginx": self.nginx,
            "hooks": self.hooks,
            "carried": list(self.carried),
            "blockers": list(self.blockers),
            "gunicorn_version": self.gunicorn_version,
            "python_version": self.python_version,
            "site": self.site,
            "runtime_dir": self.runtime_dir,
            "django": self.django,
        }


class Options(object):
    """The uWSGI options being translated, the site's context, and what the rules found so far.

    ``last`` and ``every`` remember the keys they were asked for: the last rule warns about
    the options no rule read.
    """

    def __init__(self, config, ctx, tr, django=None):
        self.config = config
        self.ctx = ctx
        self.django = django  # django_detect's result, if the caller had it already
        self.handled = set()
        # keys read as numbers: their inline-comment warning is the numeric one
        self.numeric = set()
        self._tr = tr
        # found by the rules, for the rules after them
        self.version = None  # the Gunicorn release written for
        self.chdir = None
        self.project = None
        self.site = None
        self.env_map = {}
        self.raw_env = []  # (NAME=value, origin); mounts add SCRIPT_NAME
        self.wsgi_app = self.app_origin = self.extra_path = None
        self.runtime_dir = None
        self.workers = None
        self.worker_class = None

    def last(self, *keys):
        self.handled.update(keys)
        return self.config.last(*keys)

    def every(self, *keys):
        self.handled.update(keys)
        return self.config.all(*keys)

    def number(self, opt, minimum=0):
        """The option read as uWSGI reads integers (atoi), or None below ``minimum``."""
        self.numeric.add(opt.key)
        n = atoi(opt.value)
        rest = atoi_rest(opt.value)
        if rest:
            self._tr.warn("%s = %s: uWSGI has no inline comments and reads the leading number "
                          "only (atoi), so it ran with %d; translated as %d. Remove %r from the "
                          "uWSGI config to make that plain" % (opt.key, opt.value, n, n, rest),
                          opt)
        if n < minimum:
            self._tr.warn("%s = %s is read by uWSGI as %d, below %s; ignored (the default is "
                          "kept)" % (opt.key, opt.value, n, minimum), opt)
            return None
        return n


def gunicorn(o, tr):
    """The Gunicorn release the settings are for: the one the venv's Python can run."""
    tr.python_version = o.ctx.python_version
    version, why = choose_gunicorn_version(o.ctx.python_version, o.ctx.gunicorn_version)
    tr.gunicorn_version = o.version = version
    if why:
        tr.warn(why, option="gunicorn_version")


RULES = (
    gunicorn,
    app.where, app.env, app.app, app.mounts, app.wsgi_app,
    server.bind, server.user, server.workers, server.worker_class, server.timeouts,
    server.limits,
    app.pythonpath,
    handover.logging, handover.runtime, handover.hooks, handover.watch, handover.crons,
    handover.harakiri_verbose, handover.nginx, handover.inline_comments, handover.leftovers,
)


def translate(config, context, django=None):
    """Translate ``config`` (a ``uwsgi_config.UwsgiConfig``) for the site in ``context``.

    ``context``: a ``Context`` or a dict with the fields of ``Context.FIELDS`` (plus
    ``overrides`` = {workers, threads, worker_class, timeout, access_log}). ``django``: the
    result of ``django_detect.detect`` if the caller has it already; detected when needed
    otherwise.
    """
    tr = Translation()
    o = Options(config, Context.of(context), tr, django)
    for rule in RULES:
        rule(o, tr)
    return tr
