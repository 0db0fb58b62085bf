"""uWSGI's attached daemons (attach-daemon & co, a mule's script, smart daemons with their
pidfile) as programs of the process manager that runs Gunicorn: for Supervisor a program file
next to Gunicorn's; for systemd a unit per daemon, enabled for boot; otherwise (a plain daemon,
a panel project) a process the plugin starts detached, finds again by its name, and starts at
boot from the site's boot script (boot_apply).

Each runs its command through /bin/sh -c as the site's user, in uWSGI's working directory,
with the config's env=, as uWSGI ran it (uwsgi_jobs.py has what uWSGI does, from its source).
The command comes from the site's own config, which the site's user controls anyway: it never
runs as anyone else, and it is passed as an argument, never pasted into a script. Functions
take and return plain data ({manager, program, file, pid, ...}) kept in the switch's record.

A plain daemon dies with its manager's stop, as with uWSGI (its process group is signalled).
A smart daemon (a pidfile) is kept by WATCH: started only when its pidfile names no live
process, so the copy uWSGI started is adopted through the switch (and uWSGI adopts it back
after a rollback), and left running when the watcher stops, as uWSGI leaves it.
"""
import os
import shlex
import signal
import time

import psutil

from . import host, managers, safe_text, supervisor_programs

# $0 of every daemon's /bin/sh: "gunicorn_switch-daemon:<site>#<n>"; with the user and the
# working directory it finds a daemon that a boot script started (its pid is not recorded)
MARK = "gunicorn_switch-daemon"

# uWSGI restarts a daemon that dies; so does this loop (a second later, as uWSGI's throttle).
# A stop goes to the whole process group (remove): the loop just ends. $1 the command, $2 a
# log (opened by the loop, that is by the site's user), $3 a lock (LOCK).
LOOP = ('[ -n "$2" ] && exec </dev/null >>"$2" 2>&1; '
        'if [ -n "$3" ] && command -v flock >/dev/null; then exec 9>>"$3"; flock -n 9 || exit 0; fi; '
        'trap "exit 0" TERM INT QUIT HUP; '
        'while :; do /bin/sh -c "$1" 9>&- & wait $!; sleep 1; done')

# LOCK: what the plugin starts itself is started again by scripts that may run while it runs
# (a boot script's init.d form, the panel's start and restart buttons, which run the panel
# project's start script): a loop or watcher holds a lock in the site's runtime dir (flock,
# util-linux) as long as it lives, and a second one exits at once. The daemon itself does not
# inherit it (9>&-), so a smart daemon left running does not keep a new watcher out.

# A smart daemon's watcher, uWSGI's pidfile logic (core/daemons.c, see uwsgi_jobs.py): once a
# second, a pidfile that names a live process (kill -0) is adopted; a dead one that was seen
# alive is started again at once, one never seen alive after $3 (freq) checks. Mode "self":
# the command daemonizes and writes the pidfile (the watcher waits for its launcher to exit);
# "fg": it stays in the foreground and the pidfile gets its pid. Either way the daemon runs in
# a session of its own (setsid, as uWSGI's) and is not the watcher's child, so that stopping
# the watcher leaves it running; with notifypid ($5 a signal, "-" for none) the watcher sends
# it that signal on its group first. $1 pidfile, $2 command, $6 the log, $7 a lock (LOCK; "-"
# for none).
# Written for /bin/sh and for Supervisor's command= and systemd's ExecStart=, which quote it:
# no quote, no backslash, no ';' or '#' after a blank (an inline comment to Supervisor); so
# IFS is empty and globbing off, and unquoted expansions stay one word.
WATCH = (
    "IFS=;set -f;pf=$1;cmd=$2;freq=$3;mode=$4;sig=$5;log=$6;lk=$7;seen=0;n=0;"
    "exec </dev/null >>$log 2>&1;"
    "case $lk in -);;*)command -v flock >/dev/null&&{ exec 9>>$lk;flock -n 9||exit 0;};;esac;"
    "S=setsid;command -v setsid >/dev/null||S=;"
    # the pid as uWSGI's atoi reads it: blanks, digits; anything else is no pid
    "alive(){ p=;read -r p 2>/dev/null <$pf;q=${p%%[0-9]*};p=${p#$q};p=${p%%[!0-9]*};"
    "z=${p%%[!0]*};p=${p#$z};case $q in *[![:space:]]*)p=;;esac;"
    "case x$p in x)return 1;;esac;kill -0 $p 2>/dev/null;};"
    "launch(){ n=0;echo gunicorn_switch: starting $cmd;"
    "case $mode in fg)($S /bin/sh -c $cmd 9>&- & echo $! >$pf);;"
    "*)$S /bin/sh -c $cmd 9>&- & wait $!;;esac;};"
    "stop(){ case $sig in -);;*)alive&&kill -s $sig -- -$p 2>/dev/null;;esac;exit 0;};"
    "trap stop TERM INT QUIT HUP;"
    "alive||launch;"
    "while :;do sleep 1 & wait $!;"
    "if alive;then seen=1;n=0;"
    "elif [ $seen = 1 ];then seen=0;launch;"
    "else n=$((n+1));[ $n -lt $freq ]||launch;fi;done"
)
SIGNALS = {"TERM": signal.SIGTERM, "INT": signal.SIGINT, "QUIT": signal.SIGQUIT,
           "KILL": signal.SIGKILL, "HUP": signal.SIGHUP, "USR1": signal.SIGUSR1,
           "USR2": signal.SIGUSR2}
STOP_WAIT = 30.0


def program_name(site, n):
    return "%s_daemon%d" % (supervisor_programs.program_name(site), n)


def unit_name(site, n):
    return managers.unit_name(site)[:-len(".service")] + "-daemon%d.service" % n


def marker(site, n):
    return "%s:%s#%d" % (MARK, site, n)


def log_path(record, job):
    return os.path.join(record["log_dir"], "daemon%d.log" % job["n"])


def lock_path(record, job):
    return os.path.join(record["runtime_dir"], "daemon%d.lock" % job["n"])


def argv(job, site, log, lock=None):
    """The daemon's /bin/sh command line: the smart watcher or the plain command. ``log``:
    where the smart watcher writes; ``lock``: see LOCK."""
    smart = job.get("smart")
    if smart:
        return ["/bin/sh", "-c", WATCH, marker(site, job["n"]), smart["pidfile"], job["command"],
                "%d" % int(smart["freq"]), smart["mode"], smart.get("notify") or "-", log,
                lock or "-"]
    return ["/bin/sh", "-c", job["command"]]


def loop_argv(job, record):
    """What the plugin starts itself (no manager restarts a plain daemon): the loop, or
    the smart watcher, holding their lock."""
    log, lock = log_path(record, job), lock_path(record, job)
    if job.get("smart"):
        return argv(job, record["site"], log, lock)
    return ["/bin/sh", "-c", LOOP, marker(record["site"], job["n"]), job["command"], log, lock]


def _env(job, user):
    env = user.env(base={})
    env.update({k: v for k, v in job["env"]})
    return env


def supervisor_text(job, prog, user, site, log):
    safe_text.check_path(job["cwd"], "chdir")
    command = supervisor_programs.supervisor_value(
        " ".join(shlex.quote(a) for a in argv(job, site, log)), "command")
    env = [(k, supervisor_programs.supervisor_value(v, k)) for k, v in job["env"]]
    if job.get("smart"):
        # the watcher alone gets the stop; the daemon is left running, as uWSGI leaves it
        return supervisor_programs.program_section(prog, command, job["cwd"], user, env)
    text = supervisor_programs.program_section(prog, command, job["cwd"], user, env, group=True)
    return text.replace("stopsignal=TERM", "stopsignal=%s" % job["stopsignal"])


def unit_text(job, record, log):
    """The daemon's unit: Restart=always (uWSGI respawns it too), a second apart. A plain
    daemon's whole cgroup gets its stopsignal (uWSGI signals its process group); a smart
    daemon's watcher alone gets SIGTERM (KillMode=process), the daemon stays up."""
    who = managers.run_user(record)
    words = [safe_text.systemd_word(a, "daemon command") for a in argv(job, record["site"], log)]
    service = ["ExecStart=" + " ".join(words), "Restart=always", "RestartSec=1"]
    if job.get("smart"):
        service.append("KillMode=process")
    else:
        service += ["KillMode=control-group", "KillSignal=SIG%s" % job["stopsignal"],
                    "TimeoutStopSec=%d" % STOP_WAIT]
    return managers.service_text(
        "uWSGI daemon #%d of %s (gunicorn_switch)" % (job["n"], managers._unit_word(record["site"])),
        who, job["cwd"], job["env"], service)


def install(job, record, backup):
    """Register and start one daemon; returns its data. ``backup(path)`` before a file
    changes. Raises host.HostError when it does not come up."""
    user = managers.run_user(record)
    log = log_path(record, job)
    base = {"name": job["name"], "n": job["n"], "smart": bool(job.get("smart")), "log": log}
    if record["manager"] == "supervisor":
        prog = program_name(record["site"], job["n"])
        path = supervisor_programs.program_file(prog)
        backup(path)
        backup(supervisor_programs.supervisor_metadata_file())
        host.write_atomic(path, supervisor_text(job, prog, user, record["site"], log))
        supervisor_programs.metadata_add(prog, job["command"], job["cwd"], user.name,
                              "%s (gunicorn_switch)" % job["name"])
        d = dict(base, manager="supervisor", program=prog, file=path)
        supervisor_programs.supervisorctl("update", prog)
        state = supervisor_programs.wait_state(prog, supervisor_programs.UP + ("FATAL", "BACKOFF", "EXITED"))
        if state not in supervisor_programs.UP:
            raise host.HostError("%s: supervisor state %s" % (job["name"], state))
        return d
    if record["manager"] == "systemd":
        unit = unit_name(record["site"], job["n"])
        path = managers.unit_file(unit)
        backup(path)
        host.write_atomic(path, unit_text(job, record, log))
        d = dict(base, manager="systemd", unit=unit, file=path)
        for args in (("daemon-reload",), ("enable", unit), ("start", unit)):
            rc, out = managers.systemctl(*args)
            if rc != 0:
                raise host.HostError("%s: systemctl %s: %s" % (job["name"], " ".join(args), out.strip()[-300:]))
        return d
    pid = host.spawn(loop_argv(job, record), job["cwd"], _env(job, user), log, as_user=user)
    try:
        started = psutil.Process(pid).create_time()
    except psutil.Error:
        raise host.HostError("%s exited at once; see %s" % (job["name"], log))
    return dict(base, manager="spawn", pid=pid, started=started, uid=user.uid, cwd=job["cwd"],
                mark=marker(record["site"], job["n"]), stopsignal=job["stopsignal"], job=job)


def _ours(d):
    """The running loop or watcher: the recorded process if it is still the one started (same
    start time, same user), else one a boot script started (its name, user and directory)."""
    try:
        p = psutil.Process(d["pid"])
        if abs(p.create_time() - d["started"]) < 0.01 and p.uids().real == d["uid"]:
            return p
    except (psutil.Error, KeyError, TypeError):
        pass
    if not d.get("mark"):
        return None
    for p in psutil.process_iter(["cmdline", "uids", "cwd"]):
        cmd = p.info.get("cmdline") or []
        uids = p.info.get("uids")
        if len(cmd) > 3 and cmd[:2] == ["/bin/sh", "-c"] and cmd[3] == d["mark"] and \
                uids is not None and uids.real == d["uid"] and p.info.get("cwd") == d.get("cwd"):
            return p
    return None


def running(d):
    if d["manager"] == "supervisor":
        return supervisor_programs.program_state(d["program"]) in supervisor_programs.UP
    if d["manager"] == "systemd":
        return managers.unit_state(d["unit"]) == "active"
    return _ours(d) is not None


def remove(d, restore):
    """Stop and unregister one daemon; ``restore(path)`` puts a backed-up file back."""
    if d["manager"] == "supervisor":
        supervisor_programs.supervisorctl("stop", d["program"])
        restore(d["file"])
        supervisor_programs.supervisorctl("update")
        restore(supervisor_programs.supervisor_metadata_file())
        return
    if d["manager"] == "systemd":
        managers.systemctl("disable", "--now", d["unit"])
        managers.systemctl("reset-failed", d["unit"])
        restore(d["file"])
        managers.systemctl("daemon-reload")
        return
    p = _ours(d)
    if p is None:
        return
    if d.get("smart"):
        _signal(p, signal.SIGTERM, group=False)  # the watcher alone: the daemon is left running
    else:
        _signal(p, SIGNALS.get(d.get("stopsignal"), signal.SIGTERM))
    end = time.monotonic() + STOP_WAIT
    while time.monotonic() < end and _alive(p):
        time.sleep(0.2)
    if _alive(p):
        _signal(p, signal.SIGKILL, group=not d.get("smart"))


def _signal(p, sig, group=True):
    """``sig`` to the loop ``p`` and, with ``group``, to the daemon it runs: its process group
    when the loop leads one (install() starts it in a session of its own), else the loop's
    descendants (a boot script's loop is in the group of whoever ran the script)."""
    try:
        if group and os.getpgid(p.pid) == p.pid:
            os.killpg(p.pid, sig)
            return
        targets = [p] + (p.children(recursive=True) if group else [])
    except (OSError, psutil.Error):
        return
    for t in targets:
        try:
            t.send_signal(sig)
        except psutil.Error:
            pass


def _alive(p):
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def boot_lines(record):
    """bash lines of the site's boot script (boot_apply.script_text) and of a panel project's
    start script (panel_project.gunicorn_script) that start the daemons the plugin itself runs
    (manager spawn), each as the site's user with the environment and in the directory
    install() gave it, once (LOCK); ``drop`` is set by panel_project.drop_lines, the runtime
    dir made before. Every value is quoted; the log is opened by the loop, as the site's user.
    They come last: each sets $!."""
    out = []
    for d in record.get("daemons") or []:
        if d.get("manager") != "spawn" or not d.get("job"):
            continue
        job = d["job"]
        user = managers.run_user(record)
        env = ["env", "-i"] + [shlex.quote("%s=%s" % tuple(kv)) for kv in sorted(_env(job, user).items())]
        words = [shlex.quote(a) for a in loop_argv(job, record)]
        # a subshell that becomes the loop (exec: no shell of root's left waiting on it),
        # its output away (cron or the panel would wait for the script's otherwise)
        out.append("(cd %s && exec nohup \"${drop[@]}\" %s) </dev/null >/dev/null 2>&1 &" % (
            safe_text.sh(job["cwd"], "daemon cwd"), " ".join(env + words)))
    return out


def describe(d):
    if d["manager"] == "supervisor":
        return "Supervisor program %s" % d["program"]
    if d["manager"] == "systemd":
        return "systemd unit %s (enabled)" % d["unit"]
    return "pid %d (log %s)" % (d["pid"], d["log"])
