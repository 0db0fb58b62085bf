"""The status page's actions on a site's Gunicorn: reload, add/remove a worker, restart,
stop, start.

Reload and the worker count are signals to the master (HUP, TTIN, TTOU; docs/ARCHITECTURE.md, facts: Gunicorn signals). A HUP
and every restart set the count back to the conf's ``workers``, so add/remove also rewrite
that one line of gunicorn_conf.py (after a backup) or the change would be lost at the next
reload. Restart/stop/start go through the process manager that runs the site (managers).
Each action waits, bounded, until its effect is visible, and says what it saw.
"""
import os
import re
import signal
import time

import psutil

from . import backups, boot_apply, host, i18n, panel_project, processes, records, safe_files, status

OPS = ("reload", "add_worker", "remove_worker", "restart", "stop", "start", "enable_boot")
WAIT = 20.0  # seconds an action waits to see its effect; the page shows the rest
POLL = 0.2
# A top-level ``workers = N`` with an optional trailing comment (the render writes it so).
_WORKERS_LINE = re.compile(r"^workers[ \t]*=[ \t]*(\d+)[ \t]*(#[^\n]*)?$", re.M)
_OUR_NOTE = "# set by the status page"


class ControlError(Exception):
    """An action that cannot be done; the message is for the page."""


# -- pure parts ------------------------------------------------------------------------

def conf_workers(text):
    """The ``workers`` value of a gunicorn_conf.py text, or None without exactly one line."""
    found = _WORKERS_LINE.findall(text)
    return int(found[0][0]) if len(found) == 1 else None


def set_conf_workers(text, n, note):
    """``text`` with its one ``workers = N`` line set to ``n``; nothing else changes. The
    line keeps a comment of its owner's; ours says why the value differs from the origin
    comment above it."""
    matches = list(_WORKERS_LINE.finditer(text))
    if len(matches) != 1:
        raise ValueError("expected one 'workers = N' line, found %d" % len(matches))
    m = matches[0]
    comment = m.group(2)
    if not comment or comment.startswith(_OUR_NOTE):
        comment = "%s: %s" % (_OUR_NOTE, note)
    return text[:m.start()] + "workers = %d  %s" % (n, comment) + text[m.end():]


# -- helpers -------------------------------------------------------------------------------

def _master(rec):
    return processes.gunicorn_master(processes.read_pidfile(rec.get("pidfile")), processes.record_uids(rec))


def _workers(master_pid, site=None):
    return sorted(processes.worker_pids(master_pid, site))


def _wait(check, timeout=WAIT):
    """Poll ``check()`` until it returns a true value or ``timeout`` passes; its last value."""
    end = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() >= end:
            return value
        time.sleep(POLL)


def _signal(pid, sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        raise ControlError(i18n.t("not_running", name=pid)) from None


def rewrite_conf(site, conf, data, new_text):
    """Write ``new_text`` over the conf whose bytes were ``data``, after a backup; returns
    (backup path, a function that puts ``data`` back)."""
    backup = backups.keep_edit(site, data)
    st = safe_files.lstat(conf)
    # the conf stays its owner's (the site's user): written by descriptor, never through a link
    mode, owner = st.st_mode & 0o777, (st.st_uid, st.st_gid)
    host.write_atomic(conf, new_text, mode=mode, owner=owner, make_dirs=False)
    return backup, lambda: host.write_atomic(conf, data, mode=mode, owner=owner,
                                             make_dirs=False)


# -- actions ---------------------------------------------------------------------------------

def reload(site, master_pid, rec=None):
    """HUP: new workers with the conf re-read, old ones stopped gracefully. A systemd site
    is reloaded through its unit (ExecReload sends the HUP to the unit's MainPID), so that
    systemd's own view of the service stays right."""
    old = set(_workers(master_pid, site))
    started = time.monotonic()
    if rec is not None and rec.get("manager") in THROUGH_MANAGER_RELOAD:
        _reload_through_manager(rec, master_pid)
    else:
        _signal(master_pid, signal.SIGHUP)

    def replaced():
        now = set(_workers(master_pid, site))
        return now if now and not (now & old) else None

    new = _wait(replaced)
    return {"op": "reload", "master": master_pid, "old_workers": sorted(old),
            "new_workers": sorted(new or _workers(master_pid, site)), "done": bool(new),
            "waited": round(time.monotonic() - started, 2)}


# Managers whose reload goes through the manager (managers.reload), not a signal of ours.
THROUGH_MANAGER_RELOAD = ("systemd",)


def _reload_through_manager(rec, master_pid):
    from . import managers
    # the unit's MainPID must be the master the pidfile names, or its keeper (which passes the
    # HUP on to its child master), or the HUP would go elsewhere
    unit_pid = managers.main_pid(rec["manager_detail"])
    if unit_pid != master_pid and not (processes.kept(master_pid) and
                                       processes.parent_pid(master_pid) == unit_pid):
        raise ControlError(i18n.t("unit_not_master", unit=rec["manager_detail"],
                                  pid=unit_pid, master=master_pid))
    ok, log = managers.reload(rec)
    if not ok:
        raise ControlError(log.strip()[-500:] or "reload")


def scale(site, rec, master_pid, delta):
    """TTIN/TTOU, and the conf's ``workers`` set to match, so that a reload keeps it."""
    conf = rec.get("gunicorn_conf")
    try:
        data = host.read_bytes(conf)
    except (OSError, TypeError, host.HostError):
        raise ControlError(i18n.t("no_conf_workers", path=conf)) from None
    text = data.decode("utf-8")
    before = conf_workers(text)
    if before is None:
        raise ControlError(i18n.t("no_conf_workers", path=conf))
    live = _workers(master_pid, site)
    after = before + delta
    if after < 1 or (delta < 0 and len(live) <= 1):
        raise ControlError(i18n.t("min_workers"))
    op = "add_worker" if delta > 0 else "remove_worker"
    new_text = set_conf_workers(text, after, "%s on %s, was %d" % (
        op, time.strftime("%Y-%m-%d %H:%M"), before))
    backup, undo = rewrite_conf(site, conf, data, new_text)
    try:
        _signal(master_pid, signal.SIGTTIN if delta > 0 else signal.SIGTTOU)
    except ControlError:
        undo()
        raise
    old = set(live)
    # Gunicorn stops the oldest worker on TTOU and spawns one on TTIN; the count settles at
    # the new target unless other workers are being replaced at the same moment.

    def settled():
        w = _workers(master_pid, site)
        return w if len(w) == after else None

    now = _wait(settled) or _workers(master_pid, site)
    return {"op": op, "master": master_pid, "conf": conf, "backup": backup,
            "conf_workers": {"before": before, "after": after},
            "workers_before": sorted(old), "workers_after": sorted(now),
            "added": sorted(set(now) - old), "removed": sorted(old - set(now)),
            "done": len(now) == after}


# Restart without a refused connection where the manager follows the pidfile (the plain
# daemon, the panel's project manager) or where Supervisor runs the keeper (keeper.py):
# Gunicorn's documented upgrade. USR2 makes the master exec a new master (same command, conf
# and code read afresh) that inherits the listening sockets and writes <pidfile>.2; once its
# workers are up, TERM drains the old master, and the new one, orphaned (to init, or to the
# keeper, a child subreaper), renames its pidfile to <pidfile>. The listening socket is never
# closed, so nginx never meets a refused connect: stop-then-start closes it for the whole
# boot of the new master (the 502s the bench saw). Supervisor and systemd watch the pid they
# started: when a master they run directly exits after a USR2, Supervisor restarts a master
# that cannot bind (the orphan holds the port) and systemd kills the unit's cgroup, new
# master included. So they run the keeper (the same child subreaper under both); a program or
# unit of an older release that runs Gunicorn directly is restarted by the manager, and the
# page says that restart is not lossless (status.restart_by_usr2).
REEXEC_MANAGERS = status.RESTART_BY_USR2


def reexec(site, rec, old, target):
    """USR2 to the verified master ``old``, then TERM to it once the new master it execs
    has ``target`` workers. If the new master does not come up, the old one keeps serving."""
    uids = processes.record_uids(rec)
    pidfile = rec.get("pidfile")
    started = time.monotonic()
    _signal(old["pid"], signal.SIGUSR2)

    def new_master():
        for path in (pidfile + ".2", pidfile):
            m = processes.gunicorn_master(processes.read_pidfile(path), uids)
            # the pidfiles are the site user's to write: only a child of the master root
            # signalled is the one it execed
            try:
                if m and m["pid"] != old["pid"] and m["proc"].ppid() == old["pid"]:
                    return m if len(_workers(m["pid"], site)) >= target else None
            except psutil.Error:
                continue
        return None

    new = _wait(new_master)
    if new is None:
        return {"op": "restart", "method": "USR2", "master_before": old["pid"],
                "master_after": old["pid"], "workers": _workers(old["pid"], site),
                "done": False, "log": "the new master did not start %d workers in %.0f s: the "
                "old one still serves (see the error log)" % (target, WAIT)}
    _signal(old["pid"], signal.SIGTERM)

    def promoted():
        return processes.read_pidfile(pidfile) == new["pid"] and \
            processes.gunicorn_master(old["pid"], uids) is None
    # the old master drains its workers for up to graceful_timeout before it exits
    done = _wait(promoted, timeout=WAIT + float(rec.get("graceful_timeout") or 30))
    if done and rec.get("manager") == "panel_project":
        # the panel's project daemon starts a project whose pid file names no live process:
        # it must name the new master, as the switch made it name the first one
        panel_project.write_pid(site, new["pid"])
    return {"op": "restart", "method": "USR2", "master_before": old["pid"],
            "master_after": new["pid"], "workers": _workers(new["pid"], site),
            "done": bool(done), "waited": round(time.monotonic() - started, 2),
            "log": "USR2 %d, new master %d, TERM %d" % (old["pid"], new["pid"], old["pid"])}


def through_manager(site, rec, op):
    """restart/stop/start through the process manager the site runs under."""
    try:
        from . import managers
    except ImportError:
        raise ControlError(i18n.t("no_managers")) from None
    before = _master(rec)
    try:
        target = conf_workers(host.read_text(rec.get("gunicorn_conf"))) or 1
    except (OSError, TypeError, host.HostError):
        target = 1
    if op == "restart" and before and rec.get("pidfile") and status.restart_by_usr2(rec, before["pid"]):
        return reexec(site, rec, before, target)
    ok, log = getattr(managers, op)(rec)
    if not ok:
        raise ControlError(log or op)
    if op == "stop":
        gone = _wait(lambda: _master(rec) is None)
        return {"op": op, "log": log, "master_before": before and before["pid"],
                "master_after": None, "workers": [], "done": bool(gone)}

    def up():
        m = _master(rec)
        if m is None or (op == "restart" and before and m["pid"] == before["pid"]
                         and m["started"] == before["started"]):
            return None
        w = _workers(m["pid"], site)
        return (m, w) if len(w) >= target else None

    got = _wait(up)
    m = got[0] if got else _master(rec)
    return {"op": op, "log": log, "master_before": before and before["pid"],
            "master_after": m and m["pid"], "workers": got[1] if got else [],
            "done": bool(got)}


def control(site, op, info=None):
    """Do ``op`` on ``site``'s Gunicorn and return what was seen. ``info`` is the discovery
    entry of a site the plugin did not switch: such a site can only be reloaded."""
    if op not in OPS:
        raise ControlError(i18n.t("bad_op", name=op))
    rec = records.load(site)
    if rec is None:
        if op != "reload" or not info or info.get("server") != "gunicorn":
            raise ControlError(i18n.t("not_managed", name=site))
        master = processes.gunicorn_master(info.get("pid"))
        if master is None:
            raise ControlError(i18n.t("not_running", name=site))
        return reload(site, master["pid"])
    if op == "enable_boot":
        changed, log = boot_apply.enable(rec)
        if changed:
            records.save(rec)
        return {"op": op, "done": bool((rec.get("boot") or {}).get("persistent")), "log": log}
    if op in ("restart", "stop", "start"):
        return through_manager(site, rec, op)
    master = _master(rec)
    if master is None:
        raise ControlError(i18n.t("not_running", name=site))
    if op == "reload":
        return reload(site, master["pid"], rec)
    return scale(site, rec, master["pid"], 1 if op == "add_worker" else -1)
