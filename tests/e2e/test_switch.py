"""The switch end to end, for each of the sandbox's shapes: under 50 concurrent connections
through nginx, switch to Gunicorn, serve the same pages with the same status codes, keep uWSGI
down against Supervisor and the panel's daemon, roll back byte for byte, switch again.

The failed-request counts are written to tests/results/switch_load.json for the closing note.
"""
import json
import time
from pathlib import Path

import pytest

from tests.sandbox.checks import config_snapshot, record_load, server_of, statuses, under_load, wait_task


@pytest.mark.parametrize("site", ["shop.test", "blog.test", "api", "vassal.test"])
def test_switch_serve_rollback_switch_again(sandbox, plugin, panel_get, site):
    before_files = config_snapshot(sandbox)
    before_status = statuses(sandbox, site)
    assert before_status["/"] == 200 and before_status["/nope/"] == 404 and before_status["/boom/"] == 500
    assert server_of(sandbox, site) == ""  # uWSGI sets no SERVER_SOFTWARE

    # -- switch, under load --------------------------------------------------------------
    res = plugin.plan(panel_get(site=site))
    assert res["status"], res
    task, load = under_load(sandbox, site, lambda: wait_task(
        plugin, panel_get, plugin.switch(panel_get(plan_and_apply="1", site=site))["data"]["task_id"]))
    record_load("%s switch" % site, load)
    assert task["state"] == "succeeded", task
    assert [s["state"] for s in task["steps"] if s["name"] not in ("install", "crons", "daemons")] \
        == ["done"] * 7
    # only shop.test's uWSGI has a cron and a daemon
    assert [s["state"] for s in task["steps"] if s["name"] in ("daemons", "crons")] == [
        "done" if site == "shop.test" else "skipped"] * 2
    assert load["total"] > 50 and load["failed"] == 0, load

    assert server_of(sandbox, site).startswith("gunicorn/")
    assert statuses(sandbox, site) == before_status
    who = json.loads(sandbox.get(site, "/whoami/")[1])
    assert who["host"] == sandbox.sites[site].domain and who["scheme"] == "http"
    sites = {s["site"]: s for s in plugin.get_sites(panel_get())["data"]}
    assert sites[site]["server"] == "gunicorn" and sites[site]["managed_by_plugin"] is True

    # A second switch says so and changes nothing.
    switched_files = config_snapshot(sandbox)
    again = plugin.switch(panel_get(plan_and_apply="1", site=site))
    assert again["status"] is False and site in again["msg"]
    assert config_snapshot(sandbox) == switched_files

    # uWSGI does not come back: not by Supervisor, not by the panel's daemon.
    sandbox.run(sandbox.supervisorctl + ["update"])
    assert sandbox.panel_daemon_tick() == []
    time.sleep(1)
    assert not [p for p in sandbox.pids() if "uwsgi" in " ".join(p.cmdline())
                and str(sandbox.sites[site].project) in " ".join(p.cmdline())]
    assert server_of(sandbox, site).startswith("gunicorn/")

    # -- rollback, under load ------------------------------------------------------------
    task, load = under_load(sandbox, site, lambda: wait_task(
        plugin, panel_get, plugin.rollback(panel_get(site=site))["data"]["task_id"]))
    record_load("%s rollback" % site, load)
    assert task["state"] == "succeeded", task
    assert load["total"] > 50 and load["failed"] == 0, load
    assert server_of(sandbox, site) == ""
    assert statuses(sandbox, site) == before_status
    assert config_snapshot(sandbox) == before_files  # byte for byte
    assert not [p for p in sandbox.pids() if "gunicorn" in " ".join(p.cmdline())
                and str(sandbox.sites[site].project) in " ".join(p.cmdline())]
    sites = {s["site"]: s for s in plugin.get_sites(panel_get())["data"]}
    assert sites[site]["server"] == "uwsgi" and sites[site]["managed_by_plugin"] is False

    # -- switch again, then back, so that the sandbox is as the other tests expect -------
    for action in (plugin.switch, plugin.rollback):
        task = wait_task(plugin, panel_get, action(panel_get(site=site, plan_and_apply="1"))["data"]["task_id"])
        assert task["state"] == "succeeded", task
        assert statuses(sandbox, site) == before_status
    assert config_snapshot(sandbox) == before_files


def test_the_plan_confirmed_is_the_plan_applied(sandbox, plugin, panel_get):
    """switch takes the plan the user saw (its id): the nginx written is the plan's, byte for
    byte, port included; a plan whose inputs changed since, an unknown plan and a switch with
    no plan at all are refused, changing nothing."""
    site = "shop.test"
    before = config_snapshot(sandbox)
    res = plugin.switch(panel_get(site=site))
    assert res["status"] is False and "plan" in res["msg"]
    res = plugin.switch(panel_get(site=site, plan_id="0" * 32))
    assert res["status"] is False
    stale = plugin.plan(panel_get(site=site))["data"]
    ini = sandbox.sites[site].uwsgi_ini
    text = ini.read_bytes()
    ini.write_bytes(text + b"# edited after the plan\n")
    try:
        res = plugin.switch(panel_get(site=site, plan_id=stale["plan_id"]))
        assert res["status"] is False and ("changed since the plan" in res["msg"] or "变化" in res["msg"])
    finally:
        ini.write_bytes(text)
    assert config_snapshot(sandbox) == before
    shown = plugin.plan(panel_get(site=site))["data"]
    again = plugin.plan(panel_get(site=site))["data"]
    assert shown["plan_id"] != again["plan_id"]
    task = wait_task(plugin, panel_get, plugin.switch(
        panel_get(site=site, plan_id=shown["plan_id"]))["data"]["task_id"])
    try:
        assert task["state"] == "succeeded", task
        for path, text in shown["nginx_files"].items():
            assert Path(path).read_bytes() == text.encode("utf-8", "surrogateescape"), path
        assert fl_record(sandbox, site)["bind"] == shown["bind"]
        # a plan is applied once
        assert plugin.switch(panel_get(site=site, plan_id=shown["plan_id"]))["status"] is False
    finally:
        wait_task(plugin, panel_get, plugin.rollback(panel_get(site=site))["data"]["task_id"])
    assert config_snapshot(sandbox) == before


def fl_record(sandbox, site):
    return json.loads(sandbox.p("/www/server/panel/data/gunicorn_switch/sites/%s.json" % site).read_text())


def test_rollback_of_a_site_never_switched_is_refused(sandbox, plugin, panel_get):
    res = plugin.rollback(panel_get(site="shop.test"))
    assert res["status"] is False


@pytest.mark.parametrize("bad", ["../../etc/passwd", "shop.test;reboot", "", "nope.test", "x" * 300])
def test_switch_refuses_bad_sites(sandbox, plugin, panel_get, bad):
    before = config_snapshot(sandbox)
    res = plugin.switch(panel_get(plan_and_apply="1", site=bad))
    assert res["status"] is False and res["msg"]
    assert config_snapshot(sandbox) == before


@pytest.mark.parametrize("opts", [{"workers": "0"}, {"workers": "abc"}, {"worker_class": "evil"},
                                  {"bind": "0.0.0.0"}, {"user": "root"}, {"user": "nobody$(id)"},
                                  {"manager": "systemd-run"}, {"timeout": "-1"},
                                  {"access_log": "maybe"}])
def test_plan_refuses_bad_options(sandbox, plugin, panel_get, opts):
    res = plugin.plan(panel_get(site="shop.test", **opts))
    assert res["status"] is False and res["msg"], res


def test_access_log_off_leaves_request_logging_to_nginx(sandbox, plugin, panel_get):
    site = "blog.test"
    plan = plugin.plan(panel_get(site=site, access_log="off"))["data"]
    assert plan["settings"]["accesslog"] is None
    assert "accesslog = None" in plan["gunicorn_conf"]
    access = Path(plan["log_dir"]) / "gunicorn_access.log"  # an earlier switch may have left one

    def size():
        return access.stat().st_size if access.exists() else 0
    shown = plugin.plan(panel_get(site=site, access_log="off"))["data"]  # as the page does
    task = wait_task(plugin, panel_get, plugin.switch(
        panel_get(site=site, plan_id=shown["plan_id"]))["data"]["task_id"])
    assert task["state"] == "succeeded", task
    try:
        before = size()
        for _ in range(5):
            assert sandbox.get(site, "/db/")[0] == 200
        assert server_of(sandbox, site).startswith("gunicorn/")
        res = plugin.get_logs(panel_get(site=site, kind="access"))
        assert res["status"] is False and res["msg"]  # no Gunicorn access log to show
        assert plugin.get_logs(panel_get(site=site, kind="error"))["status"] is True
        assert size() == before
    finally:
        task = wait_task(plugin, panel_get, plugin.rollback(panel_get(site=site))["data"]["task_id"])
        assert task["state"] == "succeeded", task
