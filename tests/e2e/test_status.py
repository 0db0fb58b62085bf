"""get_status against a real Gunicorn running a real Django project.

Each test (through ``make_site``: tests/e2e/conftest.py, tests/sandbox/gunicorn_site.py) renders
gunicorn_conf.py with the translation + render modules (hooks included),
starts Gunicorn on a free loopback port, writes the site's record under a temporary
GUNICORN_SWITCH_ROOT, and stops everything it started by PID.
"""
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "plugin"), str(ROOT)]

from gunicorn_switch_core import records, status  # noqa: E402
from tests.sandbox import venvs  # noqa: E402
from tests.sandbox.gunicorn_site import get, wait_status  # noqa: E402


# sync stays in `make test-fast` as the one real Gunicorn of this file there
@pytest.mark.parametrize("flavour", ["sync", pytest.param("gthread", marks=pytest.mark.slow),
                                     pytest.param("gunicorn23", marks=pytest.mark.slow)])
def test_requests_are_counted_per_worker(make_site, flavour):
    kw = {"gthread": {"threads": 3},
          "gunicorn23": {"venv": venvs.old_gunicorn_venv(), "gunicorn_version": "23.0.0"}}
    site = make_site(**kw.get(flavour, {}))
    # start() got one answer; its post_request may land just after the response.
    before = wait_status(site, lambda st: st["totals"]["requests"] == 1 and
                         len(st["workers"]) == 2, "the start-up request in the slots")
    assert before["running"] and before["managed"]
    assert before["master"]["pid"] == site.pid
    assert before["master"]["config"] == str(site.conf)
    assert before["master"]["bind"] == "127.0.0.1:%d" % site.port
    assert len(before["workers"]) == 2
    assert all(w["rps"] is None for w in before["workers"])  # first sample: no rate yet
    base = before["totals"]["requests"]
    n = 40
    for _ in range(n):
        assert get(site.url())[0] == 200
    time.sleep(0.3)  # rates need two samples at least MIN_INTERVAL apart
    after = wait_status(site, lambda st: st["totals"]["requests"] == base + n,
                        "%d more requests in the slots" % n)
    assert sum(w["requests"] for w in after["workers"]) == base + n
    for w in after["workers"]:
        assert w["rss"] > 0 and w["age"] >= 0 and w["cpu"] >= 0
        assert w["rps"] is not None and w["busy"] is False and w["current"] is None
        assert w["avg_ms"] >= 0
    assert after["totals"]["rps"] > 0
    assert after["totals"]["busy"] == 0
    assert after["hints"] == []


def gevent_venv():
    # What gunicorn[gevent] installs: 27.0.1's gevent worker imports packaging.
    return venvs._cached_venv("gevent", venvs.SITE_PACKAGES + [venvs.GUNICORN_NEW, "gevent",
                                                               "packaging"])


@pytest.mark.slow  # a real Gunicorn and seconds of waiting: `make test` runs it
@pytest.mark.parametrize("worker_class", ["sync", "gevent", "asgi"])
def test_a_slow_request_shows_its_worker_busy(make_site, worker_class):
    kw = {"gevent": {"worker_class": "gevent", "venv": gevent_venv()},
          "asgi": {"worker_class": "asgi"}}
    site = make_site(**kw.get(worker_class, {}))
    # Django's ASGI handler closes the response in a thread after the body is sent, so the
    # start-up request can still be in flight when its answer is already read.
    wait_status(site, lambda s: s["totals"]["requests"] == 1 and not s["totals"]["busy"],
                "the start-up request to finish")
    t = threading.Thread(target=get, args=(site.url("/slow/?s=3"),))
    t.start()
    try:
        st = wait_status(site, lambda s: any(w["busy"] for w in s["workers"]), "a busy worker")
        busy = [w for w in st["workers"] if w["busy"]]
        assert len(busy) == 1
        assert busy[0]["current"]["method"] == "GET"
        assert busy[0]["current"]["path"] == "/slow/"
        assert busy[0]["current"]["seconds"] >= 0
        assert st["totals"]["busy"] == 1
        assert [w["current"] for w in st["workers"] if not w["busy"]] == [None]
    finally:
        t.join(30)


@pytest.mark.slow  # a real Gunicorn and seconds of waiting: `make test` runs it
def test_a_timed_out_worker_is_reported(make_site):
    site = make_site(harakiri=2)
    errors = []

    def slow():
        try:
            get(site.url("/slow/?s=8"))
        except (OSError, urllib.error.URLError) as e:
            errors.append(e)

    t = threading.Thread(target=slow)
    t.start()
    try:
        st = wait_status(site, lambda s: any(w["busy"] for w in s["workers"]),
                         "the slow request")
        victim = next(w["pid"] for w in st["workers"] if w["busy"])

        st = wait_status(site, lambda s: any(e["pid"] == victim for e in s["recent_exits"]),
                         "the timeout exit of %d" % victim)
    finally:
        t.join(30)
    ex = next(e for e in st["recent_exits"] if e["pid"] == victim)
    assert ex["cause"] == "timeout", ex
    assert "WORKER TIMEOUT" in ex["detail"]
    assert victim not in [w["pid"] for w in st["workers"] if not w["exiting"]]
    assert any("timeout" in h for h in st["hints"])
    # The worker that replaced it says whose place it took.
    st = wait_status(site, lambda s: len(s["workers"]) == 2 and victim not in [
        w["pid"] for w in s["workers"]], "the replacement worker")
    assert any((w["last_exit"] or {}).get("pid") == victim for w in st["workers"]), st


def test_a_gunicorn_without_our_hooks_gets_process_columns_and_a_hint(make_site):
    site = make_site(hooks=False, site="bare.test")
    st = site.status()
    assert st["running"] and not st["managed"]
    assert st["master"]["pid"] == site.pid
    assert st["master"]["bind"] == "127.0.0.1:%d" % site.port
    assert len(st["workers"]) == 2
    for w in st["workers"]:
        assert w["rss"] > 0 and w["cpu"] >= 0
        assert w["requests"] is None and w["busy"] is None and w["avg_ms"] is None
    assert st["totals"]["requests"] is None
    assert len(st["hints"]) == 1 and "hooks" in st["hints"][0]


def test_a_stopped_site_is_reported_not_running(root, tmp_path):
    records.save({"site": "gone.test", "pidfile": str(tmp_path / "none.pid"),
                  "stats_dir": str(tmp_path / "stats"), "error_log": None})
    st = status.get_status("gone.test")
    assert st["running"] is False and st["master"] is None and st["workers"] == []
    assert st["hints"] == ["Gunicorn is not running"]
