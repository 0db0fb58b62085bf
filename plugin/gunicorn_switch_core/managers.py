"""Run a site's Gunicorn, and stop or bring back its uWSGI, through the site's process manager.

Gunicorn managers: the panel's Supervisor plugin (a program file in the plugin's own format, so
进程守护管理器 shows it), the panel's Python project manager (its start script, pid file and
project_config, so the panel's page and its daemon agree with what runs), a systemd unit
(for a site whose uWSGI is one: enabled for boot once uWSGI's is disabled), or a plain daemon
with a pidfile.

Each function takes a record (plain data, see records.py) and returns (ok, log text).
"""
import os
import re
import signal
import stat
import time

import psutil

from . import host, logs, panel_project, paths, processes, records, safe_text, supervisor_programs



def program_text(record):
    """Gunicorn's program: the master, like its workers, never runs as root (the venv, the
    conf and the project are the site user's to change). Supervisor runs the keeper in front
    of it where it can (kept_command), so that a restart is Gunicorn's re-exec."""
    for key in ("gunicorn_bin", "gunicorn_conf", "project_path"):
        safe_text.check_path(record[key], key)
    command = kept_command(record)
    keeper = command != gunicorn_command(record)
    return supervisor_programs.program_section(
        record["manager_detail"], command, record["project_path"], run_user(record),
        stopwaitsecs=int(record.get("graceful_timeout") or 30) + 5,
        # the stop signal to the keeper alone (it passes it on to the masters, which drain
        # their workers); a SIGKILL after stopwaitsecs to the whole group, masters included
        killasgroup=keeper)


def gunicorn_command(record):
    return "%s -c %s" % (record["gunicorn_bin"], record["gunicorn_conf"])


def keeper_usable(user, path=None):
    """Whether ``user`` can run the keeper at ``path`` (read the file, enter every directory
    above it) and cannot change it: the file and every directory above it are root's and
    writable by root alone. Root never runs it, but Supervisor runs it for the site, so a
    keeper the site's user could rewrite would be a hole for the next one who reads it."""
    path = path or processes.KEEPER
    parts = path.split("/")
    for i in range(1, len(parts) + 1):
        p = "/".join(parts[:i]) or "/"
        try:
            st = os.lstat(p)
        except OSError:
            return False
        if st.st_uid != 0 or st.st_mode & 0o022 or stat.S_ISLNK(st.st_mode):
            return False
        need = 0o4 if i == len(parts) else 0o1
        if not (st.st_mode & need or (st.st_gid in user.gids and st.st_mode & (need << 3))):
            return False
    return True


def kept_command(record):
    """``<venv>/bin/python -I <keeper> --pidfile <pidfile> -- <gunicorn> -c <conf>`` (keeper.py:
    a child subreaper that keeps a re-exec'd master under Supervisor or systemd, which both
    watch the pid they started), or Gunicorn itself when
    the keeper cannot be used (no pidfile, a keeper the site's user could not run or could
    change): its restarts are then stop-then-start, and the page says so."""
    python = os.path.join(record.get("venv") or "/nonexistent", "bin", "python")
    pidfile = record.get("pidfile")
    if not pidfile or not os.path.exists(python) or not keeper_usable(run_user(record)):
        return gunicorn_command(record)
    for value, what in ((python, "venv"), (processes.KEEPER, "keeper"), (pidfile, "pidfile")):
        safe_text.check_path(value, what)
    return "%s -I %s --pidfile %s -- %s" % (python, processes.KEEPER, pidfile,
                                            gunicorn_command(record))


# ---- systemd ---------------------------------------------------------------------------------

def systemctl(*args):
    return host.run(["systemctl"] + list(args), timeout=90)


def unit_name(site):
    return "gunicorn-%s.service" % re.sub(r"[^A-Za-z0-9_.-]", "_", site)


def unit_file(unit):
    """Where the plugin's unit lives: the prefix's /etc/systemd/system (the admin's units,
    which `daemon-reload` reads; the package's /lib/systemd/system is not ours)."""
    return os.path.join(paths.real(paths.SYSTEMD_UNITS), unit)


def _unit_word(text):
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$", text or ""):
        raise safe_text.UnsafeText("not a site name for a unit: %r" % (text,))
    return text


def runtime_dir_lines(record, who):
    """ExecStartPre lines that remake the runtime dir (pidfile, sockets, stats) before every
    start: /run is empty after a reboot, and Gunicorn cannot write its pidfile without it.
    "+" runs them as root (systemd >= 231; older ones ignore the line): the parent is root's
    (0755), so the site's user cannot put a link where root chowns. Not RuntimeDirectory=,
    which takes only names under /run and removes the directory at every stop."""
    rdir = (record.get("runtime_dir") or "").rstrip("/")
    if not rdir:
        return []
    safe_text.check_path(rdir, "runtime_dir")
    uid, gid = who.owner
    mode = "0711" if str(record.get("bind") or "").startswith("unix:") else "0700"
    return ["ExecStartPre=+/usr/bin/install -d -o root -g root -m 0755 %s" % os.path.dirname(rdir),
            "ExecStartPre=+/usr/bin/install -d -o %d -g %d -m %s %s" % (uid, gid, mode, rdir)]


def unit_text(record):
    """gunicorn-<site>.service. systemd becomes the site's user before it executes Gunicorn,
    through the keeper where it can be used (kept_command): the unit's MainPID is then the
    keeper, which passes the reload's HUP and the stop's TERM on to the master, and a restart
    is Gunicorn's re-exec with the unit untouched. KillMode=mixed: the stop signal goes to the
    main process alone (the master drains its workers in graceful_timeout), SIGKILL to
    whatever is left after TimeoutStopSec."""
    who = run_user(record)
    for key in ("gunicorn_bin", "gunicorn_conf", "project_path"):
        safe_text.check_path(record[key], key)
    return service_text(
        # the site's name (records.SITE_NAME: no %, which systemd would expand as a specifier)
        "Gunicorn for %s (gunicorn_switch)" % _unit_word(record["site"]), who,
        record["project_path"], [],
        runtime_dir_lines(record, who) + [
            "ExecStart=%s" % kept_command(record),
            "ExecReload=/bin/kill -HUP $MAINPID",
            # as the Supervisor program's autorestart=true: a master that exits on its own (a
            # TERM from someone else, a crash the keeper reports as 0) comes back; a stop does not
            "Restart=always",
            "RestartSec=1",
            "KillMode=mixed",
            "TimeoutStopSec=%d" % (int(record.get("graceful_timeout") or 30) + 5)])


def service_text(description, who, cwd, env, service):
    """A unit the plugin writes: ``service`` lines run as ``who`` (a host.User) in ``cwd``
    with HOME/USER/LANG and ``env`` ([(key, value)], quoted here), wanted by
    multi-user.target (enabled: started at boot)."""
    safe_text.check_path(who.home, "home")
    safe_text.check_path(cwd, "WorkingDirectory")
    extra = ["Environment=%s" % safe_text.systemd_word("%s=%s" % tuple(kv), kv[0], expand=False)
             for kv in env]
    return "\n".join([
        "[Unit]",
        "Description=%s" % description,
        "After=network.target",
        "",
        "[Service]",
        "Type=simple",
        "User=%s" % who.name,
        "WorkingDirectory=%s" % cwd,
        "Environment=HOME=%s USER=%s LANG=C.UTF-8" % (who.home, who.name),
    ] + extra + service + [
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ])


def unit_state(unit):
    rc, out = systemctl("is-active", unit)
    return out.strip()


def unit_gave_up(unit):
    """Whether a unit that was asked to start is not coming up: failed, stopped, or waiting
    to be restarted after its process exited (Restart=on-failure: a Gunicorn that cannot
    bind or load its conf would otherwise be waited for over several restarts)."""
    rc, out = systemctl("show", "-p", "ActiveState", "-p", "SubState", unit)
    props = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return props.get("ActiveState") in ("failed", "inactive") or \
        props.get("SubState") == "auto-restart"


def main_pid(unit):
    """systemd's MainPID of a unit (0 when it runs nothing). It is a pid of systemd's PID
    namespace, the one the plugin runs in on a server (and in the sandbox: everything of a
    systemd test runs inside the private systemd's namespace)."""
    rc, out = systemctl("show", "-p", "MainPID", unit)
    value = out.strip().partition("MainPID=")[2]
    return int(value) if rc == 0 and value.isdigit() else 0


def _unit_log(unit):
    """What systemd says about a unit that did not start, for the task's log (bounded)."""
    rc, out = systemctl("status", "--no-pager", "--lines=20", "--", unit)
    return out[-3000:]


def enable(record):
    """Start the site's Gunicorn at boot (after the switch has disabled uWSGI's unit)."""
    if record["manager"] != "systemd":
        return True, ""
    rc, out = systemctl("enable", record["manager_detail"])
    return rc == 0, out


# ---- Gunicorn --------------------------------------------------------------------------------

def run_user(record):
    """The user the site's Gunicorn runs as (records from before least privilege: www)."""
    return host.User(records.user_of(record))


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



QUICK_START = 3.0  # a master that is not up by then is asked about through its manager


def _wait_gunicorn(record, timeout=30.0, gave_up=lambda: False):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        pid = gunicorn_pid(record)
        if pid or gave_up():
            return pid
        time.sleep(host.POLL)
    return None


def _run_env(record):
    env = run_user(record).env(extra_path=os.path.join(record["venv"], "bin"), base={})
    env["VIRTUAL_ENV"] = record["venv"]
    if record["manager"] == "panel_project":
        env["BT_PYTHON_SERVICE_SID"] = panel_project.sid(record["site"])
    return env


def install(record):
    """Register Gunicorn with the manager without starting it (Supervisor: the program file)."""
    if record["manager"] == "supervisor":
        host.write_atomic(supervisor_programs.program_file(record["manager_detail"]), program_text(record))
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
        rc, out = supervisor_programs.supervisorctl("update", prog)
        # `update` starts a new program at once: its master's pidfile usually says so before a
        # supervisorctl status (a Python process of its own) could, and this wait is on the
        # way to "serving on Gunicorn". The health step after this one is the real check.
        pid = _wait_gunicorn(record, timeout=QUICK_START)
        if pid:
            return True, out + "\nGunicorn master %d (supervisor program %s)" % (pid, prog)
        # Supervisor says RUNNING only once the process has lived `startsecs` (3 s, as the
        # plugin writes it): a live master in STARTING is enough here.
        state = supervisor_programs.wait_state(prog, supervisor_programs.UP + ("FATAL", "BACKOFF", "EXITED"))
        if state not in supervisor_programs.UP:
            rc, out2 = supervisor_programs.supervisorctl("start", prog)
            out += out2
            state = supervisor_programs.program_state(prog)
        ok = state in supervisor_programs.UP and _wait_gunicorn(
            record, gave_up=lambda: supervisor_programs.program_state(prog) in ("FATAL", "EXITED")) is not None
        return ok, out + "\nsupervisor state: %s" % supervisor_programs.program_state(prog)
    if m == "systemd":
        unit = record["manager_detail"]
        rc, out = systemctl("start", unit)
        ok = rc == 0 and _wait_gunicorn(record, gave_up=lambda: unit_gave_up(unit)) is not None
        if not ok:
            # a unit that keeps failing is stopped here (no restart loop left behind); the
            # step's undo then removes it. What Gunicorn wrote to stderr (the journal) comes
            # last: it is the cause, and the end of this log is what the task's error shows
            out += _unit_log(unit)
            systemctl("stop", unit)
            return False, out + "\nunit state: %s\n%s" % (unit_state(unit),
                                                           logs.unit_output(unit))
        return ok, out + "\nunit state: %s" % unit_state(unit)
    argv = [record["gunicorn_bin"], "-c", record["gunicorn_conf"]]
    host.spawn(argv, record["project_path"], _run_env(record),
               os.path.join(record["log_dir"], "gunicorn_stdout.log"), as_user=run_user(record))
    ok = _wait_gunicorn(record) is not None
    return ok, " ".join(argv)


def stop(record):
    m = record["manager"]
    if m == "supervisor":
        rc, out = supervisor_programs.supervisorctl("stop", record["manager_detail"])
        return processes.wait_gone(gunicorn_pid(record)), out
    if m == "systemd":
        pid = gunicorn_pid(record)
        unit = record["manager_detail"]
        rc, out = systemctl("stop", unit)
        # a unit systemd does not know (its daemon-reload failed) has nothing to stop
        stopped = rc == 0 or unit_state(unit) in ("inactive", "failed")
        return stopped and processes.wait_gone(pid), out
    pid = gunicorn_pid(record)
    if not pid:
        return True, "not running"
    os.kill(pid, signal.SIGTERM)  # graceful: workers finish their requests
    return processes.wait_gone(pid, timeout=float(record.get("graceful_timeout") or 30) + 10), "SIGTERM %d" % pid


def restart(record):
    if record["manager"] == "systemd":
        # one job: systemd stops the unit (TERM to the master, which drains its workers)
        # and starts it again; the caller waits for the new master
        rc, out = systemctl("restart", record["manager_detail"])
        return rc == 0, out
    ok, log = stop(record)
    if not ok:
        return False, log
    ok2, log2 = start(record)
    return ok2, log + "\n" + log2


def remove(record):
    """Undo install(): stop and unregister (Supervisor: program file and metadata)."""
    ok, log = stop(record)
    if record["manager"] == "supervisor":
        path = supervisor_programs.program_file(record["manager_detail"])
        if os.path.exists(path):
            os.unlink(path)
        rc, out = supervisor_programs.supervisorctl("update")
        log += out
        _metadata_remove(record)
    if record["manager"] == "systemd":
        unit = record["manager_detail"]
        rc, out = systemctl("disable", unit)
        log += out
        # a unit that failed stays listed as failed (systemctl --failed) until reset
        systemctl("reset-failed", unit)
        path = unit_file(unit)
        if os.path.exists(path):
            os.unlink(path)
        rc2, out2 = systemctl("daemon-reload")
        log += out2
        if rc2 != 0:
            # the unit file is gone and the unit stopped: systemd forgets it at its next
            # daemon-reload (or boot); nothing runs that should not
            log += "\nsystemctl daemon-reload failed (exit %d): systemd still lists %s " \
                   "until its next reload" % (rc2, unit)
        ok = ok and (rc == 0 or not os.path.exists(path))
    return ok, log


def reload(record):
    """Reload Gunicorn the way its manager does: systemd through the unit's ExecReload (HUP
    to its MainPID, and systemd knows it was asked); the caller checks the effect."""
    if record["manager"] == "systemd":
        rc, out = systemctl("reload", record["manager_detail"])
        return rc == 0, out
    pid = gunicorn_pid(record)
    if not pid:
        return False, "not running"
    os.kill(pid, signal.SIGHUP)
    return True, "SIGHUP %d" % pid


def _metadata_add(record):
    supervisor_programs.metadata_add(record["manager_detail"], kept_command(record),
                 record["project_path"], run_user(record).name,
                 "Gunicorn: %s (gunicorn_switch)" % record["site"])


def _metadata_remove(record):
    supervisor_programs.metadata_remove(record["manager_detail"])


def detail_for(manager, site):
    """What a manager knows the site's Gunicorn by: a program, a unit, or the site."""
    if manager == "supervisor":
        return supervisor_programs.program_name(site)
    if manager == "systemd":
        return unit_name(site)
    return site


def registration_files(rec):
    """The files a manager registers Gunicorn with (backed up before, restored after)."""
    if rec["manager"] == "supervisor":
        return [supervisor_programs.program_file(rec["manager_detail"]), supervisor_programs.supervisor_metadata_file()]
    if rec["manager"] == "systemd":
        return [unit_file(rec["manager_detail"])]
    return []
