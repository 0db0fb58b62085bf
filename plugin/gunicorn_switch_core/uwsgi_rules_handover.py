"""Translation rules (see ``uwsgi_translate``): what moves elsewhere or stays behind (logs,
runtime files, the emulation hooks in gunicorn_conf.py, crons and daemons, the nginx
hand-over, and the options no rule read)."""
import os
import re

from . import paths, uwsgi_jobs
from .gunicorn_versions import has_feature
from .uwsgi_options import (DEFAULT_BEHAVIOUR, INLINE_COMMENT, LOG_FORMAT_VARS, MANUAL,
                            RESOLVED_BY_PARSER, ROUTE_PREFIX, WATCHED)
from .uwsgi_values import is_true

# The hooks' fields, by the uWSGI option that sets them (the evil- ones are emulated gently).
HOOK_LIMITS = (("reload-on-rss", "reload_on_rss_mb"), ("evil-reload-on-rss", "reload_on_rss_mb"),
               ("reload-on-as", "reload_on_as_mb"), ("evil-reload-on-as", "reload_on_as_mb"),
               ("limit-as", "limit_as_mb"), ("max-worker-lifetime", "max_worker_lifetime"),
               ("max-worker-lifetime-delta", "max_worker_lifetime_delta"))


def logging(o, tr):
    """errorlog and accesslog in the site's log dir (accesslog off if uWSGI logged none)."""
    ctx = o.ctx
    log_dir = ctx.log_dir or paths.PYTHON_LOGS + "/" + o.site
    logs = o.every("daemonize", "daemonize2", "logto", "logto2", "d", "logger", "req-logger")
    was = (" (uWSGI logged to %s)" % logs[-1].value) if logs else ""
    tr.set("errorlog", os.path.join(log_dir, "gunicorn_error.log"), "plugin: site log dir",
           "errors and app output%s" % was)
    config = o.config
    if ctx.access_log == "off":
        tr.set("accesslog", None, "override: access_log",
               "nginx logs every request in the site's access log; Gunicorn's own costs about "
               "100 us of CPU a request (bench/NOTES.md)")
    elif ctx.access_log != "on" and config.has("disable-logging", "L") and \
            is_true(config.value("disable-logging", "L", default="0")):
        opt = o.last("disable-logging", "L")
        tr.set("accesslog", None, opt.describe(), "request logging was disabled")
    else:
        tr.set("accesslog", os.path.join(log_dir, "gunicorn_access.log"),
               "plugin: site log dir",
               "uWSGI logs every request by default, so this does too. nginx logs them as well "
               "(the site's access log): accesslog = None saves about 100 us of CPU a request, "
               "a fifth of a trivial view's cost (bench/NOTES.md)")
    o.handled.update(("disable-logging", "L"))
    tr.set("capture_output", True, "plugin default", "uWSGI logged the app's stdout/stderr")
    fmt = o.last("log-format", "logformat")
    if fmt is not None:
        out, missing = translate_log_format(fmt.value)
        tr.set("access_log_format", out, fmt.describe())
        if missing:
            tr.warn("log-format variables without a Gunicorn atom, logged as '-': %s"
                    % ", ".join(missing), fmt)


def runtime(o, tr):
    """The pidfile and control socket in the site's runtime dir; what Gunicorn trusts."""
    tr.set("pidfile", os.path.join(o.runtime_dir, "gunicorn.pid"), "plugin: runtime dir",
           "a new pidfile: uWSGI still owns its own during the switch")
    if o.ctx.control_socket and has_feature(o.version, "control_socket"):
        tr.set("control_socket", os.path.join(o.runtime_dir, "gunicorn.ctl"),
               "plugin: runtime dir", "per site: the default path is shared by every site "
               "run by the same user")
        tr.set("control_socket_mode", 0o600, "plugin default")
    elif not o.ctx.control_socket and has_feature(o.version, "control_socket_disable"):
        tr.set("control_socket_disable", True, "context: control_socket off")
    tr.set("worker_tmp_dir", paths.SHM, "plugin default",
           "heartbeat files on tmpfs, never blocking on disk")
    tr.set("forwarded_allow_ips", "127.0.0.1,::1", "plugin default",
           "trust X-Forwarded-* from the local nginx only")
    tr.set("secure_scheme_headers", {"X-FORWARDED-PROTO": "https"}, "plugin default",
           "only the header nginx sets; two disagreeing trusted headers would give 400")
    tr.set("proc_name", o.site, "plugin: site name", "needs setproctitle in the venv")


def hooks(o, tr):
    """The stats dir and the memory/lifetime limits the hooks in gunicorn_conf.py enforce."""
    fields = tr.hooks
    fields["stats_dir"] = o.ctx.stats_dir or os.path.join(o.runtime_dir, "stats")
    for key, field in HOOK_LIMITS:
        opt = o.last(key)
        if opt is None:
            continue
        n = o.number(opt, 0)
        evil = key.startswith("evil")
        # an evil- option only fills in what its gentle twin left unset; the delta starts at 0
        if n and (fields[field] is None or field.endswith("delta") or not evil):
            fields[field] = n
            fields["origins"][field] = opt.describe()
        if evil:
            tr.warn(MANUAL[key], opt)


def watch(o, tr):
    """touch-reload and friends: a watcher in the Gunicorn master signals itself."""
    for key, (sig, what) in WATCHED.items():
        for opt in o.every(key):
            path = opt.value if os.path.isabs(opt.value) else os.path.join(o.chdir or "/",
                                                                            opt.value)
            tr.hooks["watch"].append({"path": path, "signal": sig, "origin": opt.describe()})
            tr.carried.append({"kind": "reload", "option": key, "value": opt.value,
                               "origin": opt.describe(), "where": "gunicorn_conf.py",
                               "facts": {"path": path, "signal": sig, "what": what},
                               "detail": "SIG%s to the master when %s changes (uWSGI: %s)"
                                         % (sig, path, what)})


def crons(o, tr):
    """uWSGI's crons become the panel's 计划任务 (the switch's crons step adds them), its
    daemons programs of Gunicorn's process manager (the daemons step)."""
    ch = o.last("cron-harakiri")
    harakiri = o.number(ch, 0) if ch is not None else None
    env = list(o.env_map.items())
    items, problems = uwsgi_jobs.crons(o.every("cron", "cron2", "unique-cron"), harakiri,
                                       o.site, o.chdir, env)
    for opt, message in problems:
        tr.warn(message, opt)
    tr.carried.extend(items)
    python = os.path.join(o.ctx.venv, "bin", "python") if o.ctx.venv else "python3"
    items, problems = uwsgi_jobs.daemons(o.every(*uwsgi_jobs.DAEMON_OPTIONS), o.site, o.chdir,
                                         env, python)
    for opt, message in problems:
        tr.warn(message, opt)
    tr.carried.extend(items)


def harakiri_verbose(o, tr):
    opt = o.last("harakiri-verbose")
    if opt is not None and is_true(opt.value):
        tr.hooks["harakiri_verbose"] = True
        tr.hooks["origins"]["harakiri_verbose"] = opt.describe()


def nginx(o, tr):
    """Static files, headers, body size and WebSockets: nginx's job under Gunicorn."""
    ng = tr.nginx
    for opt in o.every("static-map", "static-map2"):
        url, eq, path = opt.value.partition("=")
        if not eq:
            tr.warn("%s = %s has no '='; ignored" % (opt.key, opt.value), opt)
            continue
        ng["static"].append({
            "url": url, "path": path,
            "directive": "root" if opt.key == "static-map2" else "alias",
            "exact": os.path.isfile(path) and not path.endswith("/"),
            "origin": opt.describe(),
        })
    for opt in o.every("check-static", "check-static-docroot"):
        ng["check_static"].append({"root": opt.value, "origin": opt.describe()})
    for opt in o.every("static-index"):
        ng["static_index"].append({"index": opt.value, "origin": opt.describe()})
    for opt in o.every("static-expires", "static-expires-uri", "static-expires-type",
                       "static-expires-type-mtime", "static-expires-mtime"):
        ng["static_expires"].append({"kind": opt.key, "value": opt.value,
                                     "origin": opt.describe()})
    gz = o.last("static-gzip-all")
    ng["static_gzip"] = gz is not None and is_true(gz.value)
    for opt in o.every("add-header"):
        name, colon, value = opt.value.partition(":")
        if not colon:
            tr.warn("add-header = %s is not 'Name: value'; ignored" % opt.value, opt)
            continue
        ng["add_header"].append({"name": name.strip(), "value": value.strip(),
                                 "origin": opt.describe()})
    lp = o.last("limit-post")
    if lp is not None:
        ng["client_max_body_size"] = o.number(lp, 1)
    ws = o.last("http-websockets")
    ng["websocket"] = ws is not None and is_true(ws.value)
    static = ng["static"] + ng["check_static"]
    if static:
        tr.warn("Gunicorn serves no static files: %d static-map/check-static rule(s) are handed "
                "to nginx as locations" % len(static), option="static-map")


def inline_comments(o, tr):
    """Text values that look commented: uWSGI keeps the comment as part of the value."""
    for opt in o.config.options:
        if opt.key in o.numeric or not INLINE_COMMENT.search(opt.value or ""):
            continue
        tr.warn("%s = %s: uWSGI has no inline comments, so the value is the whole text, "
                "comment included (a switch such as master/vacuum stays on unless the value is "
                "exactly false/off/no/0); carried over as uWSGI read it. Move the comment to a "
                "line of its own in the uWSGI config" % (opt.key, opt.value), opt)


def leftovers(o, tr):
    """Every option no rule read: a warning, or dropped with the reason (once per key)."""
    for opt in o.config.options:
        key = opt.key
        if key in o.handled or key in RESOLVED_BY_PARSER:
            continue
        o.handled.add(key)
        if key in MANUAL:
            tr.warn(MANUAL[key], opt)
        elif key.startswith(ROUTE_PREFIX):
            tr.nginx["routes"].append({"key": key, "value": opt.value,
                                       "origin": opt.describe()})
            tr.warn("%s: uWSGI internal routing; rewrite it as nginx rewrite/return rules by "
                    "hand" % key, opt)
        elif key in DEFAULT_BEHAVIOUR:
            tr.dropped.append({"option": key, "origin": opt.describe(),
                               "why": DEFAULT_BEHAVIOUR[key]})
        elif key in o.config.placeholders:
            continue
        else:
            tr.dropped.append({"option": key, "origin": opt.describe(),
                               "why": "not a uWSGI option this tool knows; uWSGI treats "
                                      "unknown keys as placeholders"})
            tr.warn("%s is not translated: unknown to this tool (uWSGI treats unknown keys "
                    "as placeholders, so it may have had no effect); check it by hand" % key,
                    opt)


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

