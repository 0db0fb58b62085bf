"""Translation rules (see ``uwsgi_translate``): how Gunicorn serves (bind, user, workers,
worker class, timeouts, request limits)."""
import re

from . import paths
from .addresses import proxy_pass_for, unix_path
from .gunicorn_versions import has_feature, parse_version
from .uwsgi_options import MANUAL, SOCKET_KEYS
from .uwsgi_rules_app import asgi_app
from .uwsgi_values import atoi

# nginx waits 60 s for uWSGI by default (uwsgi_read_timeout): a timeout as long as that
DEFAULT_TIMEOUT = 60
ASGI_NATIVE = "asgi"
UVICORN_WORKER = "uvicorn_worker.UvicornWorker"


def bind(o, tr):
    """Where Gunicorn listens (the context's bind, else a unix socket in the runtime dir), and
    the addresses uWSGI listened on, for the nginx rewrite."""
    for key, kind in SOCKET_KEYS.items():
        for opt in o.every(key):
            tr.nginx["old_binds"].append({"kind": key, "protocol": kind, "address": opt.value,
                                          "origin": opt.describe()})
    o.runtime_dir = tr.runtime_dir = o.ctx.runtime_dir or paths.GUNICORN_RUNTIME + "/" + o.site
    address = o.ctx.bind or "unix:%s/gunicorn.sock" % o.runtime_dir
    # bandit B104 reviewed: compares addresses, binds nothing
    if address.startswith("0.0.0.0") or address.startswith("[::]"):  # nosec B104
        tr.warn("bind %s listens on every interface; nginx only needs loopback" % address,
                option="bind")
    public = [b for b in tr.nginx["old_binds"]
              # bandit B104 reviewed: compares addresses, binds nothing
              if b["address"].startswith(("0.0.0.0", ":", "*", "[::]"))]  # nosec B104
    comment = "behind nginx on %s" % ("a unix socket" if unix_path(address) else "loopback")
    if public:
        comment += "; uWSGI listened on %s for everyone" % public[0]["address"]
        tr.warn("uWSGI listened on %s (all interfaces); Gunicorn binds %s and is reached "
                "through nginx only. Close the old port in the firewall/安全 page if it was "
                "opened for it" % (public[0]["address"], address), option="bind")
    tr.set("bind", [address], "context: bind", comment)
    tr.nginx["proxy_pass"] = proxy_pass_for(address)
    if unix_path(address):
        _socket_mode(o, tr)
    for key in ("https", "https-socket"):
        for opt in o.every(key):
            tr.warn(MANUAL[key], opt)


def _socket_mode(o, tr):
    """chmod-socket, for a unix socket: Gunicorn's umask."""
    chmod = o.last("chmod-socket", "C")
    if chmod is None:
        return
    umask = umask_for(chmod.value)
    if umask is None:
        tr.warn("chmod-socket = %s is not 3 octal digits (uWSGI would refuse it); "
                "umask left at the default" % chmod.value, chmod)
    else:
        tr.set("umask", umask, chmod.describe(),
               "the unix socket is created with mode 0o%o" % (0o777 & ~umask))


def user(o, tr):
    """Who the workers run as: the context's user, else uWSGI's uid (never root)."""
    ctx = o.ctx
    uid = o.last("uid")
    gid = o.last("gid")
    if ctx.user:
        name, origin = ctx.user, "context: user"
    elif uid is not None and uid.value and uid.value not in ("0", "root"):
        name, origin = uid.value, uid.describe()
    else:
        name, origin = paths.SITE_USER, "plugin default"
        if uid is not None:
            tr.warn("uWSGI ran as %s; Gunicorn workers run as %s" % (uid.value, name), uid)
    if ctx.run_as:
        # The process manager starts the master as this user: Gunicorn would only try to
        # switch to the user it already is.
        tr.run_as = ctx.run_as
    else:
        tr.set("user", name, origin, "workers only: the master keeps root to bind and log")
        if ctx.group:
            tr.set("group", ctx.group, "context: group")
        elif gid is not None and gid.value and not ctx.user and gid.value not in ("0", "root"):
            tr.set("group", gid.value, gid.describe())
        else:
            tr.set("group", name, origin)
    chown = o.last("chown-socket")
    if chown is not None and chown.value.split(":")[0] != name:
        tr.warn("chown-socket = %s: Gunicorn chowns the socket to user/group %s instead"
                % (chown.value, name), chown)


def workers(o, tr):
    """processes, or cheaper-initial when uWSGI's cheaper mode started fewer."""
    procs = o.last("processes", "workers", "p")
    count, origin = 1, "uWSGI default: 1 process"
    if procs is not None:
        n = o.number(procs, 1)
        if n:
            count, origin = n, procs.describe()
    comment = ""
    initial = o.config.last("cheaper-initial")
    if initial is not None and o.config.last("cheaper") is not None:
        n = o.number(initial, 1)
        if n:
            comment = ("uWSGI's cheaper mode started %d and grew up to processes = %d on "
                       "load; Gunicorn runs a fixed count (add workers on the status page)"
                       % (n, count))
            count, origin = min(n, count), initial.describe()
    if o.ctx.workers:
        count, origin = int(o.ctx.workers), "override: workers"
    o.workers = count
    tr.set("workers", count, origin, comment)
    for key in ("cheaper", "cheaper-initial", "cheaper-algo", "cheaper-step"):
        opt = o.last(key)
        if opt is not None:
            tr.warn(MANUAL[key], opt)


def worker_class(o, tr):
    """sync, gthread for threads, gevent for uWSGI's gevent, or the context's choice."""
    threads_opt = o.last("threads")
    threads, t_origin = 1, None
    if threads_opt is not None:
        n = o.number(threads_opt, 1)
        if n:
            threads, t_origin = n, threads_opt.describe()
    if o.ctx.threads:
        threads, t_origin = int(o.ctx.threads), "override: threads"
    gevent = o.last("gevent")
    plugins = " ".join(opt.value for opt in o.every("plugins", "plugin"))
    chosen, origin = "sync", "one thread per worker"
    if gevent is not None:
        chosen, origin = "gevent", gevent.describe()
        n = o.number(gevent, 1)
        if n:
            tr.set("worker_connections", n, gevent.describe(), "gevent async cores")
    elif "gevent" in plugins:
        chosen, origin = "gevent", "uWSGI gevent plugin"
    elif threads > 1:
        chosen, origin = "gthread", t_origin
    if o.ctx.worker_class:
        chosen, origin = _requested_class(o.ctx.worker_class, o.version, tr), \
            "override: worker_class"
    if chosen in (ASGI_NATIVE, UVICORN_WORKER):
        found = asgi_app(o, tr)
        if found:
            tr.set("wsgi_app", found, "django: ASGI application", "ASGI worker chosen")
    o.worker_class = chosen
    tr.set("worker_class", chosen, origin)
    if chosen == "gthread":
        tr.set("threads", threads, t_origin)
    elif threads > 1 and t_origin:
        tr.warn("threads = %d is not used by the %s worker" % (threads, chosen), threads_opt)
    if chosen == "gevent":
        tr.warn("the gevent worker needs gevent installed in the venv (gevent>=24.10.1 for "
                "Gunicorn >= 24)", gevent, option="worker_class")


def _requested_class(requested, version, tr):
    """The worker class asked for, as the chosen Gunicorn release names it."""
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


def timeouts(o, tr):
    """timeout from harakiri (else as long as nginx waited), graceful_timeout, keepalive."""
    ctx = o.ctx
    harakiri = o.last("harakiri", "t")
    http_timeout = o.last("http-timeout")
    timeout, origin, comment = None, None, ""
    if ctx.timeout:
        timeout, origin = int(ctx.timeout), "override: timeout"
    elif harakiri is not None and o.number(harakiri, 1):
        timeout, origin = atoi(harakiri.value), harakiri.describe()
        if o.worker_class != "sync":
            comment = ("Gunicorn's timeout watches the worker heartbeat, not each request, "
                       "for %s workers" % o.worker_class)
    elif ctx.nginx_read_timeout:
        timeout, origin = int(ctx.nginx_read_timeout), "nginx uwsgi_read_timeout"
        comment = "no harakiri: requests could run as long as nginx waited"
    elif http_timeout is not None and o.number(http_timeout, 1):
        timeout, origin = atoi(http_timeout.value), http_timeout.describe()
    else:
        timeout = DEFAULT_TIMEOUT
        origin = "plugin default"
        comment = ("no harakiri: uWSGI never killed slow requests and nginx waits %d s by "
                   "default (uwsgi_read_timeout); Gunicorn's own default of 30 s would kill "
                   "them sooner" % DEFAULT_TIMEOUT)
    tr.set("timeout", timeout, origin, comment)
    tr.nginx["read_timeout"] = max(timeout, int(ctx.nginx_read_timeout or 0))
    mercy = o.last("worker-reload-mercy", "reload-mercy")
    if mercy is not None and o.number(mercy, 1):
        tr.set("graceful_timeout", atoi(mercy.value), mercy.describe())
    else:
        tr.set("graceful_timeout", 60, "uWSGI default worker-reload-mercy = 60")
    keepalive = o.last("http-keepalive")
    if keepalive is not None and o.worker_class != "sync":
        n = o.number(keepalive, 1)
        if n:
            tr.set("keepalive", n, keepalive.describe())


def limits(o, tr):
    """max_requests, header limits from buffer-size, the listen backlog, umask."""
    mr = o.last("max-requests", "R")
    if mr is not None:
        n = o.number(mr, 0)
        if n:
            tr.set("max_requests", n, mr.describe())
            delta = o.last("max-requests-delta")
            if delta is not None and o.number(delta, 0):
                tr.set("max_requests_jitter", atoi(delta.value) * max(o.workers - 1, 1),
                       delta.describe(), "uWSGI staggers limits by delta per worker; Gunicorn "
                       "adds a random 0..jitter")
    buf = o.last("buffer-size", "b")
    if buf is not None:
        n = o.number(buf, 1)
        if n:
            n = min(n, 65535)
            tr.set("limit_request_field_size", max(n, 8190), buf.describe(),
                   "uWSGI's buffer-size bounds the whole header block; this bounds one header")
            tr.set("limit_request_line", min(max(n, 4094), 8190), buf.describe(),
                   "Gunicorn's maximum is 8190")
    _backlog(o, tr)
    umask = o.last("umask")
    if umask is not None and "umask" not in tr.settings:
        text = umask.value.strip()
        if re.match(r"^[0-7]{1,4}$", text) and int(text, 8) <= 0o777:
            tr.set("umask", int(text, 8), umask.describe())
        else:
            tr.warn("umask = %s is not an octal mode (000-777); ignored" % umask.value, umask)


def _backlog(o, tr):
    backlog = o.last("listen", "l")
    if backlog is None or not o.number(backlog, 1):
        return
    tr.set("backlog", atoi(backlog.value), backlog.describe())
    somaxconn = o.ctx.somaxconn
    if somaxconn and atoi(backlog.value) > somaxconn:
        # the kernel silently caps listen()'s backlog: the queue is shorter than asked
        tr.warn("listen = %d exceeds net.core.somaxconn = %d: the kernel caps the backlog "
                "at %d; raise net.core.somaxconn (sysctl) to get the queue uWSGI had"
                % (atoi(backlog.value), somaxconn, somaxconn), backlog)


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
