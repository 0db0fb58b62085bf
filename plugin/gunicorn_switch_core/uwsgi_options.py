"""What this tool knows about uWSGI's options: how uWSGI's own command line and config loader
take them (``uwsgi_config`` reads with these), and what each becomes under Gunicorn
(``uwsgi_translate``'s rules decide with these). Tables only: no code.

Reference: uWSGI 2.0's core/uwsgi.c option table, core/config.c, core/utils.c.
"""
import collections
import re

# -- how uWSGI reads them ------------------------------------------------------------------

LOADERS = {"ini": "ini", "xml": "xml", "yaml": "yaml", "yml": "yaml", "json": "json", "js": "json"}
EXTENSIONS = ((".ini", "ini"), (".xml", "xml"), (".yaml", "yaml"), (".yml", "yaml"),
              (".json", "json"), (".js", "json"))
PLACEHOLDER_SETTERS = ("set", "set-placeholder", "set-ph")
LOGIC_END = ("end", "endfor", "end-for", "endif", "end-if")
LOGIC_START = (
    "for", "for-glob", "for-times", "for-readline",
    "if-env", "if-not-env", "if-exists", "if-not-exists", "if-file", "if-not-file",
    "if-dir", "if-not-dir", "if-opt", "if-not-opt", "if-reload", "if-not-reload",
    "if-plugin", "if-not-plugin", "if-hostname", "if-not-hostname", "if-hostname-match",
)
# getopt short options of uwsgi-2.0 (core/uwsgi.c option table); True = takes an argument.
SHORT_OPTIONS = {
    "s": ("socket", True), "p": ("processes", True), "M": ("master", False),
    "t": ("harakiri", True), "w": ("module", True), "H": ("home", True),
    "b": ("buffer-size", True), "C": ("chmod-socket", None), "d": ("daemonize", True),
    "l": ("listen", True), "L": ("disable-logging", False), "T": ("enable-threads", False),
    "i": ("single-interpreter", False), "R": ("max-requests", True),
    "z": ("socket-timeout", True), "x": ("xml", True), "y": ("yaml", True),
    "j": ("json", True), "S": ("set", True), "m": ("memory-report", False),
    "r": ("reaper", False), "O": ("optimize", True), "J": ("test", True),
    "A": ("sharedarea", True), "Q": ("spooler", True), "v": ("max-vars", True),
}
# Long options declared no_argument (flags) or optional_argument in uwsgi-2.0; every other
# known option requires an argument, which getopt takes from the next word even if it
# starts with "-" (this is how Baota's `uwsgi -d --ini x.ini` gets daemonize="--ini").
FLAG_OPTIONS = frozenset([
    "master", "vacuum", "enable-threads", "lazy-apps", "lazy", "die-on-term", "thunder-lock",
    "single-interpreter", "disable-logging", "memory-report", "need-app", "strict",
    "auto-procname", "manage-script-name", "harakiri-verbose", "no-orphans", "no-default-app",
    "catch-exceptions", "http-websockets", "so-keepalive", "reaper", "log-master", "log-reopen",
    "honour-stdin", "close-on-exec", "master-as-root", "no-site", "py-tracebacker-no-fork",
    "threaded-logger", "log-4xx", "log-5xx", "log-slow", "log-big", "log-sendfile",
    "log-ioerror", "log-zero", "cheap", "idle-kill", "static-gzip-all",
    "offload-threads-noflag", "enable-proxy-protocol", "skip-atexit", "need-plugins", "vhost",
    "vhost-host", "die-on-idle", "add-header-noflag", "unbit", "reuse-port", "tcp-nodelay",
    "no-defer-accept", "buffer-size-noflag", "ignore-sigpipe", "ignore-write-errors",
    "disable-write-exception", "py-call-osafterfork",
])
OPTIONAL_ARG_OPTIONS = frozenset(["chmod-socket", "chmod", "log-date", "logdate", "http-keepalive"])
# Options uWSGI accepts as UWSGI_<NAME> environment variables that matter for a migration.
KNOWN_ENV = frozenset([
    "ini", "xml", "yaml", "json", "socket", "http", "http-socket", "processes", "workers",
    "threads", "master", "module", "wsgi", "wsgi-file", "chdir", "home", "virtualenv",
    "harakiri", "max-requests", "buffer-size", "chmod-socket", "uid", "gid", "pidfile",
    "daemonize", "logto", "env", "pythonpath", "static-map", "callable", "enable-threads",
    "vacuum",
])
# Magic variables (%X) that take the value of the first file read, not of the current one.
UPPER_MAGIC = "OPSDCENXIJ"
# Magic variables that depend on the running uWSGI process (user, start time, binary).
RUNTIME_MAGIC = "uUgGtTb"

# -- what they become under Gunicorn -------------------------------------------------------

SOCKET_KEYS = {
    "socket": "uwsgi", "uwsgi-socket": "uwsgi", "s": "uwsgi", "http": "http-router",
    "http-socket": "http", "https": "https-router", "https-socket": "https",
    "fastcgi-socket": "fastcgi", "shared-socket": "shared", "http11-socket": "http",
}
# Options that Gunicorn does by default or that have no meaning there: dropped quietly
# (listed in ``dropped``, not warned about). Options a rule reads are not listed: the rule
# says what became of them.
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
    "auto-procname": "proc_name is set", "procname-prefix": "proc_name is set",
    "procname-prefix-spaced": "proc_name is set", "procname": "proc_name is set",
    "procname-master": "proc_name is set",
    "home": "Gunicorn runs from the venv's own bin/gunicorn",
    "virtualenv": "Gunicorn runs from the venv's own bin/gunicorn",
    "venv": "Gunicorn runs from the venv's own bin/gunicorn",
    "pyhome": "Gunicorn runs from the venv's own bin/gunicorn",
    "H": "Gunicorn runs from the venv's own bin/gunicorn",
    "gevent-monkey-patch": "Gunicorn's gevent worker patches itself",
    "pidfile": "Gunicorn writes its own pidfile in the runtime directory",
    "pidfile2": "Gunicorn writes its own pidfile in the runtime directory",
    "safe-pidfile": "Gunicorn writes its own pidfile in the runtime directory",
    "master-fifo": "the panel controls Gunicorn with signals",
    "optimize": "set PYTHONOPTIMIZE in raw_env if needed",
    "max-vars": "no equivalent",
    "manage-script-name": "SCRIPT_NAME handling follows mount",
    "chmod-socket": "umask", "C": "umask",
    "static-safe": "nginx",
    "protocol": "the new bind speaks HTTP to nginx",
    "socket-protocol": "HTTP to nginx",
    "max-requests-delta": "max_requests_jitter",
}
RESOLVED_BY_PARSER = frozenset([
    "ini", "include", "inherit", "xml", "yaml", "yml", "json", "js", "config", "set",
    "set-placeholder", "set-ph",
])
# uWSGI features with no Gunicorn counterpart that change what the site does: the warning
# for each (the rules give some of them themselves: cheaper, https, evil-reload-on-*).
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

