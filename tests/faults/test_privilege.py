"""Least privilege (issue 12): the site's own user, `www`, never becomes root through the plugin.

The attacker here is what a hole in the web app gives: a process running as `www`. Every
attack is made through that uid only (``subprocess.run(..., user="www")``), against a real
switch of a sandbox site whose project, logs and venv belong to `www`. Each attack worked
before the plugin ran the site's code as its user.
"""
import json
import os
import pwd
import stat
import subprocess
import threading
import time
from pathlib import Path

import psutil
import pytest

from gunicorn_switch_core import stats_layout
from tests.faults import faultlib as fl
from tests.faults.faultlib import wait_task

SITE = "blog.test"  # Supervisor shape, unix socket: the venv and the project are www's
CALL_DEADLINE = 60.0


def as_www(script, *args):
    """Run a shell script as `www` (the attacker), arguments passed as $1.. (never spliced)."""
    res = subprocess.run(["/bin/sh", "-c", script, "attacker"] + [str(a) for a in args],
                         user="www", group="www", extra_groups=[], capture_output=True,
                         check=False, env={"PATH": "/usr/bin:/bin"}, cwd="/")
    assert res.returncode == 0, res.stderr.decode()
    return res.stdout.decode()


def bounded(fn, *args):
    """Call a plugin method in a thread; a call that hangs (a FIFO read) fails the test."""
    out = {}

    def run():
        out["v"] = fn(*args)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(CALL_DEADLINE)
    assert not t.is_alive(), "%s did not return in %ss" % (getattr(fn, "__name__", fn), CALL_DEADLINE)
    return out["v"]


def site_packages(venv):
    return next(Path(venv).glob("lib/python*/site-packages"))


@pytest.fixture
def spy(sandbox):
    """A sitecustomize.py planted by www in its venv: every Python started from the venv
    (pip, --check-config, the Gunicorn master and workers) appends its uid to a log."""
    venv = sandbox.sites[SITE].venv
    log = Path(venv) / "uids.log"
    code = ("import os, sys\n"
            "try:\n"
            "    with open(%r, 'a') as f:\n"
            "        f.write('%%d %%d %%s\\n' %% (os.getuid(), os.geteuid(), ' '.join(sys.argv)[:200]))\n"
            "except OSError:\n"
            "    pass\n" % str(log))
    target = site_packages(venv) / "sitecustomize.py"
    as_www('printf "%s" "$1" > "$2" && : > "$3"', code, target, log)
    yield log
    for p in (target, log):
        try:
            p.unlink()
        except OSError:
            pass


def uids_seen(log):
    lines = [ln.split(" ", 2) for ln in Path(log).read_text().splitlines() if ln.strip()]
    return [(int(u), int(e), argv) for u, e, argv in lines]


def test_the_site_users_code_never_runs_as_root(sandbox, plugin, panel_get, spy):
    """plan, switch, status, reload, ±worker, restart, logs, a conf rewritten by www, a
    planted platform.py, rollback: whatever runs from www's venv or project runs as www."""
    fl.ensure_uwsgi(sandbox, plugin, panel_get, SITE)
    www = pwd.getpwnam("www").pw_uid
    try:
        plan = plugin.plan(panel_get(site=SITE))
        assert plan["status"], plan
        assert "user" not in plan["data"]["settings"]  # the master starts as www already
        task = wait_task(plugin, panel_get, fl.switch_task(plugin, panel_get, SITE))
        assert task["state"] == "succeeded", task
        rec = fl.record_of(sandbox, SITE)
        master = psutil.Process(int(Path(rec["pidfile"]).read_text()))
        assert master.uids().real == www and {c.uids().real for c in master.children()} == {www}

        # www rewrites its own conf (renamed over it, as its directory allows): the page's
        # reload and restart re-execute it
        extra = ("\nimport os as _spy_os\n"
                 "with open(%r, 'a') as _f:\n"
                 "    _f.write('%%d\\n' %% _spy_os.getuid())\n" % str(Path(spy)))
        as_www('cat "$1" > "$1.new" && printf "%s" "$2" >> "$1.new" && mv "$1.new" "$1"',
               rec["gunicorn_conf"], extra)
        for op in ("reload", "add_worker", "remove_worker", "restart"):
            res = bounded(plugin.control, panel_get(site=SITE, op=op))
            assert res["status"], (op, res)
        assert bounded(plugin.get_status, panel_get(site=SITE))["status"]
        assert bounded(plugin.get_logs, panel_get(site=SITE, kind="error", lines="50"))["status"]
        task = wait_task(plugin, panel_get, fl.rollback_task(plugin, panel_get, SITE))
        assert task["state"] == "succeeded", task
    finally:
        fl.ensure_uwsgi(sandbox, plugin, panel_get, SITE)
    seen = [ln for ln in Path(spy).read_text().splitlines() if ln.strip()]
    # the spy ran (pip, --check-config, the master re-reading the rewritten conf...) ...
    assert any("gunicorn" in ln for ln in seen), seen[:20]
    assert any(ln.strip() == str(www) for ln in seen), "the rewritten conf never ran"
    # ... and never as root
    assert [ln for ln in seen if ln.split()[0] == "0"] == []


def _decoy(sandbox, name):
    """A root-only file that www must never get to read, write or own."""
    p = sandbox.root / ("decoy-" + name)
    p.write_bytes(b"root's secret " + name.encode() + b"\n")
    os.chmod(p, 0o600)
    return p


def _same(decoys, before):
    return {str(p): (p.read_bytes(), os.lstat(p).st_mode, os.lstat(p).st_uid) for p in decoys} == before


def test_links_and_fifos_planted_by_www_change_no_root_file_and_hang_nothing(
        sandbox, plugin, panel_get):
    fl.ensure_uwsgi(sandbox, plugin, panel_get, SITE)
    project = sandbox.sites[SITE].project
    decoys = [_decoy(sandbox, n) for n in ("conf", "errorlog", "accesslog", "exits", "pid", "log")]
    before = {str(p): (p.read_bytes(), os.lstat(p).st_mode, os.lstat(p).st_uid) for p in decoys}

    # 1. the conf's own name is a link to a root file: the switch refuses, nothing written
    conf = project / "gunicorn_conf.py"
    as_www('ln -s "$1" "$2"', decoys[0], conf)
    try:
        task = wait_task(plugin, panel_get, fl.switch_task(plugin, panel_get, SITE))
        assert task["state"] == "rolled_back" and "symlink" in task["error"], task
        assert os.readlink(conf) == str(decoys[0])
    finally:
        as_www('rm -f "$1"', conf)
    assert _same(decoys, before)

    # 2. a switched site whose log and stats dirs www fills with links and FIFOs
    task = wait_task(plugin, panel_get, fl.switch_task(plugin, panel_get, SITE))
    assert task["state"] == "succeeded", task
    rec = fl.record_of(sandbox, SITE)
    try:
        stats = rec["stats_dir"]
        plants = [(rec["error_log"], decoys[1]), (rec["access_log"], decoys[2]),
                  (os.path.join(stats, stats_layout.EXITS_NAME + ".tmp"), decoys[3]),
                  (os.path.join(stats, stats_layout.EXITS_NAME), decoys[3]),
                  # what get_status reads for a timed-out worker's stacks
                  (os.path.join(stats, "99998" + stats_layout.ABORT_SUFFIX), decoys[3]),
                  (os.path.join(rec["log_dir"], "gunicorn_stdout.log"), decoys[5])]
        for path, decoy in plants:
            as_www('rm -f "$2"; ln -s "$1" "$2"', decoy, path)
        as_www('mkfifo "$1"', os.path.join(stats, "99999.slot"))
        as_www('mkfifo "$1"', os.path.join(stats, "99997" + stats_layout.ABORT_SUFFIX))
        for op in ("reload", "add_worker", "remove_worker", "restart"):
            bounded(plugin.control, panel_get(site=SITE, op=op))
            assert _same(decoys, before), op
        for kind in ("error", "access"):
            res = bounded(plugin.get_logs, panel_get(site=SITE, kind=kind, lines="20"))
            assert "root's secret" not in json.dumps(res, ensure_ascii=False), res
        res = bounded(plugin.get_status, panel_get(site=SITE))
        assert res["status"], res
        # FIFOs where root reads: the logs (Gunicorn keeps its open descriptors)
        for path in (rec["error_log"], rec["access_log"]):
            as_www('rm -f "$1"; mkfifo "$1"', path)
        for kind in ("error", "access"):
            bounded(plugin.get_logs, panel_get(site=SITE, kind=kind, lines="20"))
        assert bounded(plugin.get_status, panel_get(site=SITE))["status"]
        # the pidfile made a FIFO, then a link to a root file: no call hangs or reads it
        # (Gunicorn, as www, could not reopen its logs through the links above and may be
        # down by now: that is www's own site, and no root file changed)
        pidfile = rec["pidfile"]
        as_www('rm -f "$1"; mkfifo "$1"', pidfile)
        assert bounded(plugin.get_status, panel_get(site=SITE))["status"]
        bounded(plugin.control, panel_get(site=SITE, op="reload"))
        as_www('rm -f "$2"; ln -s "$1" "$2"', decoys[4], pidfile)
        assert bounded(plugin.get_status, panel_get(site=SITE))["status"]
        bounded(plugin.control, panel_get(site=SITE, op="reload"))
        as_www('rm -f "$1"', pidfile)
        assert _same(decoys, before)
    finally:
        task = wait_task(plugin, panel_get, fl.rollback_task(plugin, panel_get, SITE))
        # www's own mess, left in its own log dir, would break its next switch
        as_www('rm -f "$@"', rec["error_log"], rec["access_log"],
               os.path.join(rec["log_dir"], "gunicorn_stdout.log"))
        fl.ensure_uwsgi(sandbox, plugin, panel_get, SITE)
    assert task["state"] == "succeeded", task
    assert _same(decoys, before)
    for p in decoys:
        assert stat.S_IMODE(os.lstat(p).st_mode) == 0o600 and os.lstat(p).st_uid == 0


def test_a_pid_written_by_www_makes_root_signal_nobody_else(sandbox, plugin, panel_get):
    """The pidfile is www's to write: pointing it at a root process (here a sleeping child of
    the test) must not get that process a HUP, TTIN or TERM from the plugin."""
    fl.ensure_uwsgi(sandbox, plugin, panel_get, SITE)
    task = wait_task(plugin, panel_get, fl.switch_task(plugin, panel_get, SITE))
    assert task["state"] == "succeeded", task
    rec = fl.record_of(sandbox, SITE)
    victim = subprocess.Popen(["/bin/sleep", "300"])
    try:
        saved = Path(rec["pidfile"]).read_text()
        as_www('printf "%s" "$1" > "$2"', victim.pid, rec["pidfile"])
        for op in ("reload", "add_worker", "remove_worker"):
            res = bounded(plugin.control, panel_get(site=SITE, op=op))
            assert res["status"] is False, (op, res)
        time.sleep(0.5)
        assert victim.poll() is None
        as_www('printf "%s" "$1" > "$2"', saved, rec["pidfile"])
    finally:
        victim.kill()
        victim.wait()
        task = wait_task(plugin, panel_get, fl.rollback_task(plugin, panel_get, SITE))
        fl.ensure_uwsgi(sandbox, plugin, panel_get, SITE)
    assert task["state"] == "succeeded", task
