"""A real Gunicorn serving a real Django project from a conf rendered by the translation and
render modules (hooks included), with the site's record under GUNICORN_SWITCH_ROOT: what the
status, control, logs and exits tests run against (fixtures ``root`` and ``make_site`` in
tests/e2e/conftest.py). Everything started is stopped by PID.
"""
import os
import pwd
import re
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import psutil

from gunicorn_switch_core import records, render, status, uwsgi_config, uwsgi_translate
from tests.sandbox import djangoapp, venvs
from tests.sandbox.checks import poll
from tests.sandbox.host import free_port

SITE = "status.test"


def wait_status(site, pred, what, deadline=30.0):
    """Poll the site's status until ``pred(status)`` holds; that status."""
    def check():
        st = site.status()
        return st if pred(st) else None
    return poll(check, what, deadline)


def get(url, timeout=30):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read()


def unix_get(path, url, timeout=30):
    """The raw HTTP/1.0 answer to a GET of ``url`` over the unix socket at ``path``."""
    c = socket.socket(socket.AF_UNIX)
    c.settimeout(timeout)
    try:
        c.connect(path)
        c.sendall(("GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n" % url).encode())
        data = b""
        while True:
            chunk = c.recv(65536)
            if not chunk:
                return data
            data += chunk
    finally:
        c.close()


class GunicornSite(object):
    """One Django project served by Gunicorn from a rendered conf, with its record."""

    def __init__(self, tmp, site=SITE, venv=None, processes=2, threads=1, harakiri=30,
                 hooks=True, gunicorn_version="27.0.1", worker_class=None, extra_ini="",
                 unix=False):
        """``unix``: bind a unix socket in the runtime dir (``self.sock``), as a switch with
        a unix bind does, instead of a TCP port."""
        self.tmp = Path(tmp)
        self.site = site
        self.venv = venv or venvs.site_venv()
        self.project = djangoapp.make_project(self.tmp / "proj", "hello")
        self.runtime = self.tmp / "run"
        self.port = None if unix else free_port()
        self.sock = str(self.runtime / "gunicorn.sock") if unix else None
        self.bind = "unix:" + self.sock if unix else "127.0.0.1:%d" % self.port
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
                "bind": self.bind,
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
                "log_dir": str(self.logs), "bind": self.bind,
                "venv": str(self.venv), "project_path": str(self.project),
                "gunicorn_version": gunicorn_version, "manager": "daemon",
                "manager_detail": None, "user": pwd.getpwuid(os.getuid()).pw_name,
            })
        else:
            # A Gunicorn someone started by hand: no conf of ours, no hooks, no record.
            self.argv = [str(self.venv / "bin" / "gunicorn"), "-w", str(processes),
                         "-b", self.bind, "--timeout", str(harakiri),
                         "--error-logfile", str(self.logs / "error.log"),
                         "hello.wsgi:application"]

    def url(self, path="/"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def get(self, path="/", timeout=30):
        """(status, body) of a GET over the site's bind, TCP or unix."""
        if self.sock is None:
            return get(self.url(path), timeout)
        head, _, body = unix_get(self.sock, path, timeout).partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/"):
            raise OSError("no HTTP answer on %s" % self.sock)
        return int(head.split()[1]), body

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
                self.get("/", timeout=2)
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
                "listen": [self.bind]}

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


def set_live(conf, **values):
    text = conf.read_text()
    for name, value in values.items():
        text, n = re.subn(r"^%s = .*$" % name, "%s = %s" % (name, value), text, flags=re.M)
        assert n == 1, name
    conf.write_text(text)
