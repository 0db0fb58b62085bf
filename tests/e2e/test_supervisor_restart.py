"""Restart under the panel's Supervisor plugin under 50 concurrent connections through nginx:
Supervisor runs the keeper (keeper.py), so the restart is Gunicorn's re-exec and fails
nothing; stop and start through Supervisor still work; rollback leaves nothing behind.

Before the keeper it was stop-then-start: 64 % of the requests in the window got a 502.
The failed/total figures go to tests/results/supervisor_restart.json.
"""
import json
import os
from pathlib import Path

import psutil
import pytest

from gunicorn_switch_core import control, processes, records, status, supervisor_programs
from tests.sandbox import ops_load

SITE = "shop.test"  # uWSGI 2 processes x 2 threads: gthread as generated, sync with threads=1
RESULTS = Path(__file__).resolve().parents[1] / "results" / "supervisor_restart.json"


def _keep_result(name, res):
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    data[name] = {k: res[k] for k in ("failed", "total", "errors", "statuses", "window") if k in res}
    RESULTS.write_text(json.dumps(data, indent=2, sort_keys=True))


def _program_pid(prog):
    rc, out = supervisor_programs.supervisorctl("pid", prog)
    return int(out.strip()) if out.strip().isdigit() else None


def _site_processes(conf):
    """Every live process whose command line names the site's conf (keepers, masters)."""
    out = []
    for p in psutil.process_iter(["pid", "cmdline", "status"]):
        if conf in (p.info.get("cmdline") or []) and p.info.get("status") != psutil.STATUS_ZOMBIE:
            out.append(p.pid)
    return out


@pytest.mark.parametrize("worker_class", ["gthread", "sync"])
def test_a_restart_under_supervisor_fails_nothing(sandbox, worker_class):
    opts = {"manager": "supervisor", "worker_class": worker_class}
    if worker_class == "sync":
        opts["threads"] = 1
    ops_load.run_task("switch", SITE, **opts)
    rec = records.load(SITE)
    prog, conf = rec["manager_detail"], rec["gunicorn_conf"]
    program = open(supervisor_programs.program_file(prog)).read()
    try:
        assert rec["manager"] == "supervisor"
        assert "keeper.py --pidfile %s -- " % rec["pidfile"] in program, program
        keeper0, master0 = _program_pid(prog), ops_load._master_pid(SITE)
        assert psutil.Process(master0).ppid() == keeper0 and processes.kept(master0)
        assert psutil.Process(keeper0).uids().real == psutil.Process(master0).uids().real != 0
        assert status.get_status(SITE)["restart_lossless"] is True

        answer, res = ops_load.under_load(sandbox, SITE, lambda: control.control(SITE, "restart"))
        master1 = ops_load._master_pid(SITE)
        # Supervisor saw nothing die: the same keeper, running, the new master its child
        state1, keeper1 = supervisor_programs.program_state(prog), _program_pid(prog)
        parent1 = psutil.Process(master1).ppid()
        again = status.get_status(SITE)

        stopped = control.control(SITE, "stop")
        state_stopped = supervisor_programs.program_state(prog)
        left_after_stop = _site_processes(conf)
        started = control.control(SITE, "start")
        master2 = ops_load._master_pid(SITE)
        kept2 = processes.kept(master2)
        serves = sandbox.get(SITE, "/")[0]
    finally:
        ops_load.run_task("rollback", SITE)
    _keep_result("keeper, " + worker_class, res)
    assert res["total"] > 50 and res["failed"] == 0, res
    assert answer["method"] == "USR2" and answer["done"], answer
    assert answer["master_before"] == master0 and answer["master_after"] == master1 != master0
    assert len(answer["workers"]) == 2
    assert (state1, keeper1, parent1) == ("RUNNING", keeper0, keeper0)
    assert again["restart_lossless"] and again["master"]["pid"] == master1
    assert stopped["done"] and state_stopped == "STOPPED" and left_after_stop == []
    assert started["done"] and kept2 and len(started["workers"]) == 2 and serves == 200
    # rollback: uWSGI serves, the program is gone, no keeper or master of the site is left
    assert json.loads(sandbox.get(SITE, "/whoami/")[1])["server"] == ""
    assert not os.path.exists(supervisor_programs.program_file(prog))
    assert _site_processes(conf) == []


def test_a_program_of_an_older_release_restarts_by_stop_then_start(sandbox):
    """A Supervisor site switched before the keeper runs Gunicorn directly: its restart stays
    stop-then-start, and get_status says it is not lossless (the page warns before it)."""
    ops_load.run_task("switch", SITE, manager="supervisor")
    rec = records.load(SITE)
    prog = rec["manager_detail"]
    path = supervisor_programs.program_file(prog)
    try:
        text = open(path).read()
        line = next(ln for ln in text.splitlines() if ln.startswith("command="))
        old = "command=%s -c %s" % (rec["gunicorn_bin"], rec["gunicorn_conf"])
        with open(path, "w") as fh:
            fh.write(text.replace(line, old).replace("killasgroup=true", "killasgroup=false"))
        supervisor_programs.supervisorctl("update", prog)  # Supervisor restarts a changed program
        assert ops_load.wait_serving(sandbox, SITE)
        master0 = ops_load._master_pid(SITE)
        direct = processes.kept(master0) if master0 else None
        lossless = status.get_status(SITE)["restart_lossless"]
        answer, res = ops_load.under_load(sandbox, SITE, lambda: control.control(SITE, "restart"))
    finally:
        ops_load.run_task("rollback", SITE)
    _keep_result("older program (Gunicorn run directly), gthread", res)
    assert master0 and direct is False and lossless is False
    assert "method" not in answer and answer["done"] and answer["master_after"] != master0
