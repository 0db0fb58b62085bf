"""Checks and waits shared by the sandbox tests (tests/e2e, tests/faults,
tests/sandbox/systemd_drive.py): a task's end, a snapshot of the sandbox's config files, which
server answers a site, an action under load through nginx, the load figures for the closing note.
"""
import hashlib
import json
import time
from pathlib import Path

from tests.sandbox.load import Load

RESULTS = Path(__file__).resolve().parents[1] / "results"
PATHS = ["/", "/db/", "/whoami/", "/static/css/app.css", "/static/site.webmanifest", "/nope/", "/boom/"]


def wait_task(plugin, panel_get, task_id, timeout=300):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        res = plugin.get_task(panel_get(task_id=task_id))
        assert res["status"], res
        if res["data"]["state"] not in ("pending", "running"):
            return res["data"]
        time.sleep(0.3)
    raise AssertionError("task %s did not finish" % task_id)


def config_snapshot(sandbox):
    """sha256 of every config-like file of the sandbox (not logs, pids, sockets, databases)."""
    out = {}
    for p in sorted(sandbox.root.rglob("*")):
        s = str(p)
        if not p.is_file() or p.is_symlink():
            continue
        if any(x in s for x in ("/wwwlogs/", "/temp/", "/logs/", "/log/", "/pids/", "/pyporject_evn/",
                                "/pyenv/", "/data/gunicorn_switch/", "/run/", "/__pycache__/")):
            continue
        if p.suffix in (".sqlite3", ".pid", ".sock", ".db"):
            continue
        out[s] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def statuses(sandbox, site):
    return {p: sandbox.get(site, p)[0] for p in PATHS}


def server_of(sandbox, site):
    return json.loads(sandbox.get(site, "/whoami/")[1])["server"]


def record_load(name, result):
    RESULTS.mkdir(parents=True, exist_ok=True)
    f = RESULTS / "switch_load.json"
    data = json.loads(f.read_text()) if f.exists() else {}
    data[name] = result
    f.write_text(json.dumps(data, indent=2, sort_keys=True))


def under_load(sandbox, site, action):
    load = Load(sandbox.nginx_port, sandbox.sites[site].domain,
                paths=["/", "/db/", "/static/css/app.css"], concurrency=50, max_seconds=240).start()
    time.sleep(0.5)  # the load is running before the action starts
    try:
        out = action()
    finally:
        time.sleep(0.5)
        result = load.stop()
    return out, result


def poll(check, what, deadline=30.0):
    """Poll ``check()`` until it returns a true value; fail with ``what`` after ``deadline``."""
    end = time.monotonic() + deadline
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.1)
