"""control() and get_logs() against a real Gunicorn running a real Django project, and the
panel methods that wrap them."""
import os
import signal
import sqlite3
import threading
import urllib.error

import psutil
import pytest

from gunicorn_switch_core import control, logs, processes, records, status
from tests.sandbox.checks import poll
from tests.sandbox.gunicorn_site import get

# Fixtures root and make_site (a temporary root, Gunicorn sites stopped by PID): tests/e2e/conftest.py.


def conf_workers(site):
    return control.conf_workers(site.conf.read_text())


@pytest.mark.slow  # a real Gunicorn and seconds of waiting: `make test` runs it
def test_add_and_remove_a_worker_persist_in_the_conf(make_site, root):
    site = make_site()
    text0 = site.conf.read_text()
    res = control.control(site.site, "add_worker")
    assert res["done"] and res["conf_workers"] == {"before": 2, "after": 3}
    assert len(res["added"]) == 1 and res["removed"] == []
    assert conf_workers(site) == 3
    st = site.status()
    assert sorted(w["pid"] for w in st["workers"]) == res["workers_after"]
    # Only the workers line changed, and the origin comment above it is still there.
    changed = [(a, b) for a, b in zip(text0.splitlines(), site.conf.read_text().splitlines())
               if a != b]
    assert len(changed) == 1 and changed[0][1].startswith("workers = 3  # set by the status page")
    assert open(res["backup"]).read() == text0
    assert oct(os.stat(res["backup"]).st_mode & 0o777) == "0o600"
    assert str(root) in res["backup"]

    res = control.control(site.site, "remove_worker")
    assert res["done"] and res["conf_workers"] == {"before": 3, "after": 2}
    assert len(res["removed"]) == 1
    assert conf_workers(site) == 2
    res = control.control(site.site, "remove_worker")
    assert res["done"] and conf_workers(site) == 1
    with pytest.raises(control.ControlError):
        control.control(site.site, "remove_worker")
    assert conf_workers(site) == 1
    assert len(site.status()["workers"]) == 1
    # A reload re-reads the conf: the count stays.
    control.control(site.site, "reload")
    assert len(site.status()["workers"]) == 1


@pytest.mark.slow  # a real Gunicorn and seconds of waiting: `make test` runs it
def test_reload_replaces_every_worker_without_a_failed_request(make_site):
    site = make_site(processes=3)
    stop = threading.Event()
    counts = {"ok": 0, "failed": []}

    def load():
        for _ in range(5000):  # bounded even if stop is never set
            if stop.is_set():
                return
            try:
                code, _ = get(site.url(), timeout=10)
                counts["ok"] += code == 200
                if code != 200:
                    counts["failed"].append(code)
            except (OSError, urllib.error.URLError) as e:
                counts["failed"].append(repr(e))

    t = threading.Thread(target=load)
    t.start()
    try:
        poll(lambda: counts["ok"] >= 20, "traffic before the reload")
        res = control.control(site.site, "reload")
        seen = counts["ok"]
        poll(lambda: counts["ok"] >= seen + 20, "traffic after the reload")
    finally:
        stop.set()
        t.join(30)
    assert res["done"], res
    assert len(res["old_workers"]) == 3 and len(res["new_workers"]) == 3
    assert not set(res["old_workers"]) & set(res["new_workers"])
    assert counts["failed"] == []
    st = site.status()
    assert sorted(w["pid"] for w in st["workers"]) == res["new_workers"]


def test_get_logs_tails_and_refuses_paths_outside_the_log_dir(make_site, tmp_path):
    site = make_site()
    for _ in range(5):
        get(site.url("/db/"))
    text = logs.get_logs(site.site, "error", 2000)
    assert "Booting worker with pid" in text
    assert text.endswith("\n")
    assert len(logs.get_logs(site.site, "error", 1).splitlines()) == 1
    access = poll(lambda: logs.get_logs(site.site, "access", 3), "access log lines")
    assert "/db/" in access and len(access.splitlines()) <= 3
    with pytest.raises(logs.LogError):
        logs.get_logs(site.site, "error", 0)
    with pytest.raises(logs.LogError):
        logs.get_logs(site.site, "secrets", 10)

    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0\n")
    rec = records.load(site.site)
    for bad in (str(secret), str(site.logs / ".." / "secret.txt")):
        records.save(dict(rec, error_log=bad))
        with pytest.raises(logs.LogError):
            logs.get_logs(site.site, "error", 10)
    link = site.logs / "evil.log"
    link.symlink_to(secret)
    records.save(dict(rec, error_log=str(link)))
    with pytest.raises(logs.LogError):
        logs.get_logs(site.site, "error", 10)


def test_a_big_log_is_read_from_its_end_only(make_site):
    site = make_site()
    big = site.logs / "gunicorn_access.log"
    with open(str(big), "a") as fh:
        for i in range(100000):
            fh.write("line %06d %s\n" % (i, "x" * 40))
    text = logs.get_logs(site.site, "access", 2000)
    lines = text.splitlines()
    assert len(lines) == 2000 and lines[-1].startswith("line 099999")
    assert len(text.encode()) <= logs.MAX_BYTES


def _sites_db(root, *names):
    db = root / "www/server/panel/data/db/site.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(str(db))
    con.execute("create table sites (id integer primary key, name text, path text, "
                "project_type text, project_config text)")
    for n in names:
        con.execute("insert into sites (name, path, project_type, project_config) "
                    "values (?, '/www/wwwroot/x', 'Python', '{}')", (n,))
    con.commit()
    con.close()


@pytest.mark.slow  # a real Gunicorn and seconds of waiting: `make test` runs it
def test_panel_methods(make_site, root, panel_get):
    import gunicorn_switch_main

    site = make_site()
    _sites_db(root, site.site)
    p = gunicorn_switch_main.gunicorn_switch_main()
    res = p.get_status(panel_get(site=site.site))
    assert res["status"], res
    assert res["data"]["master"]["pid"] == site.pid and len(res["data"]["workers"]) == 2
    res = p.get_logs(panel_get(site=site.site, kind="error", lines="5"))
    assert res["status"] and len(res["data"].splitlines()) <= 5
    res = p.control(panel_get(site=site.site, op="add_worker"))
    assert res["status"] and res["data"]["conf_workers"]["after"] == 3
    for bad in (dict(op="rm"), dict(op="")):
        assert p.control(panel_get(site=site.site, **bad))["status"] is False
    for bad in (dict(kind="x"), dict(lines="0"), dict(lines="2001"), dict(lines="-1"),
                dict(lines="1e3")):
        assert p.get_logs(panel_get(site=site.site, **bad))["status"] is False
    for name in ("../x", "nope.test"):
        assert p.get_status(panel_get(site=name))["status"] is False
    # A record for a site the panel no longer has is not enough.
    records.save(dict(records.load(site.site), site="ghost.test"))
    assert p.get_status(panel_get(site="ghost.test"))["status"] is False


@pytest.mark.slow  # a real Gunicorn and seconds of waiting: `make test` runs it
def test_unmanaged_site_can_only_be_reloaded(make_site):
    site = make_site(hooks=False, site="bare.test")
    with pytest.raises(control.ControlError):
        control.control("bare.test", "add_worker", site.info())
    res = control.control("bare.test", "reload", site.info())
    assert res["done"] and not set(res["old_workers"]) & set(res["new_workers"])


def _managers():
    try:
        from gunicorn_switch_core import managers
    except ImportError:
        return None
    return managers if hasattr(managers, "start") else None


@pytest.mark.slow  # a real Gunicorn and seconds of waiting: `make test` runs it
@pytest.mark.skipif(_managers() is None, reason="managers.py (the lead's) is not there yet")
def test_stop_start_restart_through_the_daemon_manager(make_site):
    site = make_site()
    rec = dict(records.load(site.site), gunicorn_bin=str(site.venv / "bin" / "gunicorn"))
    records.save(rec)
    spawned = []
    try:
        res = control.control(site.site, "stop")
        assert res["done"] and res["master_before"] == site.pid
        site.proc.wait(timeout=30)
        assert status.get_status(site.site)["running"] is False
        res = control.control(site.site, "start")
        spawned.append(res["master_after"] or processes.read_pidfile(rec["pidfile"]))
        assert res["done"] and res["master_after"] and len(res["workers"]) == 2
        assert get(site.url())[0] == 200
        res = control.control(site.site, "restart")
        spawned.append(res["master_after"] or processes.read_pidfile(rec["pidfile"]))
        assert res["done"] and res["master_after"] != res["master_before"]
        assert get(site.url())[0] == 200
    finally:
        for pid in filter(None, spawned):
            try:
                p = psutil.Process(pid)
                kids = p.children()
                os.kill(pid, signal.SIGTERM)
                psutil.wait_procs([p] + kids, timeout=30)
            except psutil.Error:
                pass
