"""A rendered gunicorn_conf.py really runs: N requests show up as N in the stats slots."""
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "plugin"), str(ROOT)]

from gunicorn_switch_core import render, stats_layout, uwsgi_config, uwsgi_translate  # noqa: E402
from tests.sandbox import djangoapp, venvs  # noqa: E402
from tests.sandbox.host import free_port  # noqa: E402

N = 25


def wait_http(url, proc, deadline=60):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError("gunicorn exited with %s" % proc.returncode)
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.status
        except OSError:
            time.sleep(0.2)
    raise AssertionError("gunicorn did not answer on %s" % url)


@pytest.mark.parametrize("threads", [1, 3])
def test_rendered_conf_counts_requests(tmp_path, threads):
    venv = venvs.site_venv()
    project = djangoapp.make_project(tmp_path / "proj", "hello")
    ini = tmp_path / "proj" / "uwsgi.ini"
    ini.write_text("[uwsgi]\nchdir = %d\nmodule = hello.wsgi:application\nmaster = true\n"
                   "processes = 2\nthreads = {}\nharakiri = 30\nmax-requests = 1000\n"
                   "reload-on-rss = 2048\n".format(threads))
    port = free_port()
    runtime = tmp_path / "run"
    tr = uwsgi_translate.translate(uwsgi_config.load(str(ini)), {
        "site": "hello", "project_path": str(project), "bind": "127.0.0.1:%d" % port,
        "user": "root", "log_dir": str(tmp_path / "logs"), "runtime_dir": str(runtime),
        "python_version": "3.11", "gunicorn_version": "27.0.1"})
    (tmp_path / "logs").mkdir()
    conf = tmp_path / "gunicorn_conf.py"
    conf.write_text(render.render(tr))
    proc = subprocess.Popen([str(venv / "bin" / "gunicorn"), "-c", str(conf)],
                            cwd=str(project), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = "http://127.0.0.1:%d/" % port
        wait_http(url, proc)
        for _ in range(N - 1):
            with urllib.request.urlopen(url, timeout=10) as r:
                assert r.status == 200
        stats = runtime / "stats"
        assert oct(stats.stat().st_mode & 0o777) == "0o700"
        # post_request runs after the response is sent: poll until the last one landed.
        for _ in range(100):
            got = stats_layout.read_stats_dir(str(stats))
            if sum(w["requests"] for w in got["workers"].values()) >= N:
                break
            time.sleep(0.05)
        workers = got["workers"]
        assert len(workers) == 2
        assert sum(w["requests"] for w in workers.values()) == N
        assert all(w["in_flight"] == 0 for w in workers.values())
        assert any(w["last_status"] == 200 and w["cur_path"] == "/" for w in workers.values())
        # A killed worker is recorded as such by the master's child_exit.
        victim = sorted(workers)[0]
        os.kill(victim, signal.SIGKILL)
        for _ in range(100):
            exits = stats_layout.read_stats_dir(str(stats))["exits"]
            if exits:
                break
            time.sleep(0.05)
        assert [(e["pid"], e["cause"]) for e in exits] == [(victim, "killed")]
        assert not (stats / ("%d.slot" % victim)).exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    exits = stats_layout.read_stats_dir(str(stats))["exits"]
    assert {e["cause"] for e in exits[1:]} == {"exit"}, out.decode(errors="replace")
    assert not list(stats.glob("*.slot"))
