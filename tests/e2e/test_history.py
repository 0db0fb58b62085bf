"""The history ring the collector thread in a real Gunicorn master keeps: records of the
last steps with the requests and percentiles, bounded in size, still written after a HUP;
the listen queue of a unix socket as well as a TCP one; and 24 h of records (time injected
into the conf's own writer) in the same fixed size."""
import importlib.util
import os
import signal
import socket
import sys
import time

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "plugin"), str(ROOT)]

from gunicorn_switch_core import history, saturation, stats_layout as L  # noqa: E402
from tests.sandbox.checks import poll  # noqa: E402
from tests.sandbox.gunicorn_site import get  # noqa: E402


@pytest.mark.slow  # a real Gunicorn and seconds of waiting: `make test` runs it
def test_the_master_keeps_a_bounded_history_that_survives_a_reload(make_site):
    site = make_site(processes=2)
    ring = site.runtime / "stats" / L.HISTORY_NAME

    def busy_steps():
        for _ in range(20):
            get(site.url("/slow/?s=0.05"))
        pts = history.get_history(site.site, 300)["points"]
        return [p for p in pts if p["requests"] > 0] or None

    pts = poll(busy_steps, "a history step with requests", deadline=40)
    p = pts[-1]
    assert 40 <= p["p50"] <= 70 and p["p95"] >= p["p50"], p
    assert p["workers"] == 2 and p["rss_max"] > 0 and p["rss_sum"] >= p["rss_max"]
    assert p["rss_mean"] == p["rss_sum"] // 2 and 0 < p["rss_mean"] <= p["rss_max"], p
    assert p["queue"] == 0 and 0 <= p["busy_ratio"] <= 1
    assert ring.stat().st_size == L.HISTORY_BYTES
    assert oct(ring.stat().st_mode & 0o777) == "0o600"
    last = p["t"]
    os.kill(site.pid, signal.SIGHUP)  # a reload: new workers, the same master and thread
    after = poll(lambda: [q for q in history.get_history(site.site, 300)["points"]
                          if q["t"] > last + 5] or None, "a record after the reload", deadline=30)
    assert psutil_alive(site.pid)
    assert any(q["t"] == last for q in history.get_history(site.site, 300)["points"])
    assert after and ring.stat().st_size == L.HISTORY_BYTES


def psutil_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


# Longer than a history step and the collector's 1 s tick: a step closes while the slot is busy.
BLOCK_S = L.HISTORY_STEP + 5
WAITING = 3


@pytest.mark.slow  # a real Gunicorn, a slot blocked for a history step
def test_the_history_records_the_listen_queue_of_a_unix_socket(make_site):
    """A unix bind has no TCP_INFO: the collector asks sock_diag for its listener by inode."""
    site = make_site(processes=1, threads=1, unix=True, extra_ini="listen = 32\n")
    clients = []
    before = time.time()
    try:
        # one request takes the only slot; the others wait in the socket's accept queue
        for _ in range(1 + WAITING):
            c = socket.socket(socket.AF_UNIX)
            c.connect(site.sock)
            c.sendall(b"GET /slow/?s=%d HTTP/1.0\r\nHost: localhost\r\n\r\n" % BLOCK_S)
            clients.append(c)
        poll(lambda: (saturation.listen_queue(site.bind) or {}).get("queue") == WAITING,
             "%d connections queued, as ss -lx shows them" % WAITING, deadline=5)
        since = time.time()
        pts = poll(lambda: [p for p in history.get_history(site.site, 300)["points"]
                            if p["t"] > since] or None, "a history step while they wait",
                   deadline=BLOCK_S)
        p = pts[0]
        assert p["queue"] == WAITING and p["busy_ratio"] == 1.0 and p["workers"] == 1, p
    finally:
        for c in clients:
            c.close()
    # the records before the clients came saw an empty queue, not an unknown one
    assert all(q["queue"] == 0 for q in history.get_history(site.site, 300)["points"]
               if q["t"] < before)


def test_a_simulated_day_fills_the_ring_in_its_fixed_size(make_site, tmp_path):
    site = make_site(processes=1)
    # the conf's own writer, loaded as Gunicorn loads it, pointed at a ring of its own
    spec = importlib.util.spec_from_file_location("gsw_conf", str(site.conf))
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    conf._HISTORY_PATH = str(tmp_path / L.HISTORY_NAME)
    fd = conf._history_open()
    start = 1.8e9
    steps = L.HISTORY_SLOTS + 600  # a day and 100 minutes: the oldest places are reused
    try:
        for i in range(steps):
            conf._history_write(fd, start + i * L.HISTORY_STEP,
                                (i % 7, 1.0, 2.0, 3.0, 0.5, -1, 2, 0, 10 << 20, 6 << 20))
    finally:
        os.close(fd)
    data = (tmp_path / L.HISTORY_NAME).read_bytes()
    assert len(data) == L.HISTORY_BYTES
    end = start + (steps - 1) * L.HISTORY_STEP
    day = L.read_history(data, end, 86400)
    assert len(day) == L.HISTORY_SLOTS
    assert day[0]["t"] == end - (L.HISTORY_SLOTS - 1) * L.HISTORY_STEP and day[-1]["t"] == end
    assert day[-1]["requests"] == (steps - 1) % 7 and day[-1]["queue"] is None
    assert len(L.read_history(data, end, 300)) == 31
    folded = history.fold_history(day)
    assert len(folded) <= history.HISTORY_POINTS
    assert sum(p["requests"] for p in folded) == sum(p["requests"] for p in day)
