"""Log rotation by the collector thread in a real Gunicorn master, under load: every request
has its access-log line in the live log or a rotated one, and no process of the site keeps a
log open by a deleted name."""
import os
import re
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "plugin"), str(ROOT)]

import psutil  # noqa: E402

from gunicorn_switch_core import log_rotation  # noqa: E402
from tests.sandbox.checks import poll  # noqa: E402
from tests.sandbox.gunicorn_site import get, set_live  # noqa: E402
from tests.sandbox.load import Load  # noqa: E402

# Real Gunicorns under load, seconds of waiting each: `make test` runs them.
pytestmark = pytest.mark.slow


def access_lines(logs):
    files = sorted(logs.glob("gunicorn_access.log*"))
    return sum(f.read_bytes().count(b"\n") for f in files), files


def deleted_fds(pids, under):
    """Descriptors of ``pids`` open on a deleted file under ``under`` (Gunicorn's own
    heartbeat files in /dev/shm are unlinked on purpose: not logs)."""
    out = []
    for pid in pids:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if target.endswith(" (deleted)") and target.startswith(str(under)):
                out.append((pid, target))
    return out


def test_rotation_under_load_loses_no_line_and_leaves_no_deleted_file_open(make_site):
    site = make_site(processes=2, threads=2)
    log = site.logs / "gunicorn_access.log"
    assert log.exists()
    # small files and a fast tick, so that a short load rotates several times; KEEP high
    # enough that no rotated file is dropped before the lines are counted
    set_live(site.conf, _LOG_ROTATE_MAX_BYTES=4000, _COLLECT_EVERY=0.2, _LOG_ROTATE_KEEP=500)
    time.sleep(1.5)  # the thread re-reads them within a second
    load = Load(site.port, "127.0.0.1", paths=["/"], concurrency=4, max_seconds=20,
                max_requests=800).start()
    for t in load.threads:
        t.join(30)
    res = load.stop()
    assert res["failed"] == 0, res
    sent = 1 + len(load.latencies)  # and the request start() made
    lines = poll(lambda: access_lines(site.logs)[0] == sent and sent,
                 "%d access-log lines" % sent, deadline=15)
    assert lines
    _, files = access_lines(site.logs)
    assert len(files) >= 3, files  # the live log and at least two rotations
    assert all(re.match(r"gunicorn_access\.log(\.\d+)?$", f.name) for f in files)
    # the master has had the USR1 of the last rotation handled by everyone
    master = psutil.Process(site.pid)
    time.sleep(1.0)
    pids = [site.pid] + [c.pid for c in master.children()]
    assert deleted_fds(pids, site.logs) == []
    # the live logs are the files the processes write to now
    before = access_lines(site.logs)[0]
    get(site.url())
    poll(lambda: access_lines(site.logs)[0] == before + 1, "one more line")


def test_keep_drops_the_oldest_and_nothing_stays_open_deleted(make_site):
    site = make_site(processes=1)
    # keep through the 设置 tab's path (the site's record, its conf, a backup)
    assert log_rotation.get(site.site)["keep"] == 7
    got = log_rotation.put(site.site, {"keep": 2})
    assert got["keep"] == 2 and Path(got["backup"]).exists()
    set_live(site.conf, _LOG_ROTATE_MAX_BYTES=300, _COLLECT_EVERY=0.2)
    time.sleep(1.5)
    for _ in range(40):
        get(site.url())
        time.sleep(0.05)
    time.sleep(1.0)
    names = sorted(f.name for f in site.logs.glob("gunicorn_access.log*"))
    assert names == ["gunicorn_access.log", "gunicorn_access.log.1", "gunicorn_access.log.2"]
    pids = [site.pid] + [c.pid for c in psutil.Process(site.pid).children()]
    assert deleted_fds(pids, site.logs) == []
