"""The switch and the rollback, as journaled steps with an undo each (see tasks.Runner).

Switch: install → write_conf → start → health → daemons → swap_nginx (commit point) →
stop_uwsgi → crons → record. Before the commit point uWSGI serves the site untouched and any failure undoes
everything, byte for byte; after it Gunicorn serves and a failure says what is left to do.
Rollback: start_uwsgi → restore_nginx (commit point) → remove_carried → stop_gunicorn →
forget.
"""
import json
import os
import socket
import subprocess
import time

import psutil

from . import (backups, boot_apply, daemons, health, host, managers, nginx_stage, panel_cron, paths, panel_db,
               records, safe_files, safe_text, tasks)
from .plan import COMMIT_STEP, STEPS as SWITCH_STEPS

ROLLBACK_STEPS = (
    ("start_uwsgi", "按原方式启动 uWSGI 并检查", "Start uWSGI the way it ran, and check it"),
    ("restore_nginx", "恢复 nginx 配置（逐字节）并平滑重载", "Restore nginx byte for byte, reload"),
    ("remove_carried", "移除接管的计划任务和守护进程", "Remove the carried-over crons and daemons"),
    ("restore_boot", "恢复 uWSGI 的开机自启（逐字节）", "Restore uWSGI's start at boot byte for byte"),
    ("stop_gunicorn", "排空并停止 Gunicorn，移除进程守护", "Drain and stop Gunicorn, unregister it"),
    ("forget", "清理切换记录", "Forget the switch"),
)
PIP_TIMEOUT = 900
HEALTH_DEADLINE = 30.0


def nginx_bin():
    return paths.host(paths.NGINX_BIN)


def nginx_conf():
    return paths.host(paths.NGINX_CONF)


def nginx_reload(r):
    """`nginx -t` on the live files, then a graceful reload; returns the pids of the workers
    that were serving before it (the ones to drain)."""
    rc, out = host.run([nginx_bin(), "-t", "-c", nginx_conf()], timeout=60)
    r.log(out.strip())
    if rc != 0:
        raise tasks.StepError("nginx -t failed: %s" % out.strip()[-500:])
    old = managers.nginx_workers()
    rc, out = host.run([nginx_bin(), "-s", "reload", "-c", nginx_conf()], timeout=60)
    if rc != 0:
        raise tasks.StepError("nginx reload failed: %s" % out.strip()[-500:])
    r.log("nginx reloaded")
    return old


def _record(plan, task_id):
    """The Gunicorn side of the record, from the plan."""
    s = plan["settings"]
    site = plan["site"]
    return {
        "site": site, "task_id": task_id, "switched_at": None,
        "gunicorn_conf": plan["gunicorn_conf_path"], "gunicorn_bin": os.path.join(plan["venv"], "bin", "gunicorn"),
        "pidfile": s.get("pidfile"), "runtime_dir": plan["runtime_dir"], "stats_dir": plan["stats_dir"],
        "control_socket": s.get("control_socket"), "error_log": s.get("errorlog"),
        "access_log": s.get("accesslog"), "log_dir": plan["log_dir"], "bind": plan["bind"],
        "venv": plan["venv"], "project_path": plan["project_path"],
        "gunicorn_version": plan["gunicorn_version"], "graceful_timeout": s.get("graceful_timeout"),
        "manager": plan["manager"],
        "manager_detail": _manager_detail(plan["manager"], site),
        "workers": s.get("workers"), "domain": plan["domain"], "nginx_addr": plan["nginx_addr"],
        "baseline_status": plan["baseline_status"], "user": plan["user"],
        "backlog": s.get("backlog"),
    }


def _manager_detail(manager, site):
    if manager == "supervisor":
        return managers.program_name(site)
    if manager == "systemd":
        return managers.unit_name(site)
    return site


def _manager_files(rec):
    """The files a Gunicorn manager registers it with (backed up before, restored after)."""
    if rec["manager"] == "supervisor":
        return [managers.program_file(rec["manager_detail"]), managers.supervisor_metadata_file()]
    if rec["manager"] == "systemd":
        return [managers.unit_file(rec["manager_detail"])]
    return []


def _uwsgi_info(plan):
    u = {"manager": plan["uwsgi_manager"], "detail": plan["uwsgi_manager_detail"],
         "pid": plan["uwsgi_pid"], "cmdline": plan["uwsgi_cmdline"], "cwd": plan["uwsgi_cwd"],
         "environ": plan.get("uwsgi_environ") or {}, "log_dir": plan["log_dir"],
         "config": plan["uwsgi_config"], "program_file": None, "start_script": None,
         "uid": plan.get("uwsgi_uid"), "exe": plan.get("uwsgi_exe"), "site_user": plan["user"],
         "logs": plan.get("uwsgi_logs") or []}
    if u["manager"] == "supervisor" and u["detail"]:
        u["program_file"] = managers.program_file(u["detail"])
    if u["manager"] == "panel_project":
        u["start_script"] = panel_db.start_script(plan["site"], "uwsgi")
    return u


def _backup(r, path):
    entry = backups.backup(r.task["site"], r.task["id"], path)
    kept = r.data.setdefault("backups", [])
    if all(e["path"] != path for e in kept):
        kept.append(entry)
    return entry


def _entries(r):
    """The task's backup entries: the journal's, completed from the manifest on disk (a
    runner killed in the middle of a step saved the backups, not yet the journal: without
    them the undo of swap_nginx left nginx pointing at a Gunicorn the undo then stopped)."""
    out = {e["path"]: e for e in r.data.get("backups", [])}
    for e in backups.entries(r.task["site"], r.task["id"]):
        out.setdefault(e["path"], e)
    return list(out.values())


def _restore_group(r, paths_):
    for e in _entries(r):
        if e["path"] in paths_ and backups.restore(e):
            r.log("restored %s" % e["path"])


# ---- switch steps ----------------------------------------------------------------------------

def install_do(r):
    p = r.payload
    if p["gunicorn_installed"]:
        r.log("Gunicorn %s is already in %s" % (p["gunicorn_installed"], p["venv"]))
        return "skipped"
    worker_class = str(p["settings"].get("worker_class") or "")
    # gevent workers need the extra's dependencies (Gunicorn 27 imports `packaging` for them)
    extra = "[gevent]" if worker_class.startswith("gevent") else ""
    pkgs = ["gunicorn%s==%s" % (extra, p["gunicorn_version"]), "setproctitle"]
    if "uvicorn" in worker_class:
        pkgs.append("uvicorn-worker")
    # pip runs as the venv's owner: the site's user for its own venv; root only for a venv
    # that only root can change (plan.pip_user checked it), and then isolated (-I: no
    # PYTHON* variables, no user site, no current directory on sys.path)
    pip_user = p.get("pip_user") or p["user"]
    who = host.User(pip_user) if pip_user != "root" else None
    argv = [os.path.join(p["venv"], "bin", "python")] + ([] if who else ["-I"]) + [
        "-m", "pip", "install", "--disable-pip-version-check", "--no-input"] + pkgs
    r.log("$ " + " ".join(argv) + "   (as %s)" % (who.name if who else "root"))
    env = (who or host.User("root")).env(extra_path=os.path.join(p["venv"], "bin"))
    env.update(VIRTUAL_ENV=p["venv"], PIP_NO_INPUT="1")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                            stdin=subprocess.DEVNULL, cwd=p["venv"],
                            preexec_fn=who.drop() if who else None)
    deadline = time.monotonic() + PIP_TIMEOUT
    for line in iter(proc.stdout.readline, b""):
        r.log(line.decode("utf-8", "replace"))
        if time.monotonic() > deadline:
            proc.kill()
            break
    rc = proc.wait()
    if rc != 0:
        raise tasks.StepError("pip could not install %s (exit %d); see the log above" % (" ".join(pkgs), rc))


def install_undo(r):
    r.log("Gunicorn stays installed in the venv (harmless, and faster next time)")


def write_conf_do(r):
    p = r.payload
    path = p["gunicorn_conf_path"]
    user = host.User(p["user"])
    try:
        if _backup(r, path)["kind"] == "symlink":
            raise tasks.StepError("%s is a symlink: the plugin does not write through or over "
                                  "links in the project; remove it and switch again" % path)
        # the conf is the site user's file, in the site user's directory (written by
        # descriptor, never through a link planted there)
        host.write_atomic(path, p["gunicorn_conf"], mode=0o644, owner=user.owner,
                          make_dirs=False)
        r.log("wrote %s" % path)
        prepare_dirs(p, user)
    except (OSError, host.HostError) as e:
        raise tasks.StepError("cannot write %s: %s" % (path, e))
    argv = [os.path.join(p["venv"], "bin", "gunicorn"), "--check-config", "-c", path]
    r.log("$ " + " ".join(argv) + "   (as %s)" % user.name)
    env = user.env(extra_path=os.path.join(p["venv"], "bin"))
    rc, text = host.run(argv, cwd=p["project_path"], timeout=120, as_user=user, env=env)
    r.log(text)
    if rc == 124:
        raise tasks.StepError("gunicorn --check-config did not finish in 120 s")
    if rc != 0:
        raise tasks.StepError("gunicorn --check-config failed: %s" % text.strip()[-800:])


def prepare_dirs(p, user):
    """The site's log dir and runtime dir, owned by the user Gunicorn runs as. The runtime
    dir (pidfile, sockets, stats) sits in root's /run/gunicorn_switch so that the site's
    user cannot swap it; it is traversable only where nginx must reach a unix socket in it."""
    safe_files.makedirs(p["log_dir"], mode=0o755, owner=user.owner)
    # Logs a Gunicorn left there as root (a site switched before the master ran as the
    # site's user) would keep this one from starting: the plugin's own log files, in the
    # plugin's own log dir, are handed over by descriptor.
    for key in ("errorlog", "accesslog"):
        path = (p.get("settings") or {}).get(key)
        if isinstance(path, str) and os.path.dirname(path) == p["log_dir"].rstrip("/"):
            safe_files.give_to(path, user.owner)
    safe_files.makedirs(os.path.dirname(p["runtime_dir"]), mode=0o755)
    unix = p["bind"].startswith("unix:")
    safe_files.makedirs(p["runtime_dir"], mode=0o711 if unix else 0o700, owner=user.owner)


def write_conf_undo(r):
    _restore_group(r, [r.payload["gunicorn_conf_path"]])


def _tcp_port(bind):
    if bind.startswith("unix:"):
        return None
    host_, _, port = bind.rpartition(":")
    return host_.strip("[]") or "127.0.0.1", int(port)


def port_holder(bind):
    """Who holds a TCP bind's port now: "pid N (name)", "another program", or None when the
    port is free (or the bind is a unix socket). The plan chose a free port, but something
    may have taken it since; Gunicorn would then retry for seconds, write its pidfile all the
    same, and the switch would only fail at the health check, for no clear reason."""
    addr = _tcp_port(bind)
    if addr is None:
        return None
    s = socket.socket(socket.AF_INET6 if ":" in addr[0] else socket.AF_INET)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(addr)
        return None
    except OSError:
        pass
    finally:
        s.close()
    try:
        for c in psutil.net_connections(kind="tcp"):
            if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr[1] == addr[1] and c.pid:
                return "pid %d (%s)" % (c.pid, psutil.Process(c.pid).name())
    except (psutil.Error, OSError):
        pass
    return "another program"


def _listening(rec, deadline):
    """Wait until the Gunicorn master listens on the record's bind; False when it died or
    never bound (its pidfile is written before it binds, so a pid alone proves nothing)."""
    addr = _tcp_port(rec["bind"])
    end = time.monotonic() + deadline
    while True:
        pid = managers.gunicorn_pid(rec)
        if pid:
            try:
                proc = psutil.Process(pid)
                conns = proc.net_connections(kind="all") if hasattr(proc, "net_connections") \
                    else proc.connections(kind="all")  # psutil < 6 (the panel's may be older)
                for c in conns:
                    if addr is not None and c.status == psutil.CONN_LISTEN and c.laddr \
                            and not isinstance(c.laddr, str) and c.laddr[1] == addr[1]:
                        return True
                    if addr is None and isinstance(c.laddr, str) and c.laddr == rec["bind"][5:]:
                        return True
            except (psutil.Error, OSError):
                pass
        if time.monotonic() >= end:
            return False
        time.sleep(0.2)


def start_do(r):
    rec = _record(r.payload, r.task["id"])
    r.data["record"] = rec
    holder = None if managers.gunicorn_pid(rec) else port_holder(rec["bind"])
    if holder:
        raise tasks.StepError("%s is in use by %s: Gunicorn cannot bind it. Switch again for a "
                              "new port" % (rec["bind"], holder))
    for path in _manager_files(rec):
        _backup(r, path)
    ok, log = managers.install(rec)
    if not ok:
        raise tasks.StepError("the process manager did not take Gunicorn: %s" % log.strip()[-500:])
    ok, log = managers.start(rec)
    r.log(log)
    if ok and not _listening(rec, HEALTH_DEADLINE):
        ok = False
        r.log("Gunicorn does not listen on %s" % rec["bind"])
    if not ok:
        tail = host.read_text(rec["error_log"], default="") if rec.get("error_log") else ""
        raise tasks.StepError("Gunicorn did not start: %s" % (tail.strip()[-800:] or log[-300:]))
    r.log("Gunicorn master pid %s on %s" % (managers.gunicorn_pid(rec), rec["bind"]))


def start_undo(r):
    rec = r.data.get("record")
    if not rec:
        return
    ok, log = managers.remove(rec)
    r.log(log)
    _restore_group(r, _manager_files(rec))
    if not ok:
        raise tasks.StepError("Gunicorn (pid %s) did not stop" % managers.gunicorn_pid(rec))


def health_do(r):
    p = r.payload
    ok, got = health.wait_status(p["bind"], p["domain"], p["baseline_status"], deadline=HEALTH_DEADLINE)
    r.log("GET / Host: %s on %s -> %s (uWSGI gave %s)" % (p["domain"], p["bind"], got, p["baseline_status"]))
    if not ok:
        raise tasks.StepError("Gunicorn answered %s where uWSGI answers %s" % (got, p["baseline_status"]))


def _noop(r):
    pass


def _jobs(r, kind):
    return [c["job"] for c in r.payload.get("carried") or [] if c.get("kind") == kind]


def daemons_do(r):
    """uWSGI's attached daemons, started under Gunicorn's manager while uWSGI still runs its
    own: the work they do (a queue, a scheduler) has no gap; uWSGI's copies stop with it."""
    jobs = _jobs(r, "daemon")
    if not jobs:
        return "skipped"
    rec = r.data["record"]
    started = r.data.setdefault("daemons", [])
    for job in jobs[len(started):]:
        try:
            started.append(daemons.install(job, rec, lambda p: _backup(r, p)))
        except (OSError, host.HostError, safe_text.UnsafeText) as e:
            raise tasks.StepError("%s (%s) did not start: %s" % (job["name"], job["command"], e))
        r.log("%s: %s, as %s" % (job["name"], daemons.describe(started[-1]), rec["user"]))


def daemons_undo(r):
    for d in reversed(r.data.get("daemons") or []):
        daemons.remove(d, lambda p: _restore_group(r, [p]))
    r.data["daemons"] = []


def swap_nginx_do(r):
    p = r.payload
    new_files = {path: text.encode("utf-8", "surrogateescape") for path, text in p["nginx_files"].items()}
    for path in new_files:
        _backup(r, path)
    ok, out = nginx_stage.stage_and_test(nginx_bin(), nginx_conf(), new_files)
    r.log(out.strip())
    if not ok:
        raise tasks.StepError("the new nginx config does not pass nginx -t: %s" % out.strip()[-500:])
    for path, data in new_files.items():
        mode = os.stat(path).st_mode & 0o7777 if os.path.exists(path) else 0o644
        host.write_atomic(path, data, mode=mode)
        r.log("wrote %s" % path)
    r.data["old_nginx"] = nginx_reload(r)
    ok, got = health.wait_status(p["nginx_addr"], p["domain"], p["baseline_status"], deadline=HEALTH_DEADLINE)
    r.log("through nginx: GET / -> %s" % got)
    if not ok:
        raise tasks.StepError("through nginx the site answers %s, not %s" % (got, p["baseline_status"]))


def swap_nginx_undo(r):
    paths_ = list(r.payload["nginx_files"])
    if any(not backups.matches(e) for e in _entries(r) if e["path"] in paths_):
        _restore_group(r, paths_)
        nginx_reload(r)


def stop_uwsgi_do(r):
    r.data["uwsgi"] = _uwsgi_info(r.payload)
    try:
        _stop_uwsgi(r)
    except Exception:
        # After the commit point Gunicorn serves the site: whatever stopped this step, keep
        # the record, or rollback refuses ("not switched") and the user is left with a site
        # on Gunicorn that the plugin no longer knows how to bring back.
        record_do(r)
        raise


def _stop_uwsgi(r):
    p = r.payload
    u = r.data["uwsgi"]
    rec = r.data["record"]
    left = managers.drain_nginx(r.data.get("old_nginx"), timeout=float(p["drain_timeout"]))
    r.log("old nginx workers still busy after the drain: %d" % left)
    if u["program_file"]:
        _backup(r, u["program_file"])
    if u["manager"] == "emperor" and u.get("config"):
        _backup(r, u["config"])
    if u["manager"] == "panel_project":
        _tell_panel(r, p, rec)
    ok, log = managers.stop_uwsgi(u)
    r.log(log)
    if not ok:
        raise tasks.StepError("uWSGI (pid %s) did not stop; Gunicorn serves the site. Stop uWSGI "
                              "by hand (kill -INT %s), then roll back or keep Gunicorn" % (u["pid"], u["pid"]))
    if u["manager"] == "panel_project":
        panel_db.write_pid(p["site"], managers.gunicorn_pid(rec))
    ok, log = managers.enable(rec)
    r.log(log)
    if not ok:
        raise tasks.StepError("Gunicorn serves the site but is not enabled for boot: %s"
                              % log.strip()[-300:])


def _tell_panel(r, p, rec):
    """Make the panel's project manager see the project as the Gunicorn it now is, before
    uWSGI goes away (its daemon restarts a project that does not run as configured): its
    start script (the panel runs it as root; it drops to the site's user itself), and
    project_config's stype, port and proxy_info (notes/baota-internals.md §12)."""
    site = p["site"]
    # kept from the first run only: a resumed step sees the config it already changed
    original = r.data.setdefault("project_config_text", panel_db.get_project_config_text(site))
    script = panel_db.start_script(site, "gunicorn")
    _backup(r, script)
    _backup(r, panel_db.pid_file(site))
    host.write_atomic(script, panel_db.gunicorn_script(site, rec), mode=0o755)
    try:
        conf = json.loads(original or "")
    except ValueError:
        conf = None
    if not isinstance(conf, dict):
        r.log("panel project %s: project_config is not readable; the panel's page may still "
              "say uWSGI" % site)
        return
    if rec["bind"].startswith("unix:"):
        # plan.panel_project_bind never gives a panel project a socket; a plan from an
        # older release might have
        raise tasks.StepError("a panel project needs a TCP bind (its proxy_info holds ports): "
                              "roll back and switch again")
    port = int(rec["bind"].rsplit(":", 1)[1])
    new, moved = panel_db.switched_config(conf, p.get("uwsgi_ports") or [], port)
    r.data["project_config_switched"] = json.dumps(new)
    panel_db.set_project_config_text(site, r.data["project_config_switched"])
    r.log("panel project %s: stype=gunicorn, port=%d, proxy_info %s" % (
        site, port, ", ".join("%s -> %d" % (m, port) for m in moved) or "has no entry for uWSGI's port"))


def crons_do(r):
    """After uWSGI stopped (its own crons with it), so that no minute runs a job twice."""
    jobs = _jobs(r, "cron")
    if not jobs:
        return "skipped"
    try:
        r.data["crons"] = panel_cron.add(jobs, r.payload["site"], r.task["id"],
                                         host.User(r.payload["user"]), lambda p: _backup(r, p))
    except Exception as e:
        # Gunicorn serves the site: keep the record (as stop_uwsgi does) and leave no half of
        # the crons behind; the error names what to add by hand.
        try:
            crons_undo(r)
        finally:
            record_do(r)
        raise tasks.StepError("uWSGI's crons were not added to 计划任务 (%s); add them by "
                              "hand: %s" % (e, "; ".join(j["schedule"] + " " + j["command"]
                                                         for j in jobs)))
    for job, echo in zip(jobs, r.data["crons"]["echoes"]):
        r.log("计划任务 %r: %s %s (as %s)" % (job["name"], job["schedule"], panel_cron.script_path(echo),
                                            r.payload["user"]))


def crons_undo(r):
    crons = r.data.get("crons")
    if crons:
        panel_cron.remove(crons, lambda p: _restore_group(r, [p]))
        r.data["crons"] = None


def boot_do(r):
    """What started uWSGI at boot starts Gunicorn now (boot_apply), after uWSGI stopped."""
    p = r.payload.get("boot")
    if p is None:
        return "skipped"  # a plan from before boot persistence
    rec = r.data["record"]
    # the lines as they are now, not as they were when the plan was made
    p = dict(p, found=boot_apply.discover(r.payload["uwsgi_config"], r.payload["project_path"]))
    try:
        r.data["boot"] = boot_apply.apply(p, rec, lambda path: _backup(r, path))
    except Exception as e:
        try:
            boot_undo(r)
        finally:
            record_do(r)
        raise tasks.StepError("start at boot was not changed (%s): uWSGI's boot entries %s "
                              "still start uWSGI" % (e, "; ".join(f["text"] for f in p["found"]) or "-"))
    for f in r.data["boot"]["files"]:
        r.log("%s: %s" % (f["kind"], f["path"]))
    r.log("starts at boot: %s" % (r.data["boot"]["where_en"] or "nothing (see the plan's note)"))


def boot_undo(r):
    if r.data.get("boot"):
        boot_apply.restore(r.data["boot"], r.task["site"], lambda p: _entry(_entries(r), p), r.log)
        r.data["boot"] = None


def _entry(entries, path):
    return next((e for e in entries if e["path"] == path), None)


def record_do(r):
    rec = dict(r.data["record"])
    rec["switched_at"] = time.time()
    rec["uwsgi"] = r.data["uwsgi"]
    rec["backups"] = _entries(r)
    rec["nginx_files"] = list(r.payload["nginx_files"])
    rec["project_config_text"] = r.data.get("project_config_text")
    rec["project_config_switched"] = r.data.get("project_config_switched")
    rec["crons"] = r.data.get("crons")
    rec["daemons"] = r.data.get("daemons") or []
    rec["boot"] = r.data.get("boot")
    records.save(rec)
    r.log("recorded: rollback restores %d file(s)" % len(rec["backups"]))


SWITCH_TABLE = {
    "install": (install_do, install_undo),
    "write_conf": (write_conf_do, write_conf_undo),
    "start": (start_do, start_undo),
    "health": (health_do, _noop),
    "daemons": (daemons_do, daemons_undo),
    "swap_nginx": (swap_nginx_do, swap_nginx_undo),
    "stop_uwsgi": (stop_uwsgi_do, _noop),
    "crons": (crons_do, crons_undo),
    "boot": (boot_do, boot_undo),
    "record": (record_do, _noop),
}


# ---- rollback steps --------------------------------------------------------------------------

def _rec(r):
    return r.payload["record"]


def _uwsgi_side_paths(rec):
    u = rec["uwsgi"]
    out = [u["program_file"]] if u.get("program_file") else []
    if u["manager"] == "emperor" and u.get("config"):
        out.append(u["config"])
    if u["manager"] == "panel_project":
        out += [panel_db.start_script(rec["site"], "gunicorn"), panel_db.pid_file(rec["site"])]
    return out


def _restore_entries(r, rec, paths_):
    for e in rec["backups"]:
        if e["path"] in paths_ and backups.restore(e):
            r.log("restored %s" % e["path"])


def start_uwsgi_do(r):
    rec = _rec(r)
    u = rec["uwsgi"]
    if managers.find_uwsgi(u):
        r.log("uWSGI is already running")
        return
    _restore_entries(r, rec, [p for p in _uwsgi_side_paths(rec) if not p.endswith(".pid")])
    if u["manager"] == "panel_project":
        _restore_project_config(r, rec)
    ok, log = managers.start_uwsgi(u)
    r.log(log)
    end = time.monotonic() + HEALTH_DEADLINE
    pid = None
    while time.monotonic() < end and not pid:
        pid = managers.find_uwsgi(u)
        time.sleep(0.3)
    if not ok or not pid:
        raise tasks.StepError("uWSGI did not start again")
    r.data["uwsgi_pid"] = pid
    # uWSGI's sockets need a moment after the master appears: wait for its listen sockets.
    time.sleep(1.0)
    r.log("uWSGI master pid %d" % pid)


def start_uwsgi_undo(r):
    rec = _rec(r)
    u = dict(rec["uwsgi"])
    pid = managers.find_uwsgi(u)
    if pid:
        # restore_nginx_undo just sent nginx back to Gunicorn: the nginx workers from before
        # that reload may still be waiting on uWSGI, and SIGINT kills uWSGI's requests (they
        # were 502s): let them finish first, as stop_uwsgi does in a switch.
        left = managers.drain_nginx(r.data.get("old_nginx"), timeout=float(r.payload.get("drain_timeout") or 30))
        r.log("old nginx workers still busy after the drain: %d" % left)
        u["pid"] = pid
        ok, log = managers.stop_uwsgi(u)
        r.log(log)
    if u.get("program_file"):
        # leave the program as the switch left it: autostart off
        path = u["program_file"]
        if os.path.exists(path):
            host.write_atomic(path, managers.set_autostart(host.read_text(path), False))
            managers.supervisorctl("update", u["detail"])
    if u["manager"] == "panel_project" and rec.get("project_config_switched"):
        panel_db.set_project_config_text(rec["site"], rec["project_config_switched"])
    elif u["manager"] == "panel_project" and rec.get("project_config") is not None:
        conf = dict(rec["project_config"])  # a record from before the text was kept
        conf["stype"] = "gunicorn"
        panel_db.set_project_config(rec["site"], conf)


def _restore_project_config(r, rec):
    if rec.get("project_config_switched"):
        r.log(panel_db.restore_config(rec["site"], rec["project_config_text"],
                                      rec["project_config_switched"]))
    elif rec.get("project_config") is not None:
        # a record from before the config's text was kept (it held the parsed dict)
        panel_db.set_project_config(rec["site"], rec["project_config"])


def restore_nginx_do(r):
    rec = _rec(r)
    _restore_entries(r, rec, rec["nginx_files"])
    r.data["old_nginx"] = nginx_reload(r)
    ok, got = health.wait_status(rec["nginx_addr"], rec["domain"], rec["baseline_status"],
                                 deadline=HEALTH_DEADLINE)
    r.log("through nginx: GET / -> %s" % got)
    if not ok:
        raise tasks.StepError("through nginx the site answers %s after the restore" % got)


def restore_nginx_undo(r):
    new = r.payload.get("switched_nginx") or {}
    if new:
        for path, text in new.items():
            host.write_atomic(path, text.encode("utf-8", "surrogateescape"))
        r.data["old_nginx"] = nginx_reload(r)  # drained by start_uwsgi_undo


def remove_carried_do(r):
    """uWSGI runs its own crons and daemons again: the plugin's copies go (the crontab file
    and program files byte for byte)."""
    rec = _rec(r)
    if not rec.get("crons") and not rec.get("daemons"):
        return "skipped"
    if rec.get("crons"):
        panel_cron.remove(rec["crons"], lambda p: _restore_entries(r, rec, [p]))
        r.log("removed %d cron job(s) from 计划任务" % len(rec["crons"]["echoes"]))
    # uWSGI, started again, runs its own daemons: the plugin's copies go
    for d in reversed(rec.get("daemons") or []):
        daemons.remove(d, lambda p: _restore_entries(r, rec, [p]))
        r.log("stopped %s (%s)" % (d["name"], daemons.describe(d)))


def restore_boot_do(r):
    """uWSGI's boot entries back as they were (byte for byte), the boot script gone."""
    rec = _rec(r)
    if not rec.get("boot"):
        return "skipped"
    boot_apply.restore(rec["boot"], rec["site"], lambda p: _entry(rec["backups"], p), r.log)


def stop_gunicorn_do(r):
    rec = _rec(r)
    managers.drain_nginx(r.data.get("old_nginx"), timeout=float(r.payload["drain_timeout"]))
    ok, log = managers.remove(rec)
    r.log(log)
    _restore_entries(r, rec, _manager_files(rec))
    if rec["uwsgi"]["manager"] == "panel_project":
        _restore_entries(r, rec, [panel_db.start_script(rec["site"], "gunicorn")])
        if r.data.get("uwsgi_pid") and not os.path.exists(panel_db.pid_file(rec["site"])):
            panel_db.write_pid(rec["site"], r.data["uwsgi_pid"])
    if not ok:
        raise tasks.StepError("Gunicorn did not stop; uWSGI serves the site again")


def forget_do(r):
    rec = _rec(r)
    _restore_entries(r, rec, [rec["gunicorn_conf"]])
    records.delete(rec["site"])
    backups.discard(rec["site"], rec["task_id"])
    r.log("the site is back on uWSGI")


ROLLBACK_TABLE = {
    "start_uwsgi": (start_uwsgi_do, start_uwsgi_undo),
    "restore_nginx": (restore_nginx_do, restore_nginx_undo),
    "remove_carried": (remove_carried_do, _noop),
    "restore_boot": (restore_boot_do, _noop),
    "stop_gunicorn": (stop_gunicorn_do, _noop),
    "forget": (forget_do, _noop),
}

TABLES = {
    "switch": (SWITCH_TABLE, COMMIT_STEP),
    "rollback": (ROLLBACK_TABLE, "restore_nginx"),
}


def start_switch(plan):
    """Create and start the switch task; tasks.Busy when the site is busy or switched since
    the plan was made (two clicks at once make one task)."""
    task = tasks.create_exclusive("switch", plan["site"], [(n, t, te) for n, t, te in SWITCH_STEPS],
                                  plan, check=lambda: records.load(plan["site"]) is None)
    task["pid"] = tasks.spawn(task["id"])
    tasks.save(task)
    return task


def start_rollback(record):
    payload = {"record": record, "drain_timeout": 30,
               "switched_nginx": {p: host.read_bytes(p).decode("utf-8", "surrogateescape")
                                  for p in record["nginx_files"] if os.path.exists(p)}}
    def same_record():
        now = records.load(record["site"])
        return now is not None and now.get("task_id") == record.get("task_id")
    task = tasks.create_exclusive("rollback", record["site"], ROLLBACK_STEPS, payload, check=same_record)
    task["pid"] = tasks.spawn(task["id"])
    tasks.save(task)
    return task
