"""The site's uWSGI as it ran before the switch: stop it for good the way it is run (so that
its manager does not bring it back), and bring it back on rollback as the user its master ran
as. ``u`` is the record's uWSGI part: {manager, detail, pid, cmdline, cwd, environ, ...}."""
import os
import signal
import time

import psutil

from . import host, managers, panel_project, processes, safe_files, supervisor_programs


def stop_uwsgi(u):
    """Stop uWSGI for good, the way it is run. ``u``: {manager, detail, pid, ...}.
    Returns (ok, log)."""
    m = u["manager"]
    if m == "supervisor":
        prog = u["detail"]
        rc, out = supervisor_programs.supervisorctl("stop", prog)
        path = u.get("program_file")
        if path and os.path.exists(path):
            host.write_atomic(path, supervisor_programs.set_autostart(host.read_text(path), False))
            rc2, out2 = supervisor_programs.supervisorctl("update", prog)
            out += out2
        ok = processes.wait_gone(u["pid"])
        state = supervisor_programs.program_state(prog)
        return ok and state in (None, "STOPPED", "EXITED"), out + "\nstate: %s" % state
    if m == "systemd" and u.get("detail"):
        unit = u["detail"]
        rc, out = managers.systemctl("disable", unit)
        # The stop job first (while it runs, Restart=always does not bring uWSGI back), then
        # SIGINT, uWSGI's "stop now", whatever KillSignal= the unit has: with the tutorials'
        # SIGQUIT a uWSGI here was still up when `systemctl stop` gave up after 90 s.
        rc2, out2 = managers.systemctl("stop", "--no-block", unit)
        managers.systemctl("kill", "--signal=SIGINT", unit)
        ok = rc == 0 and rc2 == 0 and processes.wait_gone(u["pid"])
        end = time.monotonic() + processes.STOP_WAIT
        while ok and managers.unit_state(unit) not in ("inactive", "failed") and time.monotonic() < end:
            time.sleep(0.2)
        state = managers.unit_state(unit)
        return ok and state in ("inactive", "failed"), out + out2 + "\nunit state: %s" % state
    if m == "emperor" and u.get("config") and os.path.exists(u["config"]):
        # The Emperor respawns a vassal that dies and stops one whose file goes away: so the
        # file goes (the caller has backed it up; rollback puts it back and the Emperor
        # starts the vassal again).
        os.unlink(u["config"])
        return processes.wait_gone(u["pid"], timeout=processes.STOP_WAIT + 30), "removed vassal %s" % u["config"]
    # A plain daemon, a panel project's uWSGI: SIGINT to the master (nginx no longer sends it
    # anything, and the drain before this waited for the requests it had).
    try:
        os.kill(u["pid"], signal.SIGINT)
    except ProcessLookupError:
        return True, "already gone"
    return processes.wait_gone(u["pid"]), "SIGINT %d" % u["pid"]


def start_uwsgi(u):
    """Bring uWSGI back as it ran (rollback). Returns (ok, log)."""
    m = u["manager"]
    if m == "supervisor":
        prog = u["detail"]
        rc, out = supervisor_programs.supervisorctl("update", prog)
        state = supervisor_programs.wait_state(prog, ("RUNNING", "FATAL", "BACKOFF", "EXITED", "STOPPED"))
        if state != "RUNNING":
            rc, out2 = supervisor_programs.supervisorctl("start", prog)
            out += out2
            state = supervisor_programs.program_state(prog)
        return state == "RUNNING", out + "\nstate: %s" % state
    if m == "panel_project" and u.get("start_script") and os.path.exists(u["start_script"]) \
            and respawn_user(u) is None and safe_files.root_only(u["start_script"]):
        # the panel's own script, run as the panel runs it for stype uwsgi: as root. Only
        # when the master ran as root from a root-only binary and the script is still
        # root's (the panel chowns it to the run user when it starts the project itself)
        rc, out = host.run(["bash", u["start_script"]], timeout=60)
        return rc == 0, out
    if m == "systemd" and u.get("detail"):
        rc, out = managers.systemctl("enable", "--now", u["detail"])
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
        pid_path = panel_project.pid_file(u["detail"])
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
