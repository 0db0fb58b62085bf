"""Run a site's Gunicorn, and stop or bring back its uWSGI, through the site's process manager.

Gunicorn managers: the panel's Supervisor plugin (a program file in the plugin's own format, so
进程守护管理器 shows it), the panel's Python project manager (its start script, pid file and
project_config, so the panel's page and its daemon agree with what runs), a systemd unit
(for a site whose uWSGI is one: enabled for boot once uWSGI's is disabled), or a plain daemon
with a pidfile.

Each function takes a record (plain data, see records.py) and returns (ok, log text).
"""
import json
import os
import re
import signal
import time

import psutil

from . import host, panel_db, paths, processes, safe_files, safe_text

STOP_WAIT = 30.0


# ---- Supervisor ----------------------------------------------------------------------------

def _supervisor_dir():
    return paths.host(paths.SUPERVISOR_PLUGIN)


def supervisor_conf():
    """The supervisord.conf in use: from the running supervisord's command line, else the
    plugin's or Debian's default location (docs/ARCHITECTURE.md, facts: Supervisor plugin)."""
    root = paths.root().rstrip("/")
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info.get("cmdline") or []
        if any(os.path.basename(w) == "supervisord" for w in cmd[:2]) and "-c" in cmd:
            conf = cmd[cmd.index("-c") + 1] if cmd.index("-c") + 1 < len(cmd) else None
            if conf and (not root or conf.startswith(root + "/")):
                return conf
    for cand in (os.path.join(_supervisor_dir(), "supervisord.conf"),
                 paths.host("/etc/supervisor/supervisord.conf")):
        if os.path.exists(cand):
            return cand
    return None


def supervisorctl(*args):
    ctl = paths.host(paths.PANEL + "/pyenv/bin/supervisorctl")
    if not os.path.exists(ctl):
        ctl = "supervisorctl"
    conf = supervisor_conf()
    argv = [ctl] + (["-c", conf] if conf else []) + list(args)
    return host.run(argv, timeout=90)


def program_name(site):
    return "gunicorn_" + re.sub(r"[^A-Za-z0-9_]", "_", site)


def program_file(program):
    return os.path.join(_supervisor_dir(), "profile", program + ".ini")


def program_section(prog, command, directory, user, env=(), stopwaitsecs=35, group=False):
    """A [program:x] section as the Supervisor plugin's AddProcess writes it, run as ``user``
    (a host.User): supervisord becomes that user before it executes the command. ``env``:
    [(key, value)] on top of HOME/USER/LANG, values already checked (supervisor_value)."""
    log = os.path.join(_supervisor_dir(), "log")
    environment = [("HOME", safe_text.check_path(user.home, "home")), ("USER", user.name),
                   ("LANG", "C.UTF-8")] + list(env)
    return "\n".join([
        "[program:%s]" % prog,
        "command=%s" % command,
        "directory=%s" % directory,
        "autostart=true",
        "autorestart=true",
        "startsecs=%d" % (3 if not group else 1),
        "startretries=3",
        "stopsignal=TERM",
        "stopwaitsecs=%d" % stopwaitsecs,
        # a shell command's children get the signal too (uWSGI signals a daemon's group)
        "stopasgroup=%s" % ("true" if group else "false"),
        "killasgroup=%s" % ("true" if group else "false"),
        "stdout_logfile=%s/%s.out.log" % (log, prog),
        "stderr_logfile=%s/%s.err.log" % (log, prog),
        "stdout_logfile_maxbytes=2MB",
        "stderr_logfile_maxbytes=2MB",
        "user=%s" % user.name,
        "environment=%s" % ",".join('%s="%s"' % kv for kv in environment),
        "priority=999",
        "numprocs=1",
        "process_name=%(program_name)s",
        "",
    ])


def program_text(record):
    """Gunicorn's program: the master, like its workers, never runs as root (the venv, the
    conf and the project are the site user's to change)."""
    for key in ("gunicorn_bin", "gunicorn_conf", "project_path"):
        safe_text.check_path(record[key], key)
    return program_section(record["manager_detail"], "%s -c %s" % (record["gunicorn_bin"], record["gunicorn_conf"]),
                           record["project_path"], run_user(record),
                           stopwaitsecs=int(record.get("graceful_timeout") or 30) + 5)


_SUPERVISOR_BAD = re.compile(r"[\x00-\x1f\x7f\"\\]|\s[;#]")


def supervisor_value(text, what):
    """``text`` as it can stand in a program file: %-interpolation escaped; refused
    (safe_text.UnsafeText) with control characters, double quotes or backslashes (the
    environment= syntax) and " ;" or " #" (an inline comment to supervisord's parser)."""
    if _SUPERVISOR_BAD.search(text):
        raise safe_text.UnsafeText("%s %r cannot stand in a Supervisor program file (quotes, "
                                   "backslashes, ' ;' or ' #'); put it in a script" % (what, text[:200]))
    return text.replace("%", "%%")


def supervisor_metadata_file():
    return os.path.join(_supervisor_dir(), "config.json")


def _program_state(prog):
    rc, out = supervisorctl("status", prog)
    parts = out.split()
    return parts[1] if len(parts) > 1 and parts[0] == prog else None


UP = ("STARTING", "RUNNING")


def _wait_state(prog, want, timeout=30.0):
    end = time.monotonic() + timeout
    state = None
    while time.monotonic() < end:
        state = _program_state(prog)
        if state in want:
            return state
        time.sleep(0.3)
    return state


# ---- systemd ---------------------------------------------------------------------------------

def systemctl(*args):
    return host.run(["systemctl"] + list(args), timeout=90)


def unit_name(site):
    return "gunicorn-%s.service" % re.sub(r"[^A-Za-z0-9_.-]", "_", site)


def unit_file(unit):
    """Where the plugin's unit lives: the prefix's /etc/systemd/system (the admin's units,
    which `daemon-reload` reads; the package's /lib/systemd/system is not ours)."""
    return os.path.join(paths.host("/etc/systemd/system"), unit)


def unit_text(record):
    """gunicorn-<site>.service. systemd becomes the site's user before it executes Gunicorn.
    KillMode=mixed: the stop signal goes to the master alone (it drains its workers in
    graceful_timeout), SIGKILL to whatever is left after TimeoutStopSec."""
    who = run_user(record)
    for key in ("gunicorn_bin", "gunicorn_conf", "project_path"):
        safe_text.check_path(record[key], key)
    safe_text.check_path(who.home, "home")
    return "\n".join([
        "[Unit]",
        "Description=Gunicorn for %s (gunicorn_switch)" % record["manager_detail"],
        "After=network.target",
        "",
        "[Service]",
        "Type=simple",
        "User=%s" % who.name,
        "WorkingDirectory=%s" % record["project_path"],
        "Environment=HOME=%s USER=%s LANG=C.UTF-8" % (who.home, who.name),
        "ExecStart=%s -c %s" % (record["gunicorn_bin"], record["gunicorn_conf"]),
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Restart=on-failure",
        "RestartSec=1",
        "KillMode=mixed",
        "TimeoutStopSec=%d" % (int(record.get("graceful_timeout") or 30) + 5),
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ])


def _unit_state(unit):
    rc, out = systemctl("is-active", unit)
    return out.strip()


def enable(record):
    """Start the site's Gunicorn at boot (after the switch has disabled uWSGI's unit)."""
    if record["manager"] != "systemd":
        return True, ""
    rc, out = systemctl("enable", record["manager_detail"])
    return rc == 0, out


program_state = _program_state
wait_state = _wait_state


# ---- Gunicorn --------------------------------------------------------------------------------

def run_user(record):
    """The user the site's Gunicorn runs as (records from before least privilege: www)."""
    return host.User(record.get("user") or "www")


def gunicorn_pid(record):
    """The running master's pid from the record's pidfile, checked to be a Gunicorn of the
    site's user: the pidfile is the site user's to write, and a pid in it must never make
    root signal someone else's process."""
    pid = host.read_pid(record["pidfile"])
    if not pid:
        return None
    try:
        proc = psutil.Process(pid)
        if "gunicorn" in " ".join(proc.cmdline()) and \
                proc.uids().real in (run_user(record).uid, 0):
            return pid
    except (psutil.Error, KeyError):
        pass
    return None



def _wait_gunicorn(record, timeout=30.0, gave_up=lambda: False):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        pid = gunicorn_pid(record)
        if pid or gave_up():
            return pid
        time.sleep(0.2)
    return None


def _run_env(record):
    env = run_user(record).env(extra_path=os.path.join(record["venv"], "bin"), base={})
    env["VIRTUAL_ENV"] = record["venv"]
    if record["manager"] == "panel_project":
        env["BT_PYTHON_SERVICE_SID"] = panel_db.sid(record["site"])
    return env


def install(record):
    """Register Gunicorn with the manager without starting it (Supervisor: the program file)."""
    if record["manager"] == "supervisor":
        host.write_atomic(program_file(record["manager_detail"]), program_text(record))
        _metadata_add(record)
    if record["manager"] == "systemd":
        host.write_atomic(unit_file(record["manager_detail"]), unit_text(record))
        rc, out = systemctl("daemon-reload")
        return rc == 0, out
    return True, ""


def start(record):
    m = record["manager"]
    if gunicorn_pid(record):
        return True, "already running"
    if m == "supervisor":
        prog = record["manager_detail"]
        rc, out = supervisorctl("update", prog)
        # Supervisor says RUNNING only once the process has lived `startsecs` (3 s, as the
        # plugin writes it). The health step after this one is the real check, so a live
        # master in STARTING is enough here: waiting for RUNNING was a third of the switch.
        state = _wait_state(prog, UP + ("FATAL", "BACKOFF", "EXITED"))
        if state not in UP:
            rc, out2 = supervisorctl("start", prog)
            out += out2
            state = _program_state(prog)
        ok = state in UP and _wait_gunicorn(
            record, gave_up=lambda: _program_state(prog) in ("FATAL", "EXITED")) is not None
        return ok, out + "\nsupervisor state: %s" % _program_state(prog)
    if m == "systemd":
        unit = record["manager_detail"]
        rc, out = systemctl("start", unit)
        ok = rc == 0 and _wait_gunicorn(
            record, gave_up=lambda: _unit_state(unit) in ("failed", "inactive")) is not None
        return ok, out + "\nunit state: %s" % _unit_state(unit)
    argv = [record["gunicorn_bin"], "-c", record["gunicorn_conf"]]
    host.spawn(argv, record["project_path"], _run_env(record),
               os.path.join(record["log_dir"], "gunicorn_stdout.log"), as_user=run_user(record))
    ok = _wait_gunicorn(record) is not None
    return ok, " ".join(argv)


def stop(record):
    m = record["manager"]
    if m == "supervisor":
        rc, out = supervisorctl("stop", record["manager_detail"])
        return _wait_gone(gunicorn_pid(record)), out
    if m == "systemd":
        pid = gunicorn_pid(record)
        rc, out = systemctl("stop", record["manager_detail"])
        return rc == 0 and _wait_gone(pid), out
    pid = gunicorn_pid(record)
    if not pid:
        return True, "not running"
    os.kill(pid, signal.SIGTERM)  # graceful: workers finish their requests
    return _wait_gone(pid, timeout=float(record.get("graceful_timeout") or 30) + 10), "SIGTERM %d" % pid


def restart(record):
    ok, log = stop(record)
    if not ok:
        return False, log
    ok2, log2 = start(record)
    return ok2, log + "\n" + log2


def remove(record):
    """Undo install(): stop and unregister (Supervisor: program file and metadata)."""
    ok, log = stop(record)
    if record["manager"] == "supervisor":
        path = program_file(record["manager_detail"])
        if os.path.exists(path):
            os.unlink(path)
        rc, out = supervisorctl("update")
        log += out
        _metadata_remove(record)
    if record["manager"] == "systemd":
        unit = record["manager_detail"]
        rc, out = systemctl("disable", unit)
        log += out
        path = unit_file(unit)
        if os.path.exists(path):
            os.unlink(path)
        rc2, out2 = systemctl("daemon-reload")
        log += out2
        ok = ok and rc == 0 and rc2 == 0
    return ok, log


def _wait_gone(pid, timeout=STOP_WAIT):
    """Whether ``pid`` exited within ``timeout``. A zombie has exited (its sockets are
    closed, it serves nothing): a daemon's master is reparented to init, and psutil's wait
    on a process that is not our child counts it alive until init reaps it, which some inits
    do only every couple of seconds (measured: 1.7-1.8 s on the dev machines' PID 1, most of
    the 2.3-2.5 s a drained uWSGI seemed to take to exit; uWSGI's own log says its workers
    were buried after 1 s, its master's cycle)."""
    if not pid:
        return True
    try:
        proc = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return True
    end = time.monotonic() + timeout
    while True:
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                return True
            proc.wait(0.05)
            return True
        except psutil.NoSuchProcess:
            return True
        except psutil.TimeoutExpired:
            if time.monotonic() >= end:
                return False


def _metadata_add(record):
    metadata_add(record["manager_detail"], "%s -c %s" % (record["gunicorn_bin"], record["gunicorn_conf"]),
                 record["project_path"], run_user(record).name,
                 "Gunicorn: %s (gunicorn_switch)" % record["site"])


def metadata_add(program, command, path_, user, ps):
    """List the program in the Supervisor plugin's config.json so that its page shows it."""
    path = supervisor_metadata_file()
    try:
        items = json.loads(host.read_text(path))
    except (OSError, ValueError, host.HostError):
        items = []
    if not isinstance(items, list):
        return
    items = [i for i in items if not (isinstance(i, dict) and i.get("program") == program)]
    items.append({"program": program, "command": command, "path": path_, "user": user,
                  "numprocs": "1", "ps": ps})
    host.write_atomic(path, json.dumps(items, ensure_ascii=False, indent=2))


def _metadata_remove(record):
    metadata_remove(record["manager_detail"])


def metadata_remove(program):
    path = supervisor_metadata_file()
    try:
        items = json.loads(host.read_text(path))
    except (OSError, ValueError, host.HostError):
        return
    if isinstance(items, list):
        kept = [i for i in items if not (isinstance(i, dict) and i.get("program") == program)]
        if kept != items:
            host.write_atomic(path, json.dumps(kept, ensure_ascii=False, indent=2))


# ---- uWSGI -----------------------------------------------------------------------------------

def set_autostart(text, on):
    """A Supervisor program section with autostart/autorestart set; other lines untouched."""
    value = "true" if on else "false"
    lines = text.splitlines(True)
    seen = set()
    for i, line in enumerate(lines):
        m = re.match(r"^(\s*)(autostart|autorestart)(\s*=\s*)(\S*)(.*?)(\r?\n)?$", line)
        if m:
            seen.add(m.group(2))
            lines[i] = "%s%s%s%s%s%s" % (m.group(1), m.group(2), m.group(3), value, m.group(5), m.group(6) or "")
    nl = "\r\n" if "\r\n" in text else "\n"
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += nl
    for key in ("autostart", "autorestart"):
        if key not in seen:
            lines.append("%s=%s%s" % (key, value, nl))
    return "".join(lines)


def stop_uwsgi(u):
    """Stop uWSGI for good, the way it is run. ``u``: {manager, detail, pid, ...}.
    Returns (ok, log)."""
    m = u["manager"]
    if m == "supervisor":
        prog = u["detail"]
        rc, out = supervisorctl("stop", prog)
        path = u.get("program_file")
        if path and os.path.exists(path):
            host.write_atomic(path, set_autostart(host.read_text(path), False))
            rc2, out2 = supervisorctl("update", prog)
            out += out2
        ok = _wait_gone(u["pid"])
        state = _program_state(prog)
        return ok and state in (None, "STOPPED", "EXITED"), out + "\nstate: %s" % state
    if m == "systemd" and u.get("detail"):
        unit = u["detail"]
        rc, out = systemctl("disable", unit)
        # The stop job first (while it runs, Restart=always does not bring uWSGI back), then
        # SIGINT, uWSGI's "stop now", whatever KillSignal= the unit has: with the tutorials'
        # SIGQUIT a uWSGI here was still up when `systemctl stop` gave up after 90 s.
        rc2, out2 = systemctl("stop", "--no-block", unit)
        systemctl("kill", "--signal=SIGINT", unit)
        ok = rc == 0 and rc2 == 0 and _wait_gone(u["pid"])
        end = time.monotonic() + STOP_WAIT
        while ok and _unit_state(unit) not in ("inactive", "failed") and time.monotonic() < end:
            time.sleep(0.2)
        state = _unit_state(unit)
        return ok and state in ("inactive", "failed"), out + out2 + "\nunit state: %s" % state
    if m == "emperor" and u.get("config") and os.path.exists(u["config"]):
        # The Emperor respawns a vassal that dies and stops one whose file goes away: so the
        # file goes (the caller has backed it up; rollback puts it back and the Emperor
        # starts the vassal again).
        os.unlink(u["config"])
        return _wait_gone(u["pid"], timeout=STOP_WAIT + 30), "removed vassal %s" % u["config"]
    # A plain daemon, a panel project's uWSGI: SIGINT to the master (nginx no longer sends it
    # anything, and the drain before this waited for the requests it had).
    try:
        os.kill(u["pid"], signal.SIGINT)
    except ProcessLookupError:
        return True, "already gone"
    return _wait_gone(u["pid"]), "SIGINT %d" % u["pid"]


def start_uwsgi(u):
    """Bring uWSGI back as it ran (rollback). Returns (ok, log)."""
    m = u["manager"]
    if m == "supervisor":
        prog = u["detail"]
        rc, out = supervisorctl("update", prog)
        state = _wait_state(prog, ("RUNNING", "FATAL", "BACKOFF", "EXITED", "STOPPED"))
        if state != "RUNNING":
            rc, out2 = supervisorctl("start", prog)
            out += out2
            state = _program_state(prog)
        return state == "RUNNING", out + "\nstate: %s" % state
    if m == "panel_project" and u.get("start_script") and os.path.exists(u["start_script"]) \
            and respawn_user(u) is None and safe_files.root_only(u["start_script"]):
        # the panel's own script, run as the panel runs it for stype uwsgi: as root. Only
        # when the master ran as root from a root-only binary and the script is still
        # root's (the panel chowns it to the run user when it starts the project itself)
        rc, out = host.run(["bash", u["start_script"]], timeout=60)
        return rc == 0, out
    if m == "systemd" and u.get("detail"):
        rc, out = systemctl("enable", "--now", u["detail"])
        return rc == 0, out
    if m == "emperor":
        return True, "vassal file restored: the Emperor starts it"
    who = respawn_user(u)
    if isinstance(who, str):
        return False, who
    env = uwsgi_env(u.get("environ") or {}, who)
    handed = []
    if who is not None and m == "panel_project":
        # the panel's command line names its pid file in the panel's pids dir: the master,
        # started as the user it ran as, must be able to write it (the panel itself leaves
        # that dir world-writable; root makes the one file, by descriptor, for that user)
        pid_path = panel_db.pid_file(u["detail"])
        if not safe_files.give_to(pid_path, who.owner) and safe_files.lstat(pid_path) is None:
            host.write_atomic(pid_path, b"", mode=0o644, owner=who.owner)
    if who is not None:
        # A master started by root opened its log as root, then dropped to its uid=: started
        # again as that user it could not open it. Only the files it had open for its
        # output (recorded by the plan, in the site's or the logs' directory) are handed
        # over, by descriptor.
        for path in u.get("logs") or []:
            try:
                if safe_files.give_to(path, who.owner):
                    handed.append(path)
            except OSError:
                continue
    host.spawn(u["cmdline"], u["cwd"], env, os.path.join(u["log_dir"], "uwsgi_restart.log"),
               as_user=who)
    return True, "%s   (as %s)%s" % (" ".join(u["cmdline"]), who.name if who else "root",
                                      "".join("\nlog %s now belongs to %s" % (p, who.name)
                                              for p in handed))


def respawn_user(u):
    """Whom a daemon uWSGI is started again as: the user its master ran as. Root only when
    the master ran as root from a binary that only root can change; a root master started
    from a binary the site's user can write comes back as the site's user (its uid= is then
    a no-op), since root would run whatever that user put there. Returns a host.User, None
    for root, or a message why it cannot be started."""
    uid = u.get("uid")
    if uid is None:
        return "the uWSGI master's user was not recorded; start uWSGI by hand"
    if uid != 0:
        return host.user_for_uid(uid) or "user %d of the uWSGI master no longer exists" % uid
    exe = u.get("exe") or (u.get("cmdline") or [""])[0]
    if exe and safe_files.root_only(exe):
        return None
    site_user = u.get("site_user")
    if site_user:
        return host.User(site_user)
    return "uWSGI ran as root from %s, which a non-root user can change; start it by hand" % exe


def uwsgi_env(recorded, who):
    """The environment uWSGI is started again with: what discovery kept of its master's
    (processes.KEPT_ENV: how it was started, its VIRTUAL_ENV, which uWSGI takes as its
    home), nothing that loads code into it (LD_*, PYTHON* were never kept), and the home of
    the user it runs as. A master that ran as root had an environment only root could set;
    one that ran as the site's user comes back as that user."""
    env = {k: v for k, v in recorded.items() if k in processes.KEPT_ENV}
    env.setdefault("PATH", host.SAFE_PATH)
    env["HOME"] = who.home if who else "/root"
    return env


def find_uwsgi(u):
    """The pid of a running uWSGI master started from the same command line, or None."""
    for proc in psutil.process_iter(["pid", "ppid", "cmdline"]):
        if proc.info.get("cmdline") == u["cmdline"]:
            try:
                parent = proc.parent()
                if parent is None or parent.cmdline() != u["cmdline"]:
                    return proc.pid
            except psutil.Error:
                continue
    return None


def detail_for(manager, site):
    """What a manager knows the site's Gunicorn by: a program, a unit, or the site."""
    if manager == "supervisor":
        return program_name(site)
    if manager == "systemd":
        return unit_name(site)
    return site


def registration_files(rec):
    """The files a manager registers Gunicorn with (backed up before, restored after)."""
    if rec["manager"] == "supervisor":
        return [program_file(rec["manager_detail"]), supervisor_metadata_file()]
    if rec["manager"] == "systemd":
        return [unit_file(rec["manager_detail"])]
    return []
