"""What uWSGI's master ran besides the app, read as uWSGI reads it: its crons (cron, cron2,
unique-cron, cron-harakiri). Pure: the translation turns each into a carried item that the
switch then hands to the panel's 计划任务 (panel_cron.py).

uWSGI's cron syntax (core/cron.c, docs "The uWSGI cron-like interface"): ``cron = minute hour
day month weekday command``, each field an integer read with sscanf("%d"), -1 for every value
and -N for every N (crontab's ``*/N``); ``cron2 = key=value,... command`` with the keys minute,
hour, day, month, week, unique, harakiri (and legion, which needs a uWSGI cluster). The command
runs through /bin/sh -c in the master's working directory and environment, as the user the
master dropped to.
"""
import re

FIELDS = ("minute", "hour", "day", "month", "week")
_INT = re.compile(r"^-?\d+$")
ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class CronError(ValueError):
    """An option uWSGI would not have accepted as a cron; the message says why."""


def _field(text, name):
    if not _INT.match(text):
        raise CronError("%s field %r is not an integer" % (name, text))
    return int(text)


def parse_cron(value):
    """``cron = m h d mo w command`` -> {minute..week, command}."""
    parts = value.split(None, 5)
    if len(parts) < 6 or not parts[5].strip():
        raise CronError("expected 'minute hour day month weekday command'")
    job = {name: _field(parts[i], name) for i, name in enumerate(FIELDS)}
    job["command"] = parts[5].strip()
    return job


def parse_cron2(value):
    """``cron2 = key=value,... command`` -> {minute..week, unique, harakiri, legion, command};
    fields not given run on every value, as in uWSGI."""
    job = {name: -1 for name in FIELDS}
    job.update(unique=False, harakiri=None, legion=None)
    head, _, rest = value.strip().partition(" ")
    if "=" not in head:
        head, rest = "", value.strip()
    for pair in filter(None, head.split(",")):
        key, eq, val = pair.partition("=")
        if not eq:
            raise CronError("%r has no '='" % pair)
        if key in FIELDS:
            job[key] = _field(val, key)
        elif key == "unique":
            job["unique"] = val not in ("0", "")
        elif key == "harakiri":
            job["harakiri"] = _field(val, key)
        elif key == "legion":
            job["legion"] = val
        else:
            raise CronError("unknown cron2 key %r" % key)
    if not rest.strip():
        raise CronError("no command")
    job["command"] = rest.strip()
    return job


def crontab_field(n, name):
    """One uWSGI field as crontab writes it: -1 -> '*', -N -> '*/N', N -> 'N'."""
    if n == -1:
        return "*"
    if n < -1:
        return "*/%d" % -n
    low, high = {"minute": (0, 59), "hour": (0, 23), "day": (1, 31), "month": (1, 12),
                 "week": (0, 7)}[name]
    if not low <= n <= high:
        raise CronError("%s %d is out of range %d-%d" % (name, n, low, high))
    return str(n)


def schedule(job):
    """The crontab schedule (five fields) of a parsed job; CronError for a field out of range."""
    return " ".join(crontab_field(job[name], name) for name in FIELDS)


def panel_cycle(job):
    """The panel's 执行周期 (its crontab row: type, where1, where_hour, where_minute) that
    writes the same schedule, or None when the panel has no such cycle. The panel builds the
    line from these in crontab.GetCrondCycle (aaPanel/BaoTa@f9f6845c class/crontab.py l.1213-
    1270): day 'm h * * *', day-n 'm h */n * *', hour 'm * * * *', hour-n 'm */n * * *',
    minute-n '*/n * * * *', week 'm h * * w', month 'm h d * *'."""
    m, h, d, mo, w = (job[name] for name in FIELDS)
    if mo != -1:
        return None
    if h == -1 and d == -1 and w == -1 and m <= -1:
        return {"type": "minute-n", "where1": str(-m), "where_hour": 0, "where_minute": 0}
    if m < 0:
        return None
    if h == -1 and d == -1 and w == -1:
        return {"type": "hour", "where1": "", "where_hour": 0, "where_minute": m}
    if h < -1 and d == -1 and w == -1:
        return {"type": "hour-n", "where1": str(-h), "where_hour": 0, "where_minute": m}
    if h < 0:
        return None
    if d == -1 and w == -1:
        return {"type": "day", "where1": "", "where_hour": h, "where_minute": m}
    if d < -1 and w == -1:
        return {"type": "day-n", "where1": str(-d), "where_hour": h, "where_minute": m}
    if d > 0 and w == -1:
        return {"type": "month", "where1": str(d), "where_hour": h, "where_minute": m}
    if d == -1 and w >= 0:
        return {"type": "week", "where1": str(w), "where_hour": h, "where_minute": m}
    return None


def crons(options, cron_harakiri, site, cwd, env):
    """Carried items for every cron of the config. ``options``: the cron, cron2 and
    unique-cron options in their order; ``env``: [(key, value)] of env=; ``cron_harakiri``:
    cron-harakiri (the default time limit of every cron) or None. Returns (items, problems),
    problems as (option, message) for the options uWSGI would have refused."""
    items, problems = [], []
    for opt in options:
        try:
            job = parse_cron2(opt.value) if opt.key == "cron2" else parse_cron(opt.value)
            text = schedule(job)
        except CronError as e:
            problems.append((opt, "%s = %s: %s (uWSGI refuses it); not carried over"
                             % (opt.key, opt.value, e)))
            continue
        if job.get("legion"):
            problems.append((opt, "%s: legion=%s runs the cron on one node of a uWSGI Legion; "
                                  "the panel runs it on this server" % (opt.key, job["legion"])))
        unique = opt.key == "unique-cron" or bool(job.get("unique"))
        harakiri = job.get("harakiri") or cron_harakiri or None
        n = len(items) + 1
        name = "uWSGI cron: %s #%d" % (site, n)
        cycle = panel_cycle(job)
        detail = "%s  %s  (%s%s%s)" % (
            text, job["command"], name, ", never two at once (flock)" if unique else "",
            ", killed after %d s" % harakiri if harakiri else "")
        if cycle is None:
            detail += "; the panel's cycle editor cannot show this schedule: edit it there " \
                      "only to replace it"
        items.append({
            "kind": "cron", "option": opt.key, "value": opt.value, "origin": opt.describe(),
            "where": "计划任务 / cron", "detail": detail,
            "job": {"n": n, "name": name, "schedule": text, "command": job["command"],
                    "unique": unique, "harakiri": harakiri, "cwd": cwd,
                    "env": [[k, v] for k, v in env if ENV_KEY.match(k)], "cycle": cycle},
        })
    return items, problems


# ---- attached daemons -----------------------------------------------------------------------
# uWSGI (core/daemons.c) runs each through /bin/sh -c in the master's working directory and
# environment, as the master's user, restarts it when it dies, and stops it (SIGTERM unless
# attach-daemon2 says stopsignal=) when the master stops.
PLAIN_DAEMONS = ("attach-daemon", "attach-control-daemon", "legacy-attach-daemon")
SMART_DAEMONS = ("smart-attach-daemon", "smart-attach-daemon2")
DAEMON_OPTIONS = PLAIN_DAEMONS + SMART_DAEMONS + ("attach-daemon2", "mule")


def _kv(value):
    """attach-daemon2's key=value list (uwsgi_kvlist_parse: ',' between pairs)."""
    out = {}
    for pair in value.split(","):
        key, eq, val = pair.partition("=")
        if eq:
            out[key.strip()] = val
    return out


def daemons(options, site, cwd, env, python):
    """Carried items for the daemons uWSGI ran besides the app, and (option, message) for
    those the switch does not carry. ``python``: the venv's interpreter, for a mule script."""
    items, problems = [], []
    for opt in options:
        key, value = opt.key, opt.value.strip()
        pidfile, stopsignal = None, "TERM"
        if key in PLAIN_DAEMONS:
            command = value
        elif key == "attach-daemon2":
            kv = _kv(value)
            command, pidfile = kv.get("cmd") or kv.get("exec") or "", kv.get("pidfile")
            stopsignal = {"15": "TERM", "2": "INT", "3": "QUIT", "9": "KILL", "1": "HUP"}.get(
                kv.get("stopsignal", "15"), None)
            if stopsignal is None:
                problems.append((opt, "%s: stopsignal=%s is not one the plugin maps; not carried "
                                      "over" % (key, kv.get("stopsignal"))))
                continue
        elif key == "mule":
            if not value.endswith(".py"):
                problems.append((opt, "mule = %s: a mule without a script runs the app's own "
                                      "mule code (uwsgi.mule_msg...), which Gunicorn has not; "
                                      "move that work to a separate worker" % value))
                continue
            command = "%s %s" % (python, value)
        else:
            pidfile = True
            command = ""
        if pidfile:
            problems.append((opt, "%s = %s: a daemon that keeps its own pidfile is not carried "
                                  "over yet; run it as a Supervisor program (进程守护管理器) "
                                  "before switching" % (key, value)))
            continue
        if not command:
            problems.append((opt, "%s = %s: no command; not carried over" % (key, value)))
            continue
        n = len(items) + 1
        items.append({
            "kind": "daemon", "option": key, "value": opt.value, "origin": opt.describe(),
            "where": "Gunicorn's process manager", "detail": "%s (as the site's user, in %s; "
            "started before uWSGI stops, uWSGI's copy stops with uWSGI)" % (command, cwd or "/"),
            "job": {"n": n, "name": "uWSGI daemon: %s #%d" % (site, n), "command": command,
                    "cwd": cwd or "/", "stopsignal": stopsignal,
                    "env": [[k, v] for k, v in env if ENV_KEY.match(k)]},
        })
        if key == "mule":
            problems.append((opt, "mule = %s runs as a plain Python process now: code that "
                                  "calls uwsgi.mule_get_msg() or other uwsgi functions fails "
                                  "there" % value))
    return items, problems
