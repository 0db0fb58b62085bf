"""Saturation against a real Gunicorn: when every worker slot is busy, connections wait in
the kernel's listen queue; get_status must see that queue (TCP and unix socket), call the
site saturated once it stays non-empty, give one line of advice, and clear afterwards."""
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "plugin"), str(ROOT)]

from gunicorn_switch_core import saturation  # noqa: E402
from tests.sandbox import djangoapp, venvs  # noqa: E402
from tests.sandbox.checks import poll  # noqa: E402
from tests.sandbox.gunicorn_site import get, unix_get, wait_status  # noqa: E402

SLOW = 3.0
CLIENTS = 6  # for 2 slots: 4 wait in the listen queue

# Real Gunicorns under load, seconds of waiting each: `make test` runs them.
pytestmark = pytest.mark.slow


def test_a_backlog_builds_when_all_slots_are_busy_and_clears(make_site):
    site = make_site(processes=2, threads=1, extra_ini="listen = 64\n")
    idle = wait_status(site, lambda s: s["totals"]["requests"] == 1, "the start-up request")
    sat = idle["saturation"]
    assert sat["listen"] == {"queue": 0, "backlog": 64, "somaxconn": saturation.somaxconn()}
    assert (sat["slots"], sat["busy_slots"], sat["busy_ratio"]) == (2, 0, 0.0)
    assert sat["saturated"] is False and sat["advice"] is None
    done = []

    def client():
        done.append(get(site.url("/slow/?s=%s" % SLOW))[0])

    clients = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for t in clients:
        t.start()
    try:
        queued = wait_status(site, lambda s: s["saturation"]["listen"]["queue"] >= 3 and
                             s["saturation"]["busy_slots"] == 2,
                             "both slots busy, connections in the listen queue", deadline=SLOW)
        assert queued["saturation"]["busy_ratio"] == 1.0
        st = wait_status(site, lambda s: s["saturation"]["saturated"], "the saturated state",
                         deadline=2 * SLOW)
        assert st["saturation"]["listen"]["queue"] >= 1
        advice = st["saturation"]["advice"]
        assert advice and advice.startswith("Add ") and "MB" in advice, advice
        assert any(h.startswith("Saturated:") and advice in h for h in st["hints"]), st["hints"]
    finally:
        for t in clients:
            t.join(4 * SLOW + 10)
    assert done == [200] * CLIENTS
    clear = wait_status(site, lambda s: s["saturation"]["listen"]["queue"] == 0 and
                        not s["totals"]["busy"], "the queue to clear")
    assert clear["saturation"]["saturated"] is False and clear["saturation"]["advice"] is None
    assert not any(h.startswith("Saturated") for h in clear["hints"])


def test_the_queue_of_a_unix_socket_is_read_as_ss_shows_it(tmp_path):
    project = djangoapp.make_project(tmp_path / "proj", "hello")
    sock = str(tmp_path / "g.sock")
    proc = subprocess.Popen([str(venvs.site_venv() / "bin" / "gunicorn"), "-w", "1",
                             "--backlog", "32", "-b", "unix:" + sock, "hello.wsgi:application"],
                            cwd=str(project), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    clients = []
    try:
        poll(lambda: os.path.exists(sock) and unix_get(sock, "/").startswith(b"HTTP/1"),
                "gunicorn on " + sock, deadline=60)
        assert saturation.listen_queue("unix:" + sock) == {
            "queue": 0, "backlog": 32, "somaxconn": saturation.somaxconn()}
        clients = [threading.Thread(target=unix_get, args=(sock, "/slow/?s=2"))
                   for _ in range(4)]
        for t in clients:
            t.start()
        # one in the only worker, the other three wait to be accepted
        q = poll(lambda: (saturation.listen_queue("unix:" + sock) or {}).get("queue") == 3,
                    "3 connections queued on the unix socket", deadline=2)
        assert q
        assert saturation.listen_queue("unix:" + sock + ".none") is None
    finally:
        for t in clients:
            t.join(20)
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert not any(t.is_alive() for t in clients)
