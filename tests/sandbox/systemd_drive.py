"""Drive a systemd sandbox from inside the private systemd's namespace (PIDs there are not the
host's): `python tests/sandbox/systemd_drive.py ROOT ACTION`, one JSON object on stdout.

Actions: start (nginx, supervisord and the site's uWSGI unit), nginx (nginx alone, after a
reboot), switch / rollback (through the plugin's API, under load), state, kill_master,
ops (the status page's view against systemd's, and reload/±worker/restart/stop/start/logs of
the switched site), faults (a broken conf, a failing daemon-reload, runners SIGKILLed on both
sides of the commit point; each under load, each checked against the files and units before).
"""
import json
import os
import signal
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "plugin"))
sys.path.insert(0, str(REPO))

from tests.conftest import PanelGet  # noqa: E402
from tests.sandbox import layout  # noqa: E402
from tests.sandbox.checks import server_of, under_load, wait_task  # noqa: E402
from tests.sandbox.host import Sandbox  # noqa: E402


def _systemctl(sb, *args):
    return sb.run(["systemctl"] + list(args)).stdout.decode().strip()


def _show(unit, prop):
    import subprocess
    res = subprocess.run(["systemctl", "show", "-p", prop, "--value", unit], capture_output=True)
    return res.stdout.decode().strip()


def _unit_state(unit):
    import subprocess
    out = {}
    for verb in ("is-enabled", "is-active"):
        res = subprocess.run(["systemctl", verb, unit], capture_output=True)
        out[verb] = res.stdout.decode().strip()
    return out


def _cgroup_pids(unit):
    """The processes of a unit's cgroup (systemd's view of what the unit runs)."""
    group = _show(unit, "ControlGroup")
    if not group:
        return []
    with open("/sys/fs/cgroup%s/cgroup.procs" % group) as fh:
        return sorted(int(x) for x in fh.read().split())


def _daemon_view(sb, site, unit):
    """The unit of uWSGI's attach-daemon after the switch: its state, the users its cgroup's
    processes run as, and the last line the daemon wrote (its shell's quoting, as it ran)."""
    import psutil
    users = sorted({psutil.Process(pid).username() for pid in _cgroup_pids(unit)
                    if psutil.pid_exists(pid)}) if _show(unit, "ActiveState") == "active" else []
    out = sb.sites[site.name].project / "run" / "daemon.out"
    lines = out.read_text().splitlines() if out.exists() else []
    return dict(_unit_state(unit), users=users, last=lines[-1] if lines else None,
                restarts=int(_show(unit, "NRestarts") or 0))


def _plugin():
    import gunicorn_switch_main
    return gunicorn_switch_main.gunicorn_switch_main()


def _call(plugin, method, **args):
    res = getattr(plugin, method)(PanelGet(**args))
    if not res["status"]:
        raise AssertionError("%s %s: %s" % (method, args, res["msg"]))
    return res["data"]


def _view(plugin, site, unit):
    """The status page's master and workers beside systemd's MainPID and the unit's cgroup."""
    from gunicorn_switch_core import control, processes, records
    st = _call(plugin, "get_status", site=site)
    conf = records.load(site)["gunicorn_conf"]
    master = (st["master"] or {}).get("pid")
    return {"running": st["running"], "master": master,
            "kept": bool(master) and processes.kept(master),
            "master_parent": master and processes.parent_pid(master),
            "restart_lossless": st.get("restart_lossless"),
            "workers": sorted(w["pid"] for w in st["workers"]),
            "main_pid": int(_show(unit, "MainPID") or 0), "cgroup": _cgroup_pids(unit),
            "active": _unit_state(unit)["is-active"],
            "conf_workers": control.conf_workers(Path(conf).read_text())}


def ops(sb, site, unit):
    plugin = _plugin()
    out = {"before": _view(plugin, site.name, unit)}
    ctl = {}

    def under_load_ops():
        for op in ("reload", "add_worker", "reload", "remove_worker", "restart"):
            t = time.monotonic()
            ctl.setdefault(op, []).append(dict(_call(plugin, "control", site=site.name, op=op),
                                               seconds=round(time.monotonic() - t, 2),
                                               view=_view(plugin, site.name, unit)))
    _, out["load"] = under_load(sb, site.name, under_load_ops)
    out["ops"] = ctl
    ctl["restart"] = ctl["restart"][0]
    # a stop has nothing to serve with, by definition: no load across these
    for op in ("stop", "start"):
        t = time.monotonic()
        ctl[op] = dict(_call(plugin, "control", site=site.name, op=op),
                       seconds=round(time.monotonic() - t, 2), view=_view(plugin, site.name, unit))
    out["status_after_start"] = sb.get(site.name, "/")[0]
    out["error_log"] = _call(plugin, "get_logs", site=site.name, kind="error", lines="400")
    out["journal"] = _call(plugin, "get_logs", site=site.name, kind="journal", lines="400")
    return out


def _snapshot(sb, root_units):
    from tests.sandbox.checks import config_snapshot
    return {"files": config_snapshot(sb), "units": root_units()}


def _units_of(root):
    base = Path(root) / "etc/systemd/system"
    out = {}
    for p in sorted(base.rglob("*")):
        if p.is_symlink() and os.readlink(p) != "/dev/null":
            out[str(p.relative_to(base))] = "-> " + os.readlink(p)
        elif p.is_file() and not p.is_symlink():
            out[str(p.relative_to(base))] = p.read_text()
    return out


def _wait_stopped(pid, timeout=120):
    import psutil
    proc = psutil.Process(pid)
    end = time.monotonic() + timeout
    while proc.status() != psutil.STATUS_STOPPED:
        if time.monotonic() > end:
            raise AssertionError("runner %d did not reach its sync point" % pid)
        time.sleep(0.1)
    return proc


def _switch_with_fault(sb, plugin, site, fault, between=None, start=None):
    """A switch (or ``start()``'s task) under load whose runner meets
    GUNICORN_SWITCH_FAULT=fault. ``between``: for
    a stop-... fault, what to do while the runner is stopped (then it is continued); for a
    kill-... fault the runner dies and get_task recovers it. Returns (task, load, died)."""
    from gunicorn_switch_core import tasks
    from tests.faults import faultlib as fl
    load = fl.start_load(sb, site.name)
    died = None
    try:
        if fault:
            os.environ["GUNICORN_SWITCH_FAULT"] = fault
        try:
            task_id = (start or (lambda: fl.switch_task(plugin, PanelGet, site.name)))()
        finally:
            os.environ.pop("GUNICORN_SWITCH_FAULT", None)  # a recovered runner runs without it
        if not fault:
            pass
        elif between is not None:
            runner = _wait_stopped(fl.task_file(sb, task_id)["pid"])
            between()
            runner.resume()
        else:
            end = time.monotonic() + 120
            while True:
                t = fl.task_file(sb, task_id)
                if t["pid"] and not tasks.runner_alive(t) and t["state"] in ("pending", "running"):
                    break
                if t["state"] not in ("pending", "running") or time.monotonic() > end:
                    raise AssertionError("the runner did not die at %s: %s" % (fault, t["state"]))
                time.sleep(0.2)
            died = {"committed": t["committed"], "state": t["state"]}
            time.sleep(2.1)  # get_task recovers a dead runner of a task older than 2 s
        task = wait_task(plugin, PanelGet, task_id, timeout=240)
    finally:
        result = fl.stop_load(load)
    return task, result, died


def _uwsgi_view(sb, site):
    from tests.faults import faultlib as fl
    unit = layout.uwsgi_unit_name(site.spec)
    gunicorn = "gunicorn-%s.service" % site.name
    return {"uwsgi": _unit_state(unit), "uwsgi_pid": int(_show(unit, "MainPID") or 0),
            "gunicorn": _unit_state(gunicorn)["is-active"],
            "gunicorn_procs": len(fl.gunicorn_procs(sb, site.name)),
            "record": fl.record_of(sb, site.name) is not None, "runners": len(fl.runners()),
            "server": server_of(sb, site.name)}


def faults(sb, site):
    """Each fault on the site on uWSGI; after each, what changed (nothing, for those undone)."""
    import shutil
    import subprocess
    plugin = _plugin()
    before = _snapshot(sb, lambda: _units_of(sb.root))
    view0 = _uwsgi_view(sb, site)
    out = {"before": view0}

    def case(name, task, load, died=None):
        out[name] = {"state": task["state"], "committed": task["committed"],
                     "error": task["error"], "load": load, "died": died,
                     "steps": {s["name"]: s["state"] for s in task["steps"]},
                     "log": {s["name"]: s["log"][-1500:] for s in task["steps"]
                             if s["state"] in ("failed", "undone", "undo_failed")},
                     "same": _snapshot(sb, lambda: _units_of(sb.root)) == before,
                     "view": _uwsgi_view(sb, site)}

    # 1. the unit fails to start: its conf breaks after the check (as an edit at that moment
    # would); Gunicorn exits at once, systemd would restart it over and over
    conf = site.project / "gunicorn_conf.py"

    def break_conf():
        conf.write_text(conf.read_text() + "\nraise SystemExit('gsw: a broken conf')\n")
    case("unit_fails", *_switch_with_fault(sb, plugin, site, "stop-after:write_conf", break_conf))

    # 2. daemon-reload fails (systemctl replaced, in this namespace only, by one whose
    # daemon-reload exits 1)
    real = os.path.realpath(shutil.which("systemctl"))
    fake_dir = sb.root / "run/gsw-fault"
    (fake_dir / "bin").mkdir(parents=True, exist_ok=True)
    shutil.copy2(real, fake_dir / "bin/systemctl")
    fake = fake_dir / "systemctl-fault"
    fake.write_text("#!/bin/sh\nfor a in \"$@\"; do\n  if [ \"$a\" = daemon-reload ]; then\n"
                    "    echo 'Failed to reload daemon: injected by the test' >&2; exit 1\n  fi\n"
                    "done\nexec %s \"$@\"\n" % (fake_dir / "bin/systemctl"))
    fake.chmod(0o755)
    subprocess.run(["mount", "--bind", str(fake), real], check=True)
    try:
        case("daemon_reload_fails", *_switch_with_fault(sb, plugin, site, None))
    finally:
        subprocess.run(["umount", real], check=True)

    # 3. the runner SIGKILLed before the commit point: the next look at the task undoes it
    case("killed_after_start", *_switch_with_fault(sb, plugin, site, "kill-after:start"))

    # 4. ... and after it: the next look finishes the switch; then a rollback
    case("killed_after_swap_nginx", *_switch_with_fault(sb, plugin, site, "kill-after:swap_nginx"))
    out["killed_after_swap_nginx"]["gunicorn_unit"] = _unit_state("gunicorn-%s.service" % site.name)

    # 5. a rollback whose runner dies once uWSGI's unit is enabled and started again, before
    # nginx goes back to it: undone, the site switched exactly as it was
    switched = _snapshot(sb, lambda: _units_of(sb.root))
    task, load, died = _switch_with_fault(
        sb, plugin, site, "kill-after:start_uwsgi",
        start=lambda: _call(plugin, "rollback", site=site.name)["task_id"])
    case("rollback_killed_after_start_uwsgi", task, load, died)
    out["rollback_killed_after_start_uwsgi"]["same_as_switched"] = \
        _snapshot(sb, lambda: _units_of(sb.root)) == switched
    task, load = under_load(sb, site.name, lambda: wait_task(
        plugin, PanelGet, _call(plugin, "rollback", site=site.name)["task_id"], timeout=240))
    case("rollback", task, load)
    return out


def main(root, action):
    sb = Sandbox.load(root)
    sb.activate()
    site = layout.SYSTEMD_SITE
    gunicorn_unit = "gunicorn-%s.service" % site.name
    if action == "start":
        sb.start()
        return {"ok": True}
    if action == "nginx":
        sb.run([str(sb.p("/etc/init.d/nginx")), "start"])
        sb.wait_ok(sb.sites[site.name])
        return {"ok": True}
    if action == "state":
        return {"uwsgi": _unit_state(layout.uwsgi_unit_name(site)),
                "gunicorn": _unit_state(gunicorn_unit),
                "gunicorn_pid": int(_show(gunicorn_unit, "MainPID") or 0),
                "daemon": _daemon_view(sb, site, gunicorn_unit.replace(".service", "-daemon1.service")),
                "server": server_of(sb, site.name), "status": sb.get(site.name, "/")[0]}
    if action == "kill_master":
        import psutil
        old = int(_show(gunicorn_unit, "MainPID"))
        # the Gunicorn master: the keeper's child where the unit runs the keeper
        kids = [c for c in psutil.Process(old).children() if "gunicorn" in " ".join(c.cmdline())]
        os.kill(kids[0].pid if kids else old, signal.SIGKILL)
        end = time.monotonic() + 60
        new = 0
        while time.monotonic() < end:
            new = int(_show(gunicorn_unit, "MainPID") or 0)
            if new and new != old and _unit_state(gunicorn_unit)["is-active"] == "active":
                break
            time.sleep(0.3)
        sb.wait_for(lambda: server_of(sb, site.name).startswith("gunicorn/"), "gunicorn again")
        return {"old": old, "new": new, "restarts": int(_show(gunicorn_unit, "NRestarts") or 0)}
    if action == "ops":
        return ops(sb, site, gunicorn_unit)
    if action == "faults":
        return faults(sb, sb.sites[site.name])
    if action in ("switch", "rollback"):
        import gunicorn_switch_main
        plugin = gunicorn_switch_main.gunicorn_switch_main()
        if action == "switch":
            res = plugin.plan(PanelGet(site=site.name))
            if not res["status"]:
                return {"plan": res}
        call = getattr(plugin, action)
        # a switch applies the plan just made and shown (its id), as the page does
        args = {"plan_id": res["data"]["plan_id"]} if action == "switch" else {}
        task, load = under_load(sb, site.name, lambda: wait_task(
            plugin, PanelGet, call(PanelGet(site=site.name, **args))["data"]["task_id"], timeout=240))
        return {"task": task, "load": load}
    raise SystemExit("unknown action %s" % action)


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2])))
