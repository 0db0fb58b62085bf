"""Shared helpers of the fault, hostile-input, security and soak tests (tests/faults).

A fault test injects one failure into a real switch while a bounded load runs through nginx,
then checks what a user would: the site kept answering, every file is as it was (or fully
switched when the fault came after the commit point), nothing is left running, and get_task
says what happened.
"""
import json
import os
import signal
import time

import psutil

from tests.sandbox.checks import config_snapshot, server_of, wait_task  # noqa: F401 (re-exported)
from tests.sandbox.load import Load

LOAD_PATHS = ["/", "/db/", "/static/css/app.css"]
CONCURRENCY = 20


def cmd(proc):
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:
        return ""


def cwd(proc):
    try:
        return proc.cwd()
    except psutil.Error:
        return ""


def gunicorn_procs(sandbox, site):
    """Every live Gunicorn process (master or worker) of ``site``."""
    proj = str(sandbox.sites[site].project)
    out = []
    for p in sandbox.pids():
        c = cmd(p)
        if "gunicorn" in c and (proj in c or cwd(p) == proj or "[%s]" % site in c):
            out.append(p)
    return out


def uwsgi_masters(sandbox, site):
    proj = str(sandbox.sites[site].project)
    procs = [p for p in sandbox.pids() if "uwsgi" in cmd(p) and proj in cmd(p)]
    pids = {p.pid for p in procs}
    out = []
    for p in procs:
        try:
            if p.ppid() not in pids:
                out.append(p)
        except psutil.Error:
            continue
    return out


class Get(object):
    """The panel's `get` (string attributes), for module-scoped fixtures."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


def runners(root=None):
    """Live task runners (``python -m gunicorn_switch_core run-task ID``) of this sandbox
    (other sandboxes may run on the same host)."""
    root = str(root or os.environ.get("GUNICORN_SWITCH_ROOT"))
    out = []
    for p in psutil.process_iter(["cmdline"]):
        c = p.info.get("cmdline") or []
        try:
            if p.status() == psutil.STATUS_ZOMBIE:
                continue
        except psutil.Error:
            continue
        if "run-task" in c and "gunicorn_switch_core" in c and p.pid != os.getpid():
            try:
                if p.environ().get("GUNICORN_SWITCH_ROOT") == root:
                    out.append(p)
            except psutil.Error:
                continue
    return out


def families(sandbox):
    """{(kind, site): count of processes} over the sandbox's sites: what must not drift."""
    out = {}
    for site in sandbox.sites:
        out[("gunicorn", site)] = len(gunicorn_procs(sandbox, site))
        out[("uwsgi-master", site)] = len(uwsgi_masters(sandbox, site))
    return out


def state_dir(sandbox):
    return sandbox.p("/www/server/panel/data/gunicorn_switch")


def record_of(sandbox, site):
    p = state_dir(sandbox) / "sites" / (site + ".json")
    return json.loads(p.read_text()) if p.exists() else None


def task_file(sandbox, task_id):
    return json.loads((state_dir(sandbox) / "tasks" / (task_id + ".json")).read_text())


def start_load(sandbox, site, concurrency=CONCURRENCY, max_seconds=300):
    # bounded by time: a request cap would end a long run's load before its last cycle
    load = Load(sandbox.nginx_port, sandbox.sites[site].domain, paths=LOAD_PATHS,
                concurrency=concurrency, max_seconds=max_seconds, max_requests=10 ** 9).start()
    time.sleep(0.5)  # the load runs before the fault starts
    return load


def stop_load(load):
    time.sleep(0.5)
    return load.stop()


def switch_task(plugin, panel_get, site, **opts):
    res = plugin.switch(panel_get(plan_and_apply="1", site=site, **opts))
    assert res["status"], res
    return res["data"]["task_id"]


def rollback_task(plugin, panel_get, site):
    res = plugin.rollback(panel_get(site=site))
    assert res["status"], res
    return res["data"]["task_id"]


def ensure_uwsgi(sandbox, plugin, panel_get, site):
    """Safety net after a test: the site back on uWSGI through the plugin's own rollback
    (for a switch a fault left half done), any stray Gunicorn of the site stopped by pid."""
    for _ in range(60):  # a task still running finishes first
        if not any(t for t in _tasks(sandbox, site) if t.get("state") in ("pending", "running")):
            break
        for t in _tasks(sandbox, site):
            if t.get("state") in ("pending", "running"):
                plugin.get_task(panel_get(task_id=t["id"]))  # recovers a dead runner
        time.sleep(1)
    if record_of(sandbox, site):
        res = plugin.rollback(panel_get(site=site))
        if res["status"]:
            wait_task(plugin, panel_get, res["data"]["task_id"])
    for p in gunicorn_procs(sandbox, site):
        try:
            p.send_signal(signal.SIGTERM)
        except psutil.Error:
            pass
    psutil.wait_procs(gunicorn_procs(sandbox, site), timeout=20)
    if not uwsgi_masters(sandbox, site):
        sandbox.start_uwsgi(sandbox.sites[site])
    sandbox.wait_ok(sandbox.sites[site])


def _tasks(sandbox, site):
    d = state_dir(sandbox) / "tasks"
    out = []
    for f in sorted(d.glob("*.json")) if d.exists() else []:
        try:
            t = json.loads(f.read_text())
        except ValueError:
            continue
        if t.get("site") == site:
            out.append(t)
    return out


def assert_on_uwsgi(sandbox, site, before_files, before_families=None):
    """The site is as it was: uWSGI answers through nginx, files byte-identical, no Gunicorn
    of the site, no runner, no record."""
    assert server_of(sandbox, site) == ""
    assert config_snapshot(sandbox) == before_files
    assert gunicorn_procs(sandbox, site) == []
    assert len(uwsgi_masters(sandbox, site)) == 1
    assert record_of(sandbox, site) is None
    assert runners() == []
    if before_families is not None:
        assert families(sandbox) == before_families


def assert_no_loss(load):
    assert load["total"] > 0 and load["failed"] == 0, load


def step_states(task):
    return {s["name"]: s["state"] for s in task["steps"]}
