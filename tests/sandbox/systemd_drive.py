"""Drive a systemd sandbox from inside the private systemd's namespace (PIDs there are not the
host's): `python tests/sandbox/systemd_drive.py ROOT ACTION`, one JSON object on stdout.

Actions: start (nginx, supervisord and the site's uWSGI unit), nginx (nginx alone, after a
reboot), switch / rollback (through the plugin's API, under load), state, kill_master.
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
                "server": server_of(sb, site.name), "status": sb.get(site.name, "/")[0]}
    if action == "kill_master":
        old = int(_show(gunicorn_unit, "MainPID"))
        os.kill(old, signal.SIGKILL)
        end = time.monotonic() + 60
        new = 0
        while time.monotonic() < end:
            new = int(_show(gunicorn_unit, "MainPID") or 0)
            if new and new != old and _unit_state(gunicorn_unit)["is-active"] == "active":
                break
            time.sleep(0.3)
        sb.wait_for(lambda: server_of(sb, site.name).startswith("gunicorn/"), "gunicorn again")
        return {"old": old, "new": new, "restarts": int(_show(gunicorn_unit, "NRestarts") or 0)}
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
