"""get_status against a real Gunicorn running a real Django project.

Each test renders gunicorn_conf.py with the translation + render modules (hooks included),
starts Gunicorn on a free loopback port, writes the site's record under a temporary
GUNICORN_SWITCH_ROOT, and stops everything it started by PID.
"""
import os
import pwd
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "plugin"), str(ROOT)]

from gunicorn_switch_core import (  # noqa: E402
    records, render, status, uwsgi_config, uwsgi_translate)
from tests.sandbox import djangoapp, venvs  # noqa: E402
from tests.sandbox.host import free_port  # noqa: E402

SITE = "status.test"


def poll(check, what, deadline=30.0):
    """Poll ``check()`` until it returns a true value; fail with ``what`` after ``deadline``."""
    end = time.monotonic() + deadline
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.1)


def wait_status(site, pred, what, deadline=30.0):
    """Poll the site's status until ``pred(status)`` holds; that status."""
    def check():
        st = site.status()
        return st if pred(st) else None
    return poll(check, what, deadline)


def get(url, timeout=30):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read()


class GunicornSite(object):
    """One Django project served by Gunicorn from a rendered conf, with its record."""

    def __init__(self, tmp, site=SITE, venv=None, processes=2, threads=1, harakiri=30,
                 hooks=True, gunicorn_version="27.0.1", worker_class=None, extra_ini=""):
        self.tmp = Path(tmp)
        self.site = site
        self.venv = venv or venvs.site_venv()
        self.port = free_port()
        self.project = djangoapp.make_project(self.tmp / "proj", "hello")
        self.runtime = self.tmp / "run"
        self.logs = self.tmp / "logs"
        self.logs.mkdir()
        self.conf = self.tmp / "gunicorn_conf.py"
        self.proc = None
        self.seen = {}  # pid -> create_time of every worker seen, to stop leftovers safely
        self.hooks = hooks
        if hooks:
            ini = self.project / "uwsgi.ini"
            ini.write_text("[uwsgi]\nchdir = %s\nmodule = hello.wsgi:application\n"
                           "master = true\nprocesses = %d\nthreads = %d\nharakiri = %d\n%s"
                           % (self.project, processes, threads, harakiri, extra_ini))
            tr = uwsgi_translate.translate(uwsgi_config.load(str(ini)), {
                "site": site, "project_path": str(self.project),
                "bind": "127.0.0.1:%d" % self.port,
                "user": pwd.getpwuid(os.getuid()).pw_name, "log_dir": str(self.logs),
                "runtime_dir": str(self.runtime), "python_version": "3.11",
                "gunicorn_version": gunicorn_version, "worker_class": worker_class})
            self.conf.write_text(render.render(tr))
            self.argv = [str(self.venv / "bin" / "gunicorn"), "-c", str(self.conf)]
            records.save({
                "site": site, "gunicorn_conf": str(self.conf),
                "pidfile": str(self.runtime / "gunicorn.pid"),
                "runtime_dir": str(self.runtime), "stats_dir": str(self.runtime / "stats"),
                "control_socket": str(self.runtime / "gunicorn.ctl")
                if uwsgi_translate.has_feature(gunicorn_version, "control_socket") else None,
                "error_log": str(self.logs / "gunicorn_error.log"),
                "access_log": str(self.logs / "gunicorn_access.log"),
                "log_dir": str(self.logs), "bind": "127.0.0.1:%d" % self.port,
                "venv": str(self.venv), "project_path": str(self.project),
                "gunicorn_version": gunicorn_version, "manager": "daemon",
                "manager_detail": None, "user": pwd.getpwuid(os.getuid()).pw_name,
            })
        else:
            # A Gunicorn someone started by hand: no conf of ours, no hooks, no record.
            self.argv = [str(self.venv / "bin" / "gunicorn"), "-w", str(processes),
                         "-b", "127.0.0.1:%d" % self.port, "--timeout", str(harakiri),
                         "--error-logfile", str(self.logs / "error.log"),
                         "hello.wsgi:application"]

    def url(self, path="/"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def start(self):
        out = open(str(self.tmp / "gunicorn.out"), "wb")
        self.proc = subprocess.Popen(self.argv, cwd=str(self.project), stdout=out,
                                     stderr=subprocess.STDOUT)
        out.close()
        end = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("gunicorn exited: %s" % self.output())
            try:
                get(self.url(), timeout=2)
                break
            except OSError:
                if time.monotonic() > end:
                    raise
                time.sleep(0.2)
        self.note_workers()
        return self

    @property
    def pid(self):
        return self.proc.pid

    def info(self):
        """What discovery would say of this site (used when it has no record)."""
        return {"site": self.site, "server": "gunicorn", "pid": self.pid,
                "listen": ["127.0.0.1:%d" % self.port]}

    def status(self):
        st = status.get_status(self.site, None if self.hooks else self.info())
        for w in st["workers"]:
            self.seen[w["pid"]] = w["started"]
        return st

    def note_workers(self):
        for c in psutil.Process(self.pid).children():
            try:
                self.seen[c.pid] = c.create_time()
            except psutil.Error:
                pass

    def output(self):
        out = ""
        for f in (self.tmp / "gunicorn.out", self.logs / "gunicorn_error.log"):
            try:
                out += f.read_text(errors="replace")[-3000:]
            except OSError:
                pass
        return out

    def stop(self):
        if self.proc is None:
            return
        try:
            self.note_workers()
        except psutil.Error:
            pass
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pid, started in self.seen.items():
            try:
                p = psutil.Process(pid)
                if abs(p.create_time() - started) < 0.05:
                    p.kill()
            except psutil.Error:
                pass


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("GUNICORN_SWITCH_ROOT", str(tmp_path / "root"))
    monkeypatch.setenv("GUNICORN_SWITCH_LANG", "en")
    status._SAMPLES.clear()
    return tmp_path / "root"


@pytest.fixture
def make_site(root, tmp_path):
    started = []

    def make(**kw):
        s = GunicornSite(tmp_path / ("s%d" % len(started)), **kw)
        started.append(s)
        return s.start()

    yield make
    for s in started:
        s.stop()


@pytest.mark.parametrize("flavour", ["sync", "gthread", "gunicorn23"])
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
