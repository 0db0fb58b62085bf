"""Soak (issue 8): switch/rollback cycles of one site under a steady load through nginx.

GSW_SOAK_CYCLES sets the number of cycles (20 by default, as CI runs it). After every cycle
each file is byte-identical to before and no process is left; at the end the nginx master's
and supervisord's open file descriptors are as many as at the start, no backup, temp file or
staged nginx dir is left, and not one request failed. Figures go to tests/results/soak.json.
"""
import json
import os
import tempfile
import time
from pathlib import Path

import psutil

from tests.faults import faultlib as fl
from tests.faults.faultlib import config_snapshot, wait_task

CYCLES = int(os.environ.get("GSW_SOAK_CYCLES") or 20)
SITE = "shop.test"  # run by Supervisor once switched: supervisord's fds are watched too
RESULTS = Path(__file__).resolve().parents[1] / "results"


def _pid(sandbox, baota_path):
    return int(sandbox.p(baota_path).read_text().strip())


def fds(sandbox):
    return {"nginx_master": psutil.Process(_pid(sandbox, "/www/server/nginx/logs/nginx.pid")).num_fds(),
            "supervisord": psutil.Process(_pid(sandbox, "/var/run/supervisord.pid")).num_fds()}


def leftovers(sandbox):
    """Temp files and staged dirs anywhere we write, and backups not yet discarded."""
    out = [str(p) for p in sandbox.root.rglob(".gsw-*")]
    out += [n for n in os.listdir(tempfile.gettempdir()) if n.startswith("gunicorn_switch_nginx_")]
    backups = fl.state_dir(sandbox) / "backups"
    if backups.exists():
        out += [str(p) for p in backups.rglob("*") if p.is_file()]
    return out


def nginx_workers(sandbox):
    return len(psutil.Process(_pid(sandbox, "/www/server/nginx/logs/nginx.pid")).children())


def test_soak(sandbox, plugin, panel_get):
    for s in sandbox.sites:
        fl.ensure_uwsgi(sandbox, plugin, panel_get, s)
    before = config_snapshot(sandbox)
    fams = fl.families(sandbox)
    fds_before = fds(sandbox)
    left_before = leftovers(sandbox)
    workers_before = nginx_workers(sandbox)
    tasks_dir = fl.state_dir(sandbox) / "tasks"
    journals_before = len(list(tasks_dir.glob("*.json")))
    t0 = time.monotonic()
    cycle_times = []
    load = fl.start_load(sandbox, SITE, max_seconds=3600)
    try:
        for i in range(CYCLES):
            c0 = time.monotonic()
            task = wait_task(plugin, panel_get, fl.switch_task(plugin, panel_get, SITE))
            assert task["state"] == "succeeded", (i, task)
            assert fl.server_of(sandbox, SITE).startswith("gunicorn/")
            task = wait_task(plugin, panel_get, fl.rollback_task(plugin, panel_get, SITE))
            assert task["state"] == "succeeded", (i, task)
            assert config_snapshot(sandbox) == before, i
            assert fl.families(sandbox) == fams, i
            assert fl.runners() == []
            assert load.failed == 0, (i, load.result())
            cycle_times.append(round(time.monotonic() - c0, 1))
    finally:
        result = fl.stop_load(load)
    elapsed = time.monotonic() - t0
    # nginx workers of the last reload may take a moment to finish their keep-alives
    end = time.monotonic() + 30
    while nginx_workers(sandbox) > workers_before and time.monotonic() < end:
        time.sleep(0.5)
    fds_after = fds(sandbox)
    figures = {"cycles": CYCLES, "seconds": round(elapsed, 1), "cycle_seconds": cycle_times,
               "requests": result["total"], "failed": result["failed"], "statuses": result["statuses"],
               "errors": result["errors"], "fds_before": fds_before, "fds_after": fds_after,
               "nginx_workers": [workers_before, nginx_workers(sandbox)],
               "journals": len(list(tasks_dir.glob("*.json"))) - journals_before}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "soak.json").write_text(json.dumps(figures, indent=2, sort_keys=True))
    fl.assert_no_loss(result)
    assert load.total < 10 ** 9  # the load ran until the last cycle ended
    assert fds_after == fds_before, figures
    assert leftovers(sandbox) == left_before, figures
    assert figures["journals"] == 2 * CYCLES  # the journal stays; nothing else does
    assert nginx_workers(sandbox) == workers_before
    fl.assert_on_uwsgi(sandbox, SITE, before, fams)
