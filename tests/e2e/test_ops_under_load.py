"""Every operation of the status page under 50 concurrent connections through nginx, on a site
the plugin switched, for gthread and sync workers: reload, add and remove a worker, restart,
a max_requests recycle storm and a worker killed by its timeout. None may fail a request.

Restart was stop-then-start (502s while the new master booted); it is now Gunicorn's USR2
upgrade where the manager follows the pidfile (control.REEXEC_MANAGERS), hence manager=daemon.
"""
import json

import pytest

from gunicorn_switch_core import records
from tests.sandbox import ops_load

SITE = "shop.test"  # uWSGI 2 processes x 2 threads: gthread as generated, sync with threads=1


@pytest.mark.parametrize("worker_class", ["gthread", "sync"])
def test_every_page_operation_under_load_fails_nothing(sandbox, worker_class):
    opts = {"manager": "daemon", "worker_class": worker_class}
    if worker_class == "sync":
        opts["threads"] = 1  # Gunicorn runs gthread for sync with threads > 1
    task, _took = ops_load.run_task("switch", SITE, **opts)
    # the page's "serving on Gunicorn": the commit point, before uWSGI's exit is waited for
    steps = {s["name"]: s for s in task["steps"]}
    assert task["serving_since"] == steps["swap_nginx"]["finished"]
    assert task["serving_since"] <= steps["stop_uwsgi"]["started"] <= task["finished"]
    try:
        assert json.loads(sandbox.get(SITE, "/whoami/")[1])["server"].startswith("gunicorn/")
        conf = records.load(SITE)["gunicorn_conf"]
        assert "worker_class = %r" % worker_class in open(conf).read()
        master0 = ops_load._master_pid(SITE)
        conf0 = open(conf, "rb").read()
        results = ops_load.operations(sandbox, SITE, storm_seconds=3)
        conf1 = open(conf, "rb").read()
        master1 = ops_load._master_pid(SITE)
    finally:
        ops_load.run_task("rollback", SITE)
    assert set(results) == set(ops_load.PAGE_OPS) | {"max_requests storm", "timeout kill"}
    for op, res in results.items():
        assert res["total"] > 50 and res["failed"] == 0, (op, res)
        assert res["op"]["done"], (op, res["op"])
    r = results
    assert len(r["reload"]["op"]["new_workers"]) == 2
    assert not set(r["reload"]["op"]["old_workers"]) & set(r["reload"]["op"]["new_workers"])
    assert r["add_worker"]["op"]["conf_workers"] == {"before": 2, "after": 3}
    assert r["remove_worker"]["op"]["conf_workers"] == {"before": 3, "after": 2}
    restart = r["restart"]["op"]
    assert restart["method"] == "USR2" and restart["master_before"] != restart["master_after"]
    assert restart["master_before"] == master0 and restart["master_after"] == master1
    assert len(restart["workers"]) == 2
    assert r["max_requests storm"]["op"]["recycled"] >= 2
    if worker_class == "sync":
        kill = r["timeout kill"]["op"]
        assert kill["killed"] >= 1 and kill["slow_request"] in (500, 502, 504), kill
    # the storm and the timeout put the conf back; only the workers line moved (add, remove)
    assert conf1 == conf0.replace(b"workers = 2", b"workers = 2", 1) or \
        [a for a, b in zip(conf0.splitlines(), conf1.splitlines()) if a != b] == \
        [line for line in conf0.splitlines() if line.startswith(b"workers =")]
    assert json.loads(sandbox.get(SITE, "/whoami/")[1])["server"] == ""


def test_restart_of_a_panel_project_under_load_fails_nothing(sandbox):
    """The panel's Python project (`api`, uWSGI http= before): restart by USR2, and the
    panel's pid file follows the new master, or its daemon would start the project again."""
    site = "api"
    ops_load.run_task("switch", site)
    try:
        rec = records.load(site)
        assert rec["manager"] == "panel_project"
        answer, res = ops_load.under_load(sandbox, site, lambda: ops_load.control.control(site, "restart"))
        pid_file = sandbox.p("/www/server/python_project/vhost/pids/%s.pid" % site)
        panel_pid = int(pid_file.read_text().strip())
        restarted_by_panel = sandbox.panel_daemon_tick()
        still = ops_load._master_pid(site)
    finally:
        ops_load.run_task("rollback", site)
    assert res["total"] > 50 and res["failed"] == 0, res
    assert answer["done"] and answer["method"] == "USR2", answer
    assert answer["master_after"] != answer["master_before"]
    assert panel_pid == answer["master_after"] == still
    assert restarted_by_panel == []
