"""uWSGI's reload files keep working under Gunicorn: touching touch-reload replaces every
worker with no failed request under load, touching touch-logreopen reopens the logs."""
import os
import threading
import urllib.error

import psutil
import pytest

from tests.sandbox.checks import poll
from tests.sandbox.gunicorn_site import get

CLIENTS = 4
REQUESTS_PER_CLIENT = 3000  # bounded even if the test never stops the load


def _workers(site):
    return {c.pid for c in psutil.Process(site.pid).children()}


@pytest.mark.slow  # a real Gunicorn and seconds of waiting: `make test` runs it
def test_touching_the_reload_file_replaces_every_worker_without_a_failed_request(
        make_site, tmp_path):
    # There before Gunicorn starts, as on a deployed site (creating it would be a change).
    flag = tmp_path / "reload.txt"
    flag.write_text("")
    site = make_site(processes=3, extra_ini="touch-reload = %s\n" % flag)
    _wait_watcher(site)
    stop = threading.Event()
    counts = {"ok": 0, "failed": []}
    lock = threading.Lock()

    def load():
        for _ in range(REQUESTS_PER_CLIENT):
            if stop.is_set():
                return
            try:
                code, _ = get(site.url(), timeout=10)
                with lock:
                    counts["ok"] += code == 200
                    if code != 200:
                        counts["failed"].append(code)
            except (OSError, urllib.error.URLError) as e:
                with lock:
                    counts["failed"].append(repr(e))

    clients = [threading.Thread(target=load) for _ in range(CLIENTS)]
    for t in clients:
        t.start()
    try:
        poll(lambda: counts["ok"] >= 50, "traffic before the touch")
        old = _workers(site)
        assert len(old) == 3
        master = site.pid
        st = os.stat(str(flag))
        os.utime(str(flag), ns=(st.st_atime_ns, st.st_mtime_ns + 1000000000))
        new = poll(lambda: (lambda w: w if len(w) == 3 and not w & old else None)(
            _workers(site)), "every worker replaced after the touch")
        seen = counts["ok"]
        poll(lambda: counts["ok"] >= seen + 50, "traffic after the reload")
    finally:
        stop.set()
        for t in clients:
            t.join(60)
    site.note_workers()
    assert site.pid == master  # a graceful reload, not a restart
    assert not new & old
    assert counts["failed"] == [], counts["failed"][:5]
    print("reload file: %d requests, %d failed" % (counts["ok"], len(counts["failed"])))
    assert "reload.txt changed: SIGHUP" in (site.logs / "gunicorn_error.log").read_text()


def test_touching_the_logreopen_file_reopens_the_logs(make_site, tmp_path):
    flag = tmp_path / "logreopen"  # an absolute path, taken as it is
    flag.write_text("")
    site = make_site(processes=1, extra_ini="touch-logreopen = %s\n" % flag)
    _wait_watcher(site)
    log = site.logs / "gunicorn_access.log"
    get(site.url())
    poll(lambda: log.exists() and log.stat().st_size > 0, "the first access line")
    os.rename(str(log), str(log) + ".1")  # what logrotate does before it signals
    st = os.stat(str(flag))
    os.utime(str(flag), ns=(st.st_atime_ns, st.st_mtime_ns + 1000000000))

    def reopened():
        get(site.url())
        return log.exists() and log.stat().st_size > 0
    poll(reopened, "a new access log after the touch")


def _wait_watcher(site):
    poll(lambda: "gunicorn_switch: watching" in (site.logs / "gunicorn_error.log").read_text(),
         "the watcher thread")
