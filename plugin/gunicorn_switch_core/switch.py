"""The switch, as journaled steps with an undo each (SWITCH below; tasks.Runner runs it).

Before the commit point (swap_nginx) uWSGI serves the site untouched and any failure undoes
everything, byte for byte; after it Gunicorn serves and a failure says what is left to do.
The rollback is rollback.py.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
from typing import TYPE_CHECKING, Any, Dict

from . import (backups, boot, boot_apply, daemons, health, host, managers, nginx_live, nginx_stage, panel_cron,
               panel_project, processes, records, safe_files, safe_text, supervisor_programs, tasks,
               uwsgi_process)

if TYPE_CHECKING:
    from .shapes import Plan, SwitchRecord, Task

PIP_TIMEOUT = 900


def _record_from_plan(plan: Plan, task_id: str) -> SwitchRecord:
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
        "manager_detail": managers.detail_for(plan["manager"], site),
        "workers": s.get("workers"), "domain": plan["domain"], "nginx_addr": plan["nginx_addr"],
        "baseline_status": plan["baseline_status"], "user": plan["user"],
        "backlog": s.get("backlog"),
    }


def _uwsgi_info(plan):
    u = {"manager": plan["uwsgi_manager"], "detail": plan["uwsgi_manager_detail"],
         "pid": plan["uwsgi_pid"], "cmdline": plan["uwsgi_cmdline"], "cwd": plan["uwsgi_cwd"],
         "environ": plan.get("uwsgi_environ") or {}, "log_dir": plan["log_dir"],
         "config": plan["uwsgi_config"], "program_file": None, "start_script": None,
         "uid": plan.get("uwsgi_uid"), "exe": plan.get("uwsgi_exe"), "site_user": plan["user"],
         "logs": plan.get("uwsgi_logs") or []}
    if u["manager"] == "supervisor" and u["detail"]:
        u["program_file"] = supervisor_programs.program_file(u["detail"])
    if u["manager"] == "panel_project":
        u["start_script"] = panel_project.start_script(plan["site"], "uwsgi")
    return u


def install_do(r):
    p = r.inputs
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
    p = r.inputs
    path = p["gunicorn_conf_path"]
    user = host.User(p["user"])
    try:
        if backups.keep(r, path)["kind"] == "symlink":
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
    r.log("$ %s   (as %s; beside Gunicorn's start, its answer awaited before the health "
          "check passes)" % (" ".join(_check_argv(p)), user.name))
    _CHECKS[r.task["id"]] = _begin_check(p)


# The conf check (gunicorn --check-config imports the app, as the site's user) runs beside
# Gunicorn's start: it takes as long as the start itself, and waiting for it first was the
# longest step before nginx could go over (bench/NOTES.md, confirm → serving). Nothing the
# user sees changes before it has passed (health awaits it), and when it failed its answer is
# the cause reported: a Gunicorn that cannot import the app fails its start or its health
# check too, with less to say. The running checks are this runner's own children.
_CHECKS: Dict[str, Any] = {}
CHECK_TIMEOUT = 120


def _check_argv(p):
    return [os.path.join(p["venv"], "bin", "gunicorn"), "--check-config", "-c", p["gunicorn_conf_path"]]


def _begin_check(p):
    user = host.User(p["user"])
    return host.begin(_check_argv(p), cwd=p["project_path"], as_user=user,
                      env=user.env(extra_path=os.path.join(p["venv"], "bin")))


def _await_check(r):
    """The conf check's answer: a StepError when it failed. A runner that resumed a task has
    no check of its own running: it checks again, here."""
    said = r.outputs.get("conf_check")
    if said is None:
        proc = _CHECKS.pop(r.task["id"], None) or _begin_check(r.inputs)
        rc, text = host.finish(proc, CHECK_TIMEOUT)
        r.log("gunicorn --check-config: exit %d\n%s" % (rc, text))
        said = "" if rc == 0 else \
            "gunicorn --check-config did not finish in %d s" % CHECK_TIMEOUT if rc == 124 else \
            "gunicorn --check-config failed: %s" % text.strip()[-800:]
        r.outputs["conf_check"] = said
    if said:
        raise tasks.StepError(said)


def _check_first(step):
    """A step that fails before the conf check has answered reports the check's failure
    first when there is one (the cause), then its own."""
    def do(r):
        try:
            return step(r)
        except tasks.StepError as e:
            try:
                _await_check(r)
            except tasks.StepError as cause:
                if str(cause) != str(e):  # else it was the check that failed the step
                    raise tasks.StepError("%s; then: %s" % (cause, e))
            raise
    do.__name__, do.__doc__ = step.__name__, step.__doc__
    return do


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
    proc = _CHECKS.pop(r.task["id"], None)
    if proc is not None and not isinstance(proc, tuple):
        proc.kill()  # the check of a conf that is going away
        proc.communicate()
    backups.restore_paths(r, [r.inputs["gunicorn_conf_path"]])


def start_do(r):
    rec = _record_from_plan(r.inputs, r.task["id"])
    r.outputs["record"] = rec
    holder = None if managers.gunicorn_pid(rec) else processes.port_holder(rec["bind"])
    if holder:
        raise tasks.StepError("%s is in use by %s: Gunicorn cannot bind it. Switch again for a "
                              "new port" % (rec["bind"], holder))
    for path in managers.registration_files(rec):
        backups.keep(r, path)
    ok, log = managers.install(rec)
    if not ok:
        raise tasks.StepError("the process manager did not take Gunicorn: %s" % log.strip()[-500:])
    ok, log = managers.start(rec)
    r.log(log)
    if ok and not processes.wait_listening(lambda: managers.gunicorn_pid(rec), rec["bind"], health.DEADLINE):
        ok = False
        r.log("Gunicorn does not listen on %s" % rec["bind"])
    if not ok:
        tail = host.read_text(rec["error_log"], default="") if rec.get("error_log") else ""
        raise tasks.StepError("Gunicorn did not start: %s" % (tail.strip()[-800:] or log[-300:]))
    r.log("Gunicorn master pid %s on %s" % (managers.gunicorn_pid(rec), rec["bind"]))


def start_undo(r):
    rec = r.outputs.get("record")
    if not rec:
        return
    ok, log = managers.remove(rec)
    r.log(log)
    backups.restore_paths(r, managers.registration_files(rec))
    if not ok:
        raise tasks.StepError("Gunicorn (pid %s) did not stop" % managers.gunicorn_pid(rec))


def health_do(r):
    p = r.inputs
    ok, got = health.wait_status(p["bind"], p["domain"], p["baseline_status"], deadline=health.DEADLINE)
    r.log("GET / Host: %s on %s -> %s (uWSGI gave %s)" % (p["domain"], p["bind"], got, p["baseline_status"]))
    if not ok:
        raise tasks.StepError("Gunicorn answered %s where uWSGI answers %s" % (got, p["baseline_status"]))
    _await_check(r)


def _jobs(r, kind):
    return [c["job"] for c in r.inputs.get("carried") or [] if c.get("kind") == kind]


def daemons_do(r):
    """uWSGI's attached daemons, started under Gunicorn's manager while uWSGI still runs its
    own: the work they do (a queue, a scheduler) has no gap; uWSGI's copies stop with it."""
    jobs = _jobs(r, "daemon")
    if not jobs:
        return "skipped"
    rec = r.outputs["record"]
    started = r.outputs.setdefault("daemons", [])
    for job in jobs[len(started):]:
        try:
            started.append(daemons.install(job, rec, lambda p: backups.keep(r, p)))
        except (OSError, host.HostError, safe_text.UnsafeText) as e:
            raise tasks.StepError("%s (%s) did not start: %s" % (job["name"], job["command"], e))
        r.log("%s: %s, as %s" % (job["name"], daemons.describe(started[-1]), rec["user"]))


def daemons_undo(r):
    for d in reversed(r.outputs.get("daemons") or []):
        daemons.remove(d, lambda p: backups.restore_paths(r, [p]))
    r.outputs["daemons"] = []


def swap_nginx_do(r):
    p = r.inputs
    new_files = {path: text.encode("utf-8", "surrogateescape") for path, text in p["nginx_files"].items()}
    for path in new_files:
        backups.keep(r, path)
    ok, out = nginx_stage.stage_and_test(nginx_live.nginx_bin(), nginx_live.nginx_conf(), new_files)
    r.log(out.strip())
    if not ok:
        raise tasks.StepError("the new nginx config does not pass nginx -t: %s" % out.strip()[-500:])
    for path, data in new_files.items():
        mode = os.stat(path).st_mode & 0o7777 if os.path.exists(path) else 0o644
        host.write_atomic(path, data, mode=mode)
        r.log("wrote %s" % path)
    r.outputs["old_nginx"] = nginx_live.reload(r.log)
    ok, got = health.wait_status(p["nginx_addr"], p["domain"], p["baseline_status"], deadline=health.DEADLINE)
    r.log("through nginx: GET / -> %s" % got)
    if not ok:
        raise tasks.StepError("through nginx the site answers %s, not %s" % (got, p["baseline_status"]))


def swap_nginx_undo(r):
    paths_ = list(r.inputs["nginx_files"])
    if any(not backups.matches(e) for e in backups.of_task(r) if e["path"] in paths_):
        backups.restore_paths(r, paths_)
        nginx_live.reload(r.log)


def stop_uwsgi_do(r):
    r.outputs["uwsgi"] = _uwsgi_info(r.inputs)
    try:
        _stop_uwsgi(r)
    except Exception:
        # After the commit point Gunicorn serves the site: whatever stopped this step, keep
        # the record, or rollback refuses ("not switched") and the user is left with a site
        # on Gunicorn that the plugin no longer knows how to bring back.
        record_do(r)
        raise


def _stop_uwsgi(r):
    p = r.inputs
    u = r.outputs["uwsgi"]
    rec = r.outputs["record"]
    left = nginx_live.drain(r.outputs.get("old_nginx"), timeout=float(p["drain_timeout"]))
    r.log("old nginx workers still busy after the drain: %d" % left)
    if u["program_file"]:
        backups.keep(r, u["program_file"])
    if u["manager"] == "emperor" and u.get("config"):
        backups.keep(r, u["config"])
    if u["manager"] == "panel_project":
        _tell_panel(r, p, rec)
    ok, log = uwsgi_process.stop_uwsgi(u)
    r.log(log)
    if not ok:
        raise tasks.StepError("uWSGI (pid %s) did not stop; Gunicorn serves the site. Stop uWSGI "
                              "by hand (kill -INT %s), then roll back or keep Gunicorn" % (u["pid"], u["pid"]))
    if u["manager"] == "panel_project":
        panel_project.write_pid(p["site"], managers.gunicorn_pid(rec))
    ok, log = managers.enable(rec)
    r.log(log)
    if not ok:
        raise tasks.StepError("Gunicorn serves the site but is not enabled for boot: %s"
                              % log.strip()[-300:])


def _tell_panel(r, p, rec):
    """Make the panel's project manager see the project as the Gunicorn it now is, before
    uWSGI goes away (its daemon restarts a project that does not run as configured): its
    start script (the panel runs it as root; it drops to the site's user itself), and
    project_config's stype, port and proxy_info (docs/ARCHITECTURE.md, facts: panel project manager)."""
    site = p["site"]
    # kept from the first run only: a resumed step sees the config it already changed
    original = r.outputs.setdefault("project_config_text", panel_project.get_project_config_text(site))
    script = panel_project.start_script(site, "gunicorn")
    backups.keep(r, script)
    backups.keep(r, panel_project.pid_file(site))
    # The panel's project manager keeps a project's extra services in project_config
    # "services" (aaPanel/BaoTa@f9f6845c mod/project/python/serviceMod.py): started with
    # the project, by `nohup <command>` as its user, stopped by SIGKILL to one pid, never
    # restarted when one dies alone (script/project_daemon.py watches the main service only).
    # uWSGI restarts an attached daemon and signals its group: so the plugin's own loop keeps
    # them, and this script, which the panel runs at boot (auto_run) and from its start and
    # restart buttons, starts the loops once each (daemons.LOCK).
    more = daemons.boot_lines(dict(rec, daemons=r.outputs.get("daemons") or []))
    host.write_atomic(script, panel_project.gunicorn_script(site, rec, more), mode=0o755)
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
    new, moved = panel_project.switched_config(conf, p.get("uwsgi_ports") or [], port)
    r.outputs["project_config_switched"] = json.dumps(new)
    panel_project.set_project_config_text(site, r.outputs["project_config_switched"])
    r.log("panel project %s: stype=gunicorn, port=%d, proxy_info %s" % (
        site, port, ", ".join("%s -> %d" % (m, port) for m in moved) or "has no entry for uWSGI's port"))


def crons_do(r):
    """After uWSGI stopped (its own crons with it), so that no minute runs a job twice."""
    jobs = _jobs(r, "cron")
    if not jobs:
        return "skipped"
    try:
        r.outputs["crons"] = panel_cron.add(jobs, r.inputs["site"], r.task["id"],
                                         host.User(r.inputs["user"]), lambda p: backups.keep(r, p))
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
    for job, echo in zip(jobs, r.outputs["crons"]["echoes"]):
        r.log("计划任务 %r: %s %s (as %s)" % (job["name"], job["schedule"], panel_cron.script_path(echo),
                                            r.inputs["user"]))


def crons_undo(r):
    crons = r.outputs.get("crons")
    if crons:
        panel_cron.remove(crons, lambda p: backups.restore_paths(r, [p]))
        r.outputs["crons"] = None


def boot_do(r):
    """What started uWSGI at boot starts Gunicorn now (boot_apply), after uWSGI stopped."""
    p = r.inputs.get("boot")
    if p is None:
        return "skipped"  # a plan from before boot persistence
    # the boot script also starts the daemons the plugin runs itself
    rec = dict(r.outputs["record"], daemons=r.outputs.get("daemons") or [])
    # the lines as they are now, not as they were when the plan was made
    p = dict(p, found=boot.split(boot_apply.discover(r.inputs["uwsgi_config"], r.inputs["project_path"],
                                                     r.inputs["user"]))[0])
    try:
        r.outputs["boot"] = boot_apply.apply(p, rec, lambda path: backups.keep(r, path))
    except Exception as e:
        try:
            boot_undo(r)
        finally:
            record_do(r)
        raise tasks.StepError("start at boot was not changed (%s): uWSGI's boot entries %s "
                              "still start uWSGI" % (e, "; ".join(f["text"] for f in p["found"]) or "-"))
    for f in r.outputs["boot"]["files"]:
        r.log("%s: %s" % (f["kind"], f["path"]))
    r.log("starts at boot: %s" % (r.outputs["boot"]["where_en"] or "nothing (see the plan's note)"))


def boot_undo(r):
    if r.outputs.get("boot"):
        boot_apply.restore(r.outputs["boot"], r.task["site"], lambda p: backups.entry_for(backups.of_task(r), p),
                           r.log)
        r.outputs["boot"] = None


def record_do(r):
    rec = dict(r.outputs["record"])
    rec["switched_at"] = time.time()
    rec["uwsgi"] = r.outputs["uwsgi"]
    rec["backups"] = backups.of_task(r)
    rec["nginx_files"] = list(r.inputs["nginx_files"])
    rec["project_config_text"] = r.outputs.get("project_config_text")
    rec["project_config_switched"] = r.outputs.get("project_config_switched")
    rec["crons"] = r.outputs.get("crons")
    rec["daemons"] = r.outputs.get("daemons") or []
    rec["boot"] = r.outputs.get("boot")
    records.save(rec)
    r.log("recorded: rollback restores %d file(s)" % len(rec["backups"]))


SWITCH = tasks.Procedure("switch", [
    tasks.Step("install", "安装 Gunicorn 到站点的虚拟环境", "Install Gunicorn into the site's venv",
               install_do, install_undo),
    tasks.Step("write_conf", "写入 gunicorn_conf.py 并检查配置", "Write gunicorn_conf.py and check it",
               write_conf_do, write_conf_undo),
    tasks.Step("start", "在新地址上启动 Gunicorn", "Start Gunicorn on a new bind", _check_first(start_do),
               start_undo),
    tasks.Step("health", "健康检查（带站点 Host 头）", "Health check with the site's Host header",
               _check_first(health_do)),
    tasks.Step("daemons", "在 uWSGI 停止前启动它附带的守护进程（以站点用户运行）",
               "Start uWSGI's attached daemons before uWSGI stops (as the site's user)",
               daemons_do, daemons_undo),
    tasks.Step("swap_nginx", "切换 nginx（nginx -t 后平滑重载）", "Swap nginx (nginx -t, graceful reload)",
               swap_nginx_do, swap_nginx_undo),
    tasks.Step("stop_uwsgi", "排空并停止 uWSGI，防止被拉起", "Drain and stop uWSGI so that it stays stopped",
               stop_uwsgi_do),
    tasks.Step("crons", "把 uWSGI 的 cron 加入计划任务（以站点用户运行）",
               "Add uWSGI's crons to the panel's cron jobs (run as the site's user)", crons_do, crons_undo),
    tasks.Step("boot", "开机自启改为启动 Gunicorn（不再启动 uWSGI）", "Start Gunicorn at boot instead of uWSGI",
               boot_do, boot_undo),
    tasks.Step("record", "记录切换结果，便于回滚", "Record the switch for rollback", record_do),
], commit="swap_nginx")


def start_switch(plan: Plan) -> Task:
    """Create and start the switch task; tasks.Busy when the site is busy or switched since
    the plan was made (two clicks at once make one task)."""
    task = tasks.create_exclusive("switch", plan["site"], SWITCH.listing(),
                                  plan, check=lambda: records.load(plan["site"]) is None)
    task["pid"] = tasks.spawn(task["id"])
    tasks.save(task)
    return task


