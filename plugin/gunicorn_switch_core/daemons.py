"""uWSGI's attached daemons (attach-daemon & co, a mule's script) as programs of the process
manager that runs Gunicorn: for Supervisor a program file next to Gunicorn's; otherwise (a
plain daemon, a panel project) a process the plugin starts detached and records.

Each runs its command through /bin/sh -c as the site's user, in uWSGI's working directory,
with the config's env=, as uWSGI ran it. The command comes from the site's own config, which
the site's user controls anyway: it never runs as anyone else. Functions take and return plain
data ({manager, program, file, pid, ...}) kept in the switch's record.
"""
import os
import shlex
import signal
import time

import psutil

from . import host, managers, safe_text, supervisor_programs

# uWSGI restarts a daemon that dies; so does this loop (a second later, as uWSGI's throttle).
# A stop goes to the whole process group (remove): the loop just ends.
LOOP = 'trap "exit 0" TERM INT QUIT HUP; while :; do /bin/sh -c "$1" & wait $!; sleep 1; done'
SIGNALS = {"TERM": signal.SIGTERM, "INT": signal.SIGINT, "QUIT": signal.SIGQUIT,
           "KILL": signal.SIGKILL, "HUP": signal.SIGHUP}
STOP_WAIT = 30.0


def program_name(site, n):
    return "%s_daemon%d" % (supervisor_programs.program_name(site), n)


def _env(job, user):
    env = user.env(base={})
    env.update({k: v for k, v in job["env"]})
    return env


def supervisor_text(job, prog, user):
    safe_text.check_path(job["cwd"], "chdir")
    command = supervisor_programs.supervisor_value("/bin/sh -c " + shlex.quote(job["command"]), "command")
    env = [(k, supervisor_programs.supervisor_value(v, k)) for k, v in job["env"]]
    text = supervisor_programs.program_section(prog, command, job["cwd"], user, env, group=True)
    return text.replace("stopsignal=TERM", "stopsignal=%s" % job["stopsignal"])


def install(job, record, backup):
    """Register and start one daemon; returns its data. ``backup(path)`` before a file
    changes. Raises host.HostError when it does not come up."""
    user = managers.run_user(record)
    if record["manager"] == "supervisor":
        prog = program_name(record["site"], job["n"])
        path = supervisor_programs.program_file(prog)
        backup(path)
        backup(supervisor_programs.supervisor_metadata_file())
        host.write_atomic(path, supervisor_text(job, prog, user))
        supervisor_programs.metadata_add(prog, job["command"], job["cwd"], user.name,
                              "%s (gunicorn_switch)" % job["name"])
        d = {"manager": "supervisor", "program": prog, "file": path, "name": job["name"]}
        supervisor_programs.supervisorctl("update", prog)
        state = supervisor_programs.wait_state(prog, supervisor_programs.UP + ("FATAL", "BACKOFF", "EXITED"))
        if state not in supervisor_programs.UP:
            raise host.HostError("%s: supervisor state %s" % (job["name"], state))
        return d
    log = os.path.join(record["log_dir"], "daemon%d.log" % job["n"])
    argv = ["/bin/sh", "-c", LOOP, "gunicorn_switch-daemon", job["command"]]
    pid = host.spawn(argv, job["cwd"], _env(job, user), log, as_user=user)
    try:
        started = psutil.Process(pid).create_time()
    except psutil.Error:
        raise host.HostError("%s exited at once; see %s" % (job["name"], log))
    return {"manager": "spawn", "pid": pid, "started": started, "uid": user.uid,
            "name": job["name"], "log": log, "stopsignal": job["stopsignal"]}


def _ours(d):
    """The recorded process if it is still the one started (same start time, same user)."""
    try:
        p = psutil.Process(d["pid"])
        if abs(p.create_time() - d["started"]) < 0.01 and p.uids().real == d["uid"]:
            return p
    except (psutil.Error, KeyError, TypeError):
        pass
    return None


def running(d):
    if d["manager"] == "supervisor":
        return supervisor_programs.program_state(d["program"]) in supervisor_programs.UP
    return _ours(d) is not None


def remove(d, restore):
    """Stop and unregister one daemon; ``restore(path)`` puts a backed-up file back."""
    if d["manager"] == "supervisor":
        supervisor_programs.supervisorctl("stop", d["program"])
        restore(d["file"])
        supervisor_programs.supervisorctl("update")
        restore(supervisor_programs.supervisor_metadata_file())
        return
    p = _ours(d)
    if p is None:
        return
    # the loop was started in a session of its own: its group is its pid
    try:
        os.killpg(p.pid, SIGNALS.get(d.get("stopsignal"), signal.SIGTERM))
    except OSError:
        return
    end = time.monotonic() + STOP_WAIT
    while time.monotonic() < end and _ours(d) is not None:
        time.sleep(0.2)
    if _ours(d) is not None:
        os.killpg(p.pid, signal.SIGKILL)


def describe(d):
    if d["manager"] == "supervisor":
        return "Supervisor program %s" % d["program"]
    return "pid %d (log %s)" % (d["pid"], d["log"])

