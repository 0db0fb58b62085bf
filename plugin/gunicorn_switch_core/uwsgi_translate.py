"""Translate a parsed uWSGI configuration into Gunicorn settings (notes §2.1, §3).

``translate(config, context)`` is pure: it returns the settings (each with the uWSGI line it
came from), the data the nginx rewrite needs, the parameters of the emulation hooks, and a
warning for every option that could not be carried over, saying why and what to do.
"""
import collections
import glob
import os
import re

from . import django_detect, uwsgi_jobs
from .addresses import proxy_pass_for, unix_path
from .uwsgi_config import atoi, atoi_rest, is_true

NEWEST_GUNICORN = "27.0.1"
LEGACY_GUNICORN = "23.0.0"  # the last release that installs on Python < 3.10 (§3.1)
# Gunicorn silently ignores unknown names, so writing a setting an older release lacks would
# pass --check-config and then do nothing: gate them instead.
MIN_VERSION = {
    "control_socket": (25, 1, 0),
    "control_socket_mode": (25, 1, 0),
    "control_socket_disable": (25, 1, 0),
    "protocol": (24, 0, 0),
    "asgi_worker": (24, 0, 0),
}
DEFAULT_TIMEOUT = 60
DEFAULT_USER = "www"
ASGI_NATIVE = "asgi"
UVICORN_WORKER = "uvicorn_worker.UvicornWorker"

SOCKET_KEYS = {
    "socket": "uwsgi", "uwsgi-socket": "uwsgi", "s": "uwsgi", "http": "http-router",
    "http-socket": "http", "https": "https-router", "https-socket": "https",
    "fastcgi-socket": "fastcgi", "shared-socket": "shared", "http11-socket": "http",
}
# Options that Gunicorn does by default or that have no meaning there: dropped quietly
# (listed in ``dropped``, not warned about).
DEFAULT_BEHAVIOUR = {
    "master": "Gunicorn always runs a master (arbiter)",
    "vacuum": "Gunicorn removes its unix sockets and pidfile on exit",
    "die-on-term": "SIGTERM is a graceful stop in Gunicorn",
    "enable-threads": "threads are always allowed in Gunicorn",
    "single-interpreter": "Gunicorn always uses one interpreter",
    "need-app": "Gunicorn halts when the app fails to load",
    "thunder-lock": "not needed by Gunicorn",
    "strict": "checked with gunicorn --check-config instead",
    "post-buffering": "nginx already buffers request bodies (proxy_request_buffering on)",
    "offload-threads": "static files move to nginx",
    "memory-report": "the plugin's status page shows RSS per worker",
    "stats": "the plugin's status page replaces the uWSGI stats server",
    "stats-server": "the plugin's status page replaces the uWSGI stats server",
    "stats-http": "the plugin's status page replaces the uWSGI stats server",
    "socket-timeout": "no equivalent; the sync worker relies on timeout",
    "so-keepalive": "pointless on a loopback socket",
    "harakiri-graceful-timeout": "Gunicorn sends SIGABRT then SIGKILL on timeout",
    "harakiri-graceful-signal": "Gunicorn sends SIGABRT then SIGKILL on timeout",
    "log-date": "Gunicorn formats timestamps itself",
    "auto-procname": "proc_name is set",
    "procname-prefix": "proc_name is set", "procname-prefix-spaced": "proc_name is set",
    "procname": "proc_name is set", "procname-master": "proc_name is set",
    "home": "Gunicorn runs from the venv's own bin/gunicorn",
    "virtualenv": "Gunicorn runs from the venv's own bin/gunicorn",
    "venv": "Gunicorn runs from the venv's own bin/gunicorn",
    "pyhome": "Gunicorn runs from the venv's own bin/gunicorn",
    "H": "Gunicorn runs from the venv's own bin/gunicorn",
    "plugins": "Gunicorn has no plugins", "plugin": "Gunicorn has no plugins",
    "gevent-monkey-patch": "Gunicorn's gevent worker patches itself",
    "pidfile": "Gunicorn writes its own pidfile in the runtime directory",
    "pidfile2": "Gunicorn writes its own pidfile in the runtime directory",
    "safe-pidfile": "Gunicorn writes its own pidfile in the runtime directory",
    "daemonize": "Gunicorn runs in the foreground under the plugin; logs go to errorlog",
    "daemonize2": "Gunicorn runs in the foreground under the plugin; logs go to errorlog",
    "logto": "logs go to errorlog/accesslog in the site's log directory",
    "logto2": "logs go to errorlog/accesslog in the site's log directory",
    "logger": "logs go to errorlog/accesslog in the site's log directory",
    "req-logger": "logs go to errorlog/accesslog in the site's log directory",
    "master-fifo": "the panel controls Gunicorn with signals",
    "optimize": "set PYTHONOPTIMIZE in raw_env if needed",
    "max-vars": "no equivalent",
    "lazy-apps": "preload_app stays False", "lazy": "preload_app stays False",
    "manage-script-name": "SCRIPT_NAME handling follows mount",
    "harakiri-verbose": "emulated in worker_abort",
    "callable": "part of wsgi_app",
    "uid": "user", "gid": "group",
    "chmod-socket": "umask", "C": "umask",
    "chown-socket": "Gunicorn chowns the unix socket to user/group",
    "static-map": "nginx", "static-map2": "nginx", "check-static": "nginx",
    "static-index": "nginx", "static-expires": "nginx", "static-expires-uri": "nginx",
    "static-expires-type": "nginx", "static-gzip-all": "nginx", "static-safe": "nginx",
    "add-header": "nginx", "limit-post": "nginx",
    "protocol": "the new bind speaks HTTP to nginx", "socket-protocol": "HTTP to nginx",
    "http-timeout": "timeout", "reload-mercy": "graceful_timeout",
    "worker-reload-mercy": "graceful_timeout", "max-requests-delta": "max_requests_jitter",
    "reload-on-rss": "hook", "evil-reload-on-rss": "hook", "reload-on-as": "hook",
    "evil-reload-on-as": "hook", "limit-as": "hook", "max-worker-lifetime": "hook",
    "max-worker-lifetime-delta": "hook",
}
RESOLVED_BY_PARSER = frozenset([
    "ini", "include", "inherit", "xml", "yaml", "yml", "json", "js", "config", "set",
    "set-placeholder", "set-ph",
])
# uWSGI features with no Gunicorn counterpart that change what the site does.
MANUAL = {
    "spooler": "uWSGI spooler: move the tasks to Celery/RQ or a Baota cron job",
    "spooler-processes": "uWSGI spooler: move the tasks to Celery/RQ",
    "cache2": "uWSGI cache: use Django's cache framework (redis/memcached/locmem)",
    "cache": "uWSGI cache: use Django's cache framework (redis/memcached/locmem)",
    "sharedarea": "uWSGI sharedarea has no Gunicorn equivalent",
    "signal": "uWSGI signals have no Gunicorn equivalent",
    "import": "imported at app start under uWSGI; import it from wsgi.py instead",
    "shared-import": "imported at app start under uWSGI; import it from wsgi.py instead",
    "emperor": "this is an Emperor, not a site: migrate each vassal",
    "vassals-include": "Emperor vassal settings: migrate each vassal",
    "cheaper": "Gunicorn runs a fixed number of workers (workers = processes); "
               "add/remove workers from the status page (TTIN/TTOU)",
    "cheaper-initial": "Gunicorn runs a fixed number of workers",
    "cheaper-algo": "Gunicorn runs a fixed number of workers",
    "cheaper-step": "Gunicorn runs a fixed number of workers",
    "log-maxsize": "Gunicorn does not rotate logs: use logrotate (or Baota's log cutting) "
                   "and send USR1",
    "http-websockets": "WebSockets need an ASGI worker (worker_class=asgi) and nginx Upgrade "
                       "headers",
    "async": "uWSGI async mode has no equivalent; consider the gevent worker",
    "ugreen": "uGreen has no equivalent; consider the gevent worker",
    "evil-reload-on-rss": "emulated gently: the worker retires after its current request "
                          "instead of being SIGKILLed",
    "evil-reload-on-as": "emulated gently: the worker retires after its current request",
    "https": "TLS moves to nginx (Baota's SSL settings); the new bind is plain HTTP",
    "https-socket": "TLS moves to nginx (Baota's SSL settings); the new bind is plain HTTP",
    "py-tracebacker": "use faulthandler or py-spy",
    "file-serve-mode": "X-Accel-Redirect / X-Sendfile must be handled by nginx",
}
# " # ..." or " ; ..." after a value: a comment to the author, part of the value to uWSGI
INLINE_COMMENT = re.compile(r"\s[#;]")
# Reload files a watcher thread in the Gunicorn master keeps honouring (the template's
# _WATCH): option -> (signal to the master, what uWSGI did).
WATCHED = collections.OrderedDict([
    ("touch-reload", ("HUP", "graceful reload")),
    ("touch-chain-reload", ("HUP", "chain reload: Gunicorn's HUP also starts new workers "
                                   "before the old ones stop")),
    ("touch-workers-reload", ("HUP", "workers reload")),
    ("fs-reload", ("HUP", "graceful reload on a change of the file or directory")),
    ("touch-logreopen", ("USR1", "reopen the log files")),
])
ROUTE_PREFIX = ("route", "final-route", "error-route", "response-route")
LOG_FORMAT_VARS = {
    "addr": "%({x-real-ip}i)s", "user": "%(u)s", "ltime": "%(t)s", "method": "%(m)s",
    "proto": "%(H)s", "status": "%(s)s", "uri": "%({raw_uri}e)s", "host": "%({host}i)s",
    "referer": "%(f)s", "uagent": "%(a)s", "msecs": "%(M)s", "micros": "%(D)s",
    "secs": "%(T)s", "rsize": "%(B)s", "pid": "%(p)s",
}


def parse_version(text):
    nums = re.findall(r"\d+", str(text or ""))
    return tuple(int(n) for n in (nums + ["0", "0", "0"])[:3])


def has_feature(gunicorn_version, feature):
    return parse_version(gunicorn_version) >= MIN_VERSION[feature]


def choose_gunicorn_version(python_version, requested=None):
    """The Gunicorn the venv's Python can run, and a warning when ``requested`` can't be."""
    py = parse_version(python_version)[:2] if python_version else (3, 11)
    if py < (3, 10):
        if requested and parse_version(requested) > parse_version(LEGACY_GUNICORN):
            return LEGACY_GUNICORN, ("Gunicorn %s needs Python >= 3.10; this venv has Python "
                                     "%s.%s, so Gunicorn %s is used" % (
                                         requested, py[0], py[1], LEGACY_GUNICORN))
        return requested or LEGACY_GUNICORN, None
    return requested or NEWEST_GUNICORN, None


class Context(object):
    """What the plugin knows about the site, besides its uWSGI config."""

    FIELDS = ("site", "project_path", "venv", "python_version", "gunicorn_version",
              "log_dir", "runtime_dir", "stats_dir", "bind", "user", "group", "workers",
              "threads", "worker_class", "timeout", "nginx_read_timeout", "control_socket",
              "env", "access_log", "run_as", "somaxconn")

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
        # keys read as numbers: their inline-comment warning is the numeric one
        self.numeric = set()

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


def _int(opt, tr, minimum=0):
    """The option read as uWSGI reads integers (atoi), or None below ``minimum``."""
    tr.numeric.add(opt.key)
    n = atoi(opt.value)
    rest = atoi_rest(opt.value)
    if rest:
        tr.warn("%s = %s: uWSGI has no inline comments and reads the leading number only "
                "(atoi), so it ran with %d; translated as %d. Remove %r from the uWSGI config "
                "to make that plain" % (opt.key, opt.value, n, n, rest), opt)
    if n < minimum:
        tr.warn("%s = %s is read by uWSGI as %d, below %s; ignored (the default is kept)"
                % (opt.key, opt.value, n, minimum), opt)
        return None
    return n


def _crons(tr, every, last, site, chdir, env_map, ctx):
    """uWSGI's crons become the panel's 计划任务 (the switch's crons step adds them), its
    daemons programs of Gunicorn's process manager (the daemons step)."""
    ch = last("cron-harakiri")
    harakiri = _int(ch, tr, 0) if ch is not None else None
    items, problems = uwsgi_jobs.crons(every("cron", "cron2", "unique-cron"), harakiri, site,
                                       chdir, list(env_map.items()))
    for opt, message in problems:
        tr.warn(message, opt)
    tr.carried.extend(items)
    python = os.path.join(ctx.venv, "bin", "python") if ctx.venv else "python3"
    items, problems = uwsgi_jobs.daemons(every(*uwsgi_jobs.DAEMON_OPTIONS), site, chdir,
                                         list(env_map.items()), python)
    for opt, message in problems:
        tr.warn(message, opt)
    tr.carried.extend(items)


def _origin(opt):
    return opt.describe()


def umask_for(mode_text):
    """uWSGI chmod-socket (none/1 -> 666, else 3 octal digits) as a Gunicorn umask."""
    text = (mode_text or "").strip()
    if text in ("", "1"):
        mode = 0o666
    elif re.match(r"^[0-7]{3}$", text):
        mode = int(text, 8)
    else:
        return None
    return 0o777 & ~mode


def wsgi_file_to_app(path, chdir, callable_name):
    """A ``wsgi-file`` path as an importable ``module:callable`` (or None) + extra sys.path."""
    full = os.path.normpath(path if os.path.isabs(path) else os.path.join(chdir or "/", path))
    if not full.endswith(".py"):
        return None, None
    ident = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
    if chdir:
        rel = os.path.relpath(full, chdir)
        parts = rel[:-3].split(os.sep)
        if not rel.startswith("..") and all(ident.match(p) for p in parts):
            return "%s:%s" % (".".join(parts), callable_name), None
    stem = os.path.basename(full)[:-3]
    if ident.match(stem):
        return "%s:%s" % (stem, callable_name), os.path.dirname(full)
    return None, None


def translate_log_format(fmt):
    """uWSGI ``log-format`` -> Gunicorn ``access_log_format``; unknown vars listed."""
    missing = []

    def sub(m):
        name = m.group(1)
        if name in LOG_FORMAT_VARS:
            return LOG_FORMAT_VARS[name]
        if name.startswith("var."):
            return "%%({%s}e)s" % name[4:].lower()
        missing.append(name)
        return "-"
    return re.sub(r"%\(([^)]+)\)", sub, fmt), missing


def translate(config, context, django=None):
    """Translate ``config`` (a ``uwsgi_config.UwsgiConfig``) for the site in ``context``.

    ``context``: a ``Context`` or a dict with the fields of ``Context.FIELDS`` (plus
    ``overrides`` = {workers, threads, worker_class, timeout, access_log}). ``django``: the result of
    ``django_detect.detect`` if the caller has it already; detected when needed otherwise.
    """
    ctx = Context.of(context)
    tr = Translation()
    tr.python_version = ctx.python_version
    version, why = choose_gunicorn_version(ctx.python_version, ctx.gunicorn_version)
    tr.gunicorn_version = version
    if why:
        tr.warn(why, option="gunicorn_version")
    handled = set()

    def last(*keys):
        handled.update(keys)
        return config.last(*keys)

    def every(*keys):
        handled.update(keys)
        return config.all(*keys)

    # -- where and what to run --------------------------------------------------------
    chdir_opt = last("chdir", "chdir2")
    project = ctx.project_path
    if chdir_opt is not None and chdir_opt.value:
        chdir = chdir_opt.value.rstrip("/") or "/"
        tr.set("chdir", chdir, _origin(chdir_opt), "uWSGI's %d ends in '/': stripped")
    elif project:
        chdir = project.rstrip("/") or "/"
        tr.set("chdir", chdir, "context: project path", "no chdir in the uWSGI config")
    else:
        chdir = None
    site = ctx.site or (os.path.basename(chdir) if chdir else "site")
    tr.site = site
    project = project or chdir
    env_opts = every("env")
    raw_env = []
    env_map = {}
    for o in env_opts:
        if "=" not in o.value:
            tr.warn("env = %s has no '=': uWSGI exports nothing; dropped" % o.value, o)
            continue
        raw_env.append((o.value, _origin(o)))
        k, _, v = o.value.partition("=")
        env_map[k] = v
        if v[:1] in ("'", '"'):
            tr.warn("env value %s keeps its quotes (uWSGI putenv does not strip them); "
                    "carried over as is" % o.value, o)

    wsgi_app, app_origin, extra_path = _find_app(config, tr, last, chdir, project, env_map,
                                                ctx, django)
    # -- mounts -----------------------------------------------------------------------
    mounts = every("mount")
    if mounts:
        first = mounts[0]
        prefix, _, app = first.value.partition("=")
        prefix = prefix.rstrip("/")
        if len(mounts) > 1:
            tr.warn("%d mount= apps: Gunicorn serves one app per instance; only %s is "
                    "migrated. Run one site per app or add a dispatcher WSGI module"
                    % (len(mounts), first.value), first)
        if prefix and "|" not in prefix:
            raw_env.append(("SCRIPT_NAME=%s" % prefix, _origin(first)))
            tr.nginx["script_name"] = prefix
        if app and not wsgi_app:
            if app.endswith(".py"):
                wsgi_app, extra_path = wsgi_file_to_app(app, chdir, "application")
            else:
                wsgi_app = app if ":" in app else app + ":application"
            app_origin = _origin(first)
    if wsgi_app:
        tr.set("wsgi_app", wsgi_app, app_origin, "uWSGI's app, as an import path")
    else:
        tr.warn("no application found: neither module=/wsgi-file= nor a Django project "
                "with manage.py; set wsgi_app by hand", option="wsgi_app")

    # -- bind ---------------------------------------------------------------------------
    for key, kind in SOCKET_KEYS.items():
        for o in every(key):
            tr.nginx["old_binds"].append({"kind": key, "protocol": kind, "address": o.value,
                                          "origin": _origin(o)})
    runtime_dir = ctx.runtime_dir or "/run/gunicorn_switch/%s" % site
    tr.runtime_dir = runtime_dir
    bind = ctx.bind or "unix:%s/gunicorn.sock" % runtime_dir
    # bandit B104 reviewed: compares addresses, binds nothing
    if bind.startswith("0.0.0.0") or bind.startswith("[::]"):  # nosec B104
        tr.warn("bind %s listens on every interface; nginx only needs loopback" % bind,
                option="bind")
    public = [b for b in tr.nginx["old_binds"]
              # bandit B104 reviewed: compares addresses, binds nothing
              if b["address"].startswith(("0.0.0.0", ":", "*", "[::]"))]  # nosec B104
    comment = "behind nginx on %s" % ("a unix socket" if unix_path(bind) else "loopback")
    if public:
        comment += "; uWSGI listened on %s for everyone" % public[0]["address"]
        tr.warn("uWSGI listened on %s (all interfaces); Gunicorn binds %s and is reached "
                "through nginx only. Close the old port in the firewall/安全 page if it was "
                "opened for it" % (public[0]["address"], bind), option="bind")
    tr.set("bind", [bind], "context: bind", comment)
    tr.nginx["proxy_pass"] = proxy_pass_for(bind)
    if unix_path(bind):
        chmod = last("chmod-socket", "C")
        if chmod is not None:
            umask = umask_for(chmod.value)
            if umask is None:
                tr.warn("chmod-socket = %s is not 3 octal digits (uWSGI would refuse it); "
                        "umask left at the default" % chmod.value, chmod)
            else:
                tr.set("umask", umask, _origin(chmod),
                       "the unix socket is created with mode 0o%o" % (0o777 & ~umask))
    for key in ("https", "https-socket"):
        for o in every(key):
            tr.warn(MANUAL[key], o)

    # -- user --------------------------------------------------------------------------
    uid = last("uid")
    gid = last("gid")
    if ctx.user:
        user, user_origin = ctx.user, "context: user"
    elif uid is not None and uid.value and uid.value not in ("0", "root"):
        user, user_origin = uid.value, _origin(uid)
    else:
        user, user_origin = DEFAULT_USER, "plugin default"
        if uid is not None:
            tr.warn("uWSGI ran as %s; Gunicorn workers run as %s" % (uid.value, user), uid)
    if ctx.run_as:
        # The process manager starts the master as this user: Gunicorn would only try to
        # switch to the user it already is.
        tr.run_as = ctx.run_as
    else:
        tr.set("user", user, user_origin, "workers only: the master keeps root to bind and log")
        if ctx.group:
            tr.set("group", ctx.group, "context: group")
        elif gid is not None and gid.value and not ctx.user and gid.value not in ("0", "root"):
            tr.set("group", gid.value, _origin(gid))
        else:
            tr.set("group", user, user_origin)
    chown = last("chown-socket")
    if chown is not None and chown.value.split(":")[0] != user:
        tr.warn("chown-socket = %s: Gunicorn chowns the socket to user/group %s instead"
                % (chown.value, user), chown)

    # -- workers -----------------------------------------------------------------------
    procs = last("processes", "workers", "p")
    workers, w_origin = 1, "uWSGI default: 1 process"
    if procs is not None:
        n = _int(procs, tr, 1)
        if n:
            workers, w_origin = n, _origin(procs)
    w_comment = ""
    initial = config.last("cheaper-initial")
    if initial is not None and config.last("cheaper") is not None:
        n = _int(initial, tr, 1)
        if n:
            w_comment = ("uWSGI's cheaper mode started %d and grew up to processes = %d on "
                         "load; Gunicorn runs a fixed count (add workers on the status page)"
                         % (n, workers))
            workers, w_origin = min(n, workers), _origin(initial)
    if ctx.workers:
        workers, w_origin = int(ctx.workers), "override: workers"
    tr.set("workers", workers, w_origin, w_comment)
    for key in ("cheaper", "cheaper-initial", "cheaper-algo", "cheaper-step"):
        o = last(key)
        if o is not None:
            tr.warn(MANUAL[key], o)
    threads_opt = last("threads")
    threads, t_origin = 1, None
    if threads_opt is not None:
        n = _int(threads_opt, tr, 1)
        if n:
            threads, t_origin = n, _origin(threads_opt)
    if ctx.threads:
        threads, t_origin = int(ctx.threads), "override: threads"
    gevent = last("gevent")
    plugins = " ".join(o.value for o in every("plugins", "plugin"))
    worker_class, wc_origin = "sync", "one thread per worker"
    if gevent is not None:
        worker_class, wc_origin = "gevent", _origin(gevent)
        n = _int(gevent, tr, 1)
        if n:
            tr.set("worker_connections", n, _origin(gevent), "gevent async cores")
    elif "gevent" in plugins:
        worker_class, wc_origin = "gevent", "uWSGI gevent plugin"
    elif threads > 1:
        worker_class, wc_origin = "gthread", t_origin
    if ctx.worker_class:
        worker_class, wc_origin = _worker_class(ctx.worker_class, version, tr), \
            "override: worker_class"
    if worker_class in (ASGI_NATIVE, UVICORN_WORKER):
        asgi_app = _asgi_app(tr, project, env_map, django)
        if asgi_app:
            tr.set("wsgi_app", asgi_app, "django: ASGI application", "ASGI worker chosen")
    tr.set("worker_class", worker_class, wc_origin)
    if worker_class == "gthread":
        tr.set("threads", threads, t_origin)
    elif threads > 1 and t_origin:
        tr.warn("threads = %d is not used by the %s worker" % (threads, worker_class),
                threads_opt)
    if worker_class == "gevent":
        tr.warn("the gevent worker needs gevent installed in the venv (gevent>=24.10.1 for "
                "Gunicorn >= 24)", gevent, option="worker_class")

    # -- timeouts ----------------------------------------------------------------------
    harakiri = last("harakiri", "t")
    http_timeout = last("http-timeout")
    timeout, to_origin, to_comment = None, None, ""
    if ctx.timeout:
        timeout, to_origin = int(ctx.timeout), "override: timeout"
    elif harakiri is not None and _int(harakiri, tr, 1):
        timeout, to_origin = atoi(harakiri.value), _origin(harakiri)
        if worker_class != "sync":
            to_comment = ("Gunicorn's timeout watches the worker heartbeat, not each request, "
                          "for %s workers" % worker_class)
    elif ctx.nginx_read_timeout:
        timeout, to_origin = int(ctx.nginx_read_timeout), "nginx uwsgi_read_timeout"
        to_comment = "no harakiri: requests could run as long as nginx waited"
    elif http_timeout is not None and _int(http_timeout, tr, 1):
        timeout, to_origin = atoi(http_timeout.value), _origin(http_timeout)
    else:
        timeout = DEFAULT_TIMEOUT
        to_origin = "plugin default"
        to_comment = ("no harakiri: uWSGI never killed slow requests and nginx waits %d s by "
                      "default (uwsgi_read_timeout); Gunicorn's own default of 30 s would kill "
                      "them sooner" % DEFAULT_TIMEOUT)
    tr.set("timeout", timeout, to_origin, to_comment)
    tr.nginx["read_timeout"] = max(timeout, int(ctx.nginx_read_timeout or 0))
    mercy = last("worker-reload-mercy", "reload-mercy")
    if mercy is not None and _int(mercy, tr, 1):
        tr.set("graceful_timeout", atoi(mercy.value), _origin(mercy))
    else:
        tr.set("graceful_timeout", 60, "uWSGI default worker-reload-mercy = 60")
    keepalive = last("http-keepalive")
    if keepalive is not None and worker_class != "sync":
        n = _int(keepalive, tr, 1)
        if n:
            tr.set("keepalive", n, _origin(keepalive))

    # -- request limits ----------------------------------------------------------------
    mr = last("max-requests", "R")
    if mr is not None:
        n = _int(mr, tr, 0)
        if n:
            tr.set("max_requests", n, _origin(mr))
            delta = last("max-requests-delta")
            if delta is not None and _int(delta, tr, 0):
                tr.set("max_requests_jitter", atoi(delta.value) * max(workers - 1, 1),
                       _origin(delta), "uWSGI staggers limits by delta per worker; Gunicorn "
                       "adds a random 0..jitter")
    buf = last("buffer-size", "b")
    if buf is not None:
        n = _int(buf, tr, 1)
        if n:
            n = min(n, 65535)
            tr.set("limit_request_field_size", max(n, 8190), _origin(buf),
                   "uWSGI's buffer-size bounds the whole header block; this bounds one header")
            tr.set("limit_request_line", min(max(n, 4094), 8190), _origin(buf),
                   "Gunicorn's maximum is 8190")
    backlog = last("listen", "l")
    if backlog is not None and _int(backlog, tr, 1):
        tr.set("backlog", atoi(backlog.value), _origin(backlog))
        if ctx.somaxconn and atoi(backlog.value) > ctx.somaxconn:
            # the kernel silently caps listen()'s backlog: the queue is shorter than asked
            tr.warn("listen = %d exceeds net.core.somaxconn = %d: the kernel caps the backlog "
                    "at %d; raise net.core.somaxconn (sysctl) to get the queue uWSGI had"
                    % (atoi(backlog.value), ctx.somaxconn, ctx.somaxconn), backlog)
    umask = last("umask")
    if umask is not None and "umask" not in tr.settings:
        text = umask.value.strip()
        if re.match(r"^[0-7]{1,4}$", text) and int(text, 8) <= 0o777:
            tr.set("umask", int(text, 8), _origin(umask))
        else:
            tr.warn("umask = %s is not an octal mode (000-777); ignored" % umask.value, umask)

    # -- python path, env, app loading --------------------------------------------------
    paths = []
    for o in every("pythonpath", "python-path", "pp"):
        base = chdir or project or "/"
        pattern = o.value if os.path.isabs(o.value) else os.path.join(base, o.value)
        matches = sorted(glob.glob(pattern)) if any(c in pattern for c in "*?[") else [pattern]
        for m in matches:
            paths.append((os.path.normpath(m), _origin(o)))
    if extra_path:
        paths.append((extra_path, "wsgi-file directory"))
    if paths:
        tr.set("pythonpath", ",".join(p for p, _ in paths),
               "; ".join(sorted(set(o for _, o in paths))))
    if raw_env:
        tr.set("raw_env", [e for e, _ in raw_env],
               "; ".join(o for _, o in raw_env))
    lazy = last("lazy-apps", "lazy")
    tr.set("preload_app", False,
           _origin(lazy) if lazy is not None else "plugin default",
           "a graceful reload (HUP) then reloads the code, as uWSGI's reload did")
    auto = last("py-autoreload", "python-autoreload")
    if auto is not None and auto.value not in ("", "0"):
        tr.warn("py-autoreload is a development feature; Gunicorn's reload=True watches "
                "every module and is not enabled here. Use the panel's reload after a deploy",
                auto)

    # -- logging -----------------------------------------------------------------------
    log_dir = ctx.log_dir or "/www/wwwlogs/python/%s" % site
    logs = [o for o in every("daemonize", "daemonize2", "logto", "logto2", "d", "logger",
                             "req-logger")]
    was = (" (uWSGI logged to %s)" % logs[-1].value) if logs else ""
    tr.set("errorlog", os.path.join(log_dir, "gunicorn_error.log"), "plugin: site log dir",
           "errors and app output%s" % was)
    if ctx.access_log == "off":
        tr.set("accesslog", None, "override: access_log",
               "nginx logs every request in the site's access log; Gunicorn's own costs about "
               "100 us of CPU a request (bench/NOTES.md)")
    elif ctx.access_log != "on" and config.has("disable-logging", "L") and \
            is_true(config.value("disable-logging", "L", default="0")):
        o = last("disable-logging", "L")
        tr.set("accesslog", None, _origin(o), "request logging was disabled")
    else:
        tr.set("accesslog", os.path.join(log_dir, "gunicorn_access.log"),
               "plugin: site log dir",
               "uWSGI logs every request by default, so this does too. nginx logs them as well "
               "(the site's access log): accesslog = None saves about 100 us of CPU a request, "
               "a fifth of a trivial view's cost (bench/NOTES.md)")
    handled.update(("disable-logging", "L"))
    tr.set("capture_output", True, "plugin default", "uWSGI logged the app's stdout/stderr")
    fmt = last("log-format", "logformat")
    if fmt is not None:
        out, missing = translate_log_format(fmt.value)
        tr.set("access_log_format", out, _origin(fmt))
        if missing:
            tr.warn("log-format variables without a Gunicorn atom, logged as '-': %s"
                    % ", ".join(missing), fmt)

    # -- runtime files and trust -------------------------------------------------------
    tr.set("pidfile", os.path.join(runtime_dir, "gunicorn.pid"), "plugin: runtime dir",
           "a new pidfile: uWSGI still owns its own during the switch")
    if ctx.control_socket and has_feature(version, "control_socket"):
        tr.set("control_socket", os.path.join(runtime_dir, "gunicorn.ctl"),
               "plugin: runtime dir", "per site: the default path is shared by every site "
               "run by the same user")
        tr.set("control_socket_mode", 0o600, "plugin default")
    elif not ctx.control_socket and has_feature(version, "control_socket_disable"):
        tr.set("control_socket_disable", True, "context: control_socket off")
    # bandit B108 reviewed: Gunicorn's documented tmpfs heartbeat dir
    tr.set("worker_tmp_dir", "/dev/shm", "plugin default",  # nosec B108
           "heartbeat files on tmpfs, never blocking on disk")
    tr.set("forwarded_allow_ips", "127.0.0.1,::1", "plugin default",
           "trust X-Forwarded-* from the local nginx only")
    tr.set("secure_scheme_headers", {"X-FORWARDED-PROTO": "https"}, "plugin default",
           "only the header nginx sets; two disagreeing trusted headers would give 400")
    tr.set("proc_name", site, "plugin: site name", "needs setproctitle in the venv")

    # -- hooks ---------------------------------------------------------------------------
    hooks = tr.hooks
    hooks["stats_dir"] = ctx.stats_dir or os.path.join(runtime_dir, "stats")
    for key, field in (("reload-on-rss", "reload_on_rss_mb"),
                       ("evil-reload-on-rss", "reload_on_rss_mb"),
                       ("reload-on-as", "reload_on_as_mb"),
                       ("evil-reload-on-as", "reload_on_as_mb"),
                       ("limit-as", "limit_as_mb"),
                       ("max-worker-lifetime", "max_worker_lifetime"),
                       ("max-worker-lifetime-delta", "max_worker_lifetime_delta")):
        o = last(key)
        if o is None:
            continue
        n = _int(o, tr, 0)
        if n and (hooks[field] is None or field.endswith("delta") or not key.startswith("evil")):
            hooks[field] = n
            hooks["origins"][field] = _origin(o)
        if key.startswith("evil"):
            tr.warn(MANUAL[key], o)
    for key, (sig, what) in WATCHED.items():
        for o in every(key):
            path = o.value if os.path.isabs(o.value) else os.path.join(chdir or "/", o.value)
            hooks["watch"].append({"path": path, "signal": sig, "origin": _origin(o)})
            tr.carried.append({"kind": "reload", "option": key, "value": o.value,
                               "origin": _origin(o), "where": "gunicorn_conf.py",
                               "detail": "SIG%s to the master when %s changes (uWSGI: %s)"
                                         % (sig, path, what)})
    _crons(tr, every, last, site, chdir, env_map, ctx)
    hv = last("harakiri-verbose")
    if hv is not None and is_true(hv.value):
        hooks["harakiri_verbose"] = True
        hooks["origins"]["harakiri_verbose"] = _origin(hv)

    # -- nginx hand-over -----------------------------------------------------------------
    _nginx(config, tr, every, last)

    _inline_comments(config, tr)

    # -- everything else: dropped or manual ---------------------------------------------
    for o in config.options:
        key = o.key
        if key in handled or key in RESOLVED_BY_PARSER:
            continue
        if key in MANUAL:
            handled.add(key)
            tr.warn(MANUAL[key], o)
        elif key.startswith(ROUTE_PREFIX):
            tr.nginx["routes"].append({"key": key, "value": o.value, "origin": _origin(o)})
            tr.warn("%s: uWSGI internal routing; rewrite it as nginx rewrite/return rules by "
                    "hand" % key, o)
        elif key in DEFAULT_BEHAVIOUR:
            tr.dropped.append({"option": key, "origin": _origin(o),
                               "why": DEFAULT_BEHAVIOUR[key]})
        elif key in config.placeholders:
            continue
        else:
            tr.dropped.append({"option": key, "origin": _origin(o),
                               "why": "not a uWSGI option this tool knows; uWSGI treats "
                                      "unknown keys as placeholders"})
            tr.warn("%s is not translated: unknown to this tool (uWSGI treats unknown keys "
                    "as placeholders, so it may have had no effect); check it by hand" % key, o)
        handled.add(key)
    return tr


def _inline_comments(config, tr):
    """Text values that look commented: uWSGI keeps the comment as part of the value."""
    for o in config.options:
        if o.key in tr.numeric or not INLINE_COMMENT.search(o.value or ""):
            continue
        tr.warn("%s = %s: uWSGI has no inline comments, so the value is the whole text, "
                "comment included (a switch such as master/vacuum stays on unless the value is "
                "exactly false/off/no/0); carried over as uWSGI read it. Move the comment to a "
                "line of its own in the uWSGI config" % (o.key, o.value), o)


def _worker_class(requested, version, tr):
    wc = requested.strip()
    if wc in ("asgi", "uvicorn", UVICORN_WORKER, "uvicorn.workers.UvicornWorker"):
        if wc == "asgi" and has_feature(version, "asgi_worker"):
            return ASGI_NATIVE
        if wc == "asgi":
            tr.warn("the native asgi worker needs Gunicorn >= 24; using %s (pip install "
                    "uvicorn-worker; Python >= 3.9)" % UVICORN_WORKER, option="worker_class")
        if wc == "uvicorn.workers.UvicornWorker":
            tr.warn("uvicorn.workers is deprecated; using %s" % UVICORN_WORKER,
                    option="worker_class")
        return UVICORN_WORKER
    if wc == "eventlet" and parse_version(version) >= (26, 0, 0):
        tr.warn("the eventlet worker was removed in Gunicorn 26; using gevent",
                option="worker_class")
        return "gevent"
    return wc


def _asgi_app(tr, project, env_map, django):
    info = django if django is not None else (
        django_detect.detect(project, env_map) if project else None)
    if info and info.get("asgi_app"):
        return info["asgi_app"]
    tr.warn("ASGI worker requested but no ASGI application found (asgi.py / "
            "ASGI_APPLICATION); set wsgi_app by hand", option="worker_class")
    return None


def _find_app(config, tr, last, chdir, project, env_map, ctx, django):
    """wsgi_app from module=/wsgi-file= (+callable), else from the Django project (§6)."""
    callable_opt = last("callable")
    callable_name = callable_opt.value if callable_opt is not None else "application"
    module = last("module", "wsgi", "w")
    wfile = last("wsgi-file", "file")
    app = origin = extra = None
    if module is not None and module.value:
        value = module.value
        # "mysite.wsgi" is the tutorial's module path, not a file; only "x.py" is a file.
        if value.endswith(".py"):
            app, extra = wsgi_file_to_app(value, chdir, callable_name)
        else:
            mod, colon, attr = value.partition(":")
            app = "%s:%s" % (mod.replace("/", "."), attr if colon else callable_name)
        origin = _origin(module)
        if wfile is not None and wfile.value:
            other, _ = wsgi_file_to_app(wfile.value, chdir, callable_name)
            if other and other != app:
                tr.warn("both module = %s and wsgi-file = %s are set; uWSGI's first app is the "
                        "module, which is kept" % (value, wfile.value), wfile)
    elif wfile is not None and wfile.value:
        app, extra = wsgi_file_to_app(wfile.value, chdir, callable_name)
        origin = _origin(wfile)
        if app is None:
            tr.warn("wsgi-file = %s is not importable as a module (name or extension); "
                    "falling back to the Django project's WSGI application" % wfile.value,
                    wfile)
    if app is None and project:
        info = django if django is not None else django_detect.detect(project, env_map)
        tr.django = info
        if info.get("wsgi_app"):
            app, origin = info["wsgi_app"], "django: %s" % (
                info.get("settings_module") or "wsgi.py")
            if info.get("root") and chdir and os.path.normpath(info["root"]) != chdir:
                extra = info["root"]
    elif project and django is not None:
        tr.django = django
    if tr.django:
        crash = set(tr.django.get("uwsgi_imports_at_import") or [])
        for where in tr.django.get("uwsgi_imports") or []:
            if where in crash:
                message = ("%s imports uWSGI's own API (uwsgi/uwsgidecorators) when the module "
                           "loads: under Gunicorn that raises ImportError and the code that "
                           "imports this module fails. Guard it (try: import uwsgi / except "
                           "ImportError) or move it into the function that needs it; the switch "
                           "asks you to confirm" % where)
                tr.blockers.append({"message": message, "origin": where, "option": "import uwsgi"})
            else:
                message = ("%s imports uWSGI's own API (uwsgi/uwsgidecorators), which does not "
                           "exist under Gunicorn: that code fails when it runs" % where)
            tr.warn(message, option="import uwsgi")
        if tr.django.get("asgi") and not ctx.worker_class:
            tr.warn("the project has ASGI indicators (Channels/ASGI_APPLICATION); it runs as "
                    "WSGI as under uWSGI. Choose worker_class=asgi for WebSockets",
                    option="worker_class")
    return app, origin, extra


def _nginx(config, tr, every, last):
    ng = tr.nginx
    for o in every("static-map", "static-map2"):
        url, eq, path = o.value.partition("=")
        if not eq:
            tr.warn("%s = %s has no '='; ignored" % (o.key, o.value), o)
            continue
        ng["static"].append({
            "url": url, "path": path,
            "directive": "root" if o.key == "static-map2" else "alias",
            "exact": os.path.isfile(path) and not path.endswith("/"),
            "origin": _origin(o),
        })
    for o in every("check-static", "check-static-docroot"):
        ng["check_static"].append({"root": o.value, "origin": _origin(o)})
    for o in every("static-index"):
        ng["static_index"].append({"index": o.value, "origin": _origin(o)})
    for o in every("static-expires", "static-expires-uri", "static-expires-type",
                   "static-expires-type-mtime", "static-expires-mtime"):
        ng["static_expires"].append({"kind": o.key, "value": o.value, "origin": _origin(o)})
    gz = last("static-gzip-all")
    ng["static_gzip"] = gz is not None and is_true(gz.value)
    for o in every("add-header"):
        name, colon, value = o.value.partition(":")
        if not colon:
            tr.warn("add-header = %s is not 'Name: value'; ignored" % o.value, o)
            continue
        ng["add_header"].append({"name": name.strip(), "value": value.strip(),
                                 "origin": _origin(o)})
    lp = last("limit-post")
    if lp is not None:
        ng["client_max_body_size"] = _int(lp, tr, 1)
    ws = last("http-websockets")
    ng["websocket"] = ws is not None and is_true(ws.value)
    static = ng["static"] + ng["check_static"]
    if static:
        tr.warn("Gunicorn serves no static files: %d static-map/check-static rule(s) are handed "
                "to nginx as locations" % len(static), option="static-map")
