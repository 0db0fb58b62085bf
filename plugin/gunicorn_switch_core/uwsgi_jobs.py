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
# What uWSGI 2.0 does with them (unbit/uwsgi, branch uwsgi-2.0 @ 9b1bb837, core/daemons.c;
# the line numbers are that file's):
# - Every daemon is forked by the master and runs ``/bin/sh -c <command>`` (utils.c
#   uwsgi_exec_command_with_args) in a session of its own (setsid, l.402), stdin /dev/null
#   (l.397), in the master's working directory, environment and user (attach-daemon2 may set
#   chdir=, uid=, gid=).
# - A plain daemon (attach-daemon, attach-control-daemon, attach-daemon2 without pidfile=)
#   is respawned when it dies (l.129-152, throttled when it dies within 3 s, l.280-293); an
#   attach-control-daemon that dies stops the whole uWSGI instead (l.142). On master stop or
#   reload it gets stopsignal (SIGTERM by default) on its process group, once a second for
#   reload-mercy (3 s) seconds, then SIGKILL (uwsgi_detach_daemons, l.224-256).
# - A smart daemon has a pidfile (smart-attach-daemon <pidfile>[,freq] <cmd>; attach-daemon2
#   pidfile=). At the master's start it is started only when the pidfile does not name a
#   live process (kill(pid, 0), l.156-185): one that is alive is adopted (l.205-213). Once a
#   second (l.32-41) the master reads the pidfile again: a new live pid is adopted (l.91-94);
#   a dead one that was seen alive is respawned at once (l.74-75); one never seen alive is
#   respawned after ``freq`` checks (default 10, l.78-88). smart-attach-daemon's command
#   daemonizes itself and writes the pidfile; with smart-attach-daemon2 (attach-daemon2
#   daemonize=1) uWSGI forks once more and writes the pidfile itself before the exec, the
#   command staying in the foreground (l.384-395, l.471-473).
# - On master stop or reload a smart daemon is LEFT RUNNING (l.231-233): the next uWSGI
#   adopts it from its pidfile. Only attach-daemon2's notifypid=1 sends it stopsignal (on
#   reload: reloadsignal or SIGHUP) on its process group, once, without waiting (l.258-266).
# - attach-daemon2's keys: command/cmd/exec, freq, pidfile, control, daemonize/daemon, touch,
#   stopsignal/stop_signal, reloadsignal/reload_signal, stdin, uid, gid, ns_pid, chdir,
#   max_throttle, notifypid (l.537-558); numbers are read with atoi (l.591-607).
# There is no legacy-attach-daemon in uWSGI 2.0 (core/uwsgi.c l.991-1001); it is read as an
# attach-daemon, what older releases meant by it.
PLAIN_DAEMONS = ("attach-daemon", "attach-control-daemon", "legacy-attach-daemon")
SMART_DAEMONS = ("smart-attach-daemon", "smart-attach-daemon2")
DAEMON_OPTIONS = PLAIN_DAEMONS + SMART_DAEMONS + ("attach-daemon2", "mule")
IGNORED = {"uid": "the daemon runs as the site's user", "gid": "the daemon runs as the site's user",
           "touch": "touching the file does not restart the daemon",
           "ns_pid": "the daemon has no PID namespace of its own"}
SIGNAL_NAMES = {1: "HUP", 2: "INT", 3: "QUIT", 9: "KILL", 10: "USR1", 12: "USR2", 15: "TERM"}


def parse_kvlist(value):
    """attach-daemon2's list as uwsgi_kvlist_parse (core/utils.c) reads it: items split on
    ',' and key from value on the first '=', a backslash escaping the next character; keys
    are taken as written, the last of a key wins."""
    items, cur, escaped = [], [], False
    for ch in value:
        if escaped:
            cur.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            items.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if cur:
        items.append("".join(cur))
    out = {}
    for item in items:
        key, eq, val = item.partition("=")
        if eq:
            out.pop(key, None)  # in the order of the last of each key
            out[key] = val
    return out


def _last(kv, *keys):
    """The value of whichever of ``keys`` (aliases of one setting) came last, or None."""
    found = [v for k, v in kv.items() if k in keys]
    return found[-1] if found else None


def atoi(text):
    """C's atoi: leading blanks, a sign, the digits that follow; 0 when there are none."""
    m = re.match(r"\s*([+-]?\d+)", text or "")
    return int(m.group(1)) if m else 0


def parse_daemon(key, value):
    """One daemon option -> {command, pidfile, freq, mode, stopsignal (a number), notify,
    control, chdir, ignored: [keys the plugin does not carry]} as uWSGI reads it."""
    d = {"command": value, "pidfile": None, "freq": 10, "mode": None, "stopsignal": 15,
         "notify": False, "control": key == "attach-control-daemon", "chdir": None,
         "ignored": []}
    if key in SMART_DAEMONS:
        pidfile, sep, command = value.partition(" ")
        if not sep:
            raise CronError("expected '<pidfile>[,freq] <command>' (uWSGI refuses it)")
        pidfile, comma, freq = pidfile.partition(",")
        d.update(command=command, pidfile=pidfile, freq=atoi(freq) if comma else 10,
                 mode="fg" if key == "smart-attach-daemon2" else "self")
    elif key == "attach-daemon2":
        kv = parse_kvlist(value)
        command = _last(kv, "command", "cmd", "exec")
        if command is None:
            raise CronError("no command= (uWSGI refuses it)")
        signum = _last(kv, "stopsignal", "stop_signal")
        d.update(command=command, pidfile=kv.get("pidfile"),
                 freq=atoi(kv["freq"]) if "freq" in kv else 10,
                 stopsignal=atoi(signum) if signum is not None else 15,
                 notify="notifypid" in kv, control="control" in kv,
                 chdir=kv.get("chdir"))
        if d["pidfile"]:
            d["mode"] = "fg" if "daemonize" in kv or "daemon" in kv else "self"
        # a key given at all counts, as uWSGI tests its pointer; uid/gid 0 set nothing
        d["ignored"] = [k for k in ("touch", "ns_pid") if k in kv] + \
            [k for k in ("uid", "gid") if atoi(kv.get(k)) != 0]
    return d


def daemons(options, site, cwd, env, python):
    """Carried items for the daemons uWSGI ran besides the app, and (option, message) for
    those the switch does not carry. ``python``: the venv's interpreter, for a mule script."""
    items, problems = [], []
    for opt in options:
        key, value = opt.key, opt.value.strip()
        if key == "mule":
            if not value.endswith(".py"):
                problems.append((opt, "mule = %s: a mule without a script runs the app's own "
                                      "mule code (uwsgi.mule_msg...), which Gunicorn has not; "
                                      "move that work to a separate worker" % value))
                continue
            d = parse_daemon("attach-daemon", "%s %s" % (python, value))
        else:
            try:
                d = parse_daemon(key, value)
            except CronError as e:
                problems.append((opt, "%s = %s: %s; not carried over" % (key, value, e)))
                continue
        command = d["command"].strip()
        stopsignal = SIGNAL_NAMES.get(d["stopsignal"])
        if stopsignal is None:
            problems.append((opt, "%s: stopsignal=%s is not one the plugin maps; not carried "
                                  "over" % (key, d["stopsignal"])))
            continue
        if not command:
            problems.append((opt, "%s = %s: no command; not carried over" % (key, value)))
            continue
        where = d["chdir"] or cwd or "/"
        if not where.startswith("/"):
            where = (cwd or "/").rstrip("/") + "/" + where
        pidfile = d["pidfile"]
        if pidfile and not pidfile.startswith("/"):
            # uWSGI checks it from the master's working directory
            pidfile = (cwd or "/").rstrip("/") + "/" + pidfile
        n = len(items) + 1
        job = {"n": n, "name": "uWSGI daemon: %s #%d" % (site, n), "command": command,
               "cwd": where, "stopsignal": stopsignal,
               "env": [[k, v] for k, v in env if ENV_KEY.match(k)]}
        if pidfile:
            job["smart"] = {"pidfile": pidfile, "freq": max(d["freq"], 0), "mode": d["mode"],
                            "notify": stopsignal if d["notify"] else None}
            detail = ("%s (as the site's user, in %s; a watcher starts it only when %s names "
                      "no live process, as uWSGI does: the copy uWSGI runs is adopted, not "
                      "duplicated, and is left running when the watcher stops%s)"
                      % (command, where, pidfile, ", which then sends it SIG%s" % stopsignal
                         if d["notify"] else ""))
        else:
            detail = ("%s (as the site's user, in %s; started before uWSGI stops, uWSGI's copy "
                      "stops with uWSGI)" % (command, where))
        items.append({"kind": "daemon", "option": key, "value": opt.value,
                      "origin": opt.describe(), "where": "Gunicorn's process manager",
                      "detail": detail, "job": job})
        if key == "mule":
            problems.append((opt, "mule = %s runs as a plain Python process now: code that "
                                  "calls uwsgi.mule_get_msg() or other uwsgi functions fails "
                                  "there" % value))
        if d["control"]:
            problems.append((opt, "%s: uWSGI stopped itself when this daemon died; under "
                                  "Gunicorn's manager it is only restarted" % key))
        for k in d["ignored"]:
            problems.append((opt, "%s: %s= is not carried over: %s" % (key, k, IGNORED[k])))
    return items, problems
