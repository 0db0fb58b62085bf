"""The panel's own Python project manager acting on a switched project (issue 20; notes/
baota-internals.md §12), on the sandbox's panel project `api`, through the imitation in
tests/sandbox/panel_project.py: a domain added and removed in the panel keeps nginx on the
server that runs, the panel's restart of the project gives the same server (conf, bind, user),
its run-state check finds it, and rollback puts project_config and the vhost back byte for
byte — then the same holds for uWSGI.

The failed-request counts go to tests/results/switch_load.json with the switch's.
"""
import json
import os
import time

import psutil

from tests.sandbox.checks import record_load, server_of, under_load, wait_task
from tests.sandbox.panel_project import PanelProjects, locations

SITE = "api"
EXTRA = "www.api.test"


def listen_ports(pid):
    procs = [psutil.Process(pid)] + psutil.Process(pid).children(recursive=True)
    out = set()
    for p in procs:
        conns = p.net_connections(kind="tcp") if hasattr(p, "net_connections") else p.connections(kind="tcp")
        out |= {c.laddr[1] for c in conns if c.status == psutil.CONN_LISTEN}
    return out


def vhost_ports(pp):
    return [port for _s, _e, _a, port in locations(pp.vhost(SITE).read_text()) if port]


def domain_round_trip(sandbox, pp, name):
    def action():
        pp.add_domain(SITE, EXTRA)
        added = pp.vhost(SITE).read_text()
        pp.remove_domain(SITE, EXTRA)
        return added
    added, load = under_load(sandbox, SITE, action)
    record_load("%s domain add/remove (%s)" % (SITE, name), load)
    assert "server_name %s %s;" % (sandbox.sites[SITE].domain, EXTRA) in added
    assert load["total"] > 50 and load["failed"] == 0, load
    return load


def check_running(pp, want, port):
    """(c): the panel's run-state check finds the server; it listens where nginx and
    project_config say; its master is not root."""
    pid = pp.run_state(SITE)
    assert pid, "the panel says %s is not running" % SITE
    master = psutil.Process(pid)
    assert want in " ".join(master.cmdline()) or want in master.name(), master.cmdline()
    end = time.monotonic() + 30  # the panel's start returns before the server binds
    while port not in listen_ports(pid) and time.monotonic() < end:
        time.sleep(0.2)
    assert port in listen_ports(pid)
    assert master.uids().real != 0 and master.uids().effective != 0, master.uids()
    return master


def test_panel_edits_and_restarts_keep_the_switched_project(sandbox, plugin, panel_get):
    pp = PanelProjects(sandbox)
    project = sandbox.sites[SITE].project
    config_before = pp.config_text(SITE)
    vhost_before = pp.vhost(SITE).read_bytes()
    uwsgi_port = sandbox.sites[SITE].port
    assert json.loads(config_before)["proxy_info"][0]["proxy_port"] == uwsgi_port

    # A unix bind asked for a panel project becomes a loopback port, and the plan says why.
    plan = plugin.plan(panel_get(site=SITE, bind="unix"))["data"]
    assert plan["bind"].startswith("127.0.0.1:")
    assert [w for w in plan["warnings"] if w["origin"] == "bind"]

    task = wait_task(plugin, panel_get, plugin.switch(panel_get(plan_and_apply="1", site=SITE, bind="unix"))["data"]["task_id"])
    assert task["state"] == "succeeded", task
    written = []
    try:
        conf = json.loads(pp.config_text(SITE))
        port = conf["port"]
        assert conf["stype"] == "gunicorn" and port != uwsgi_port
        assert conf["proxy_info"] == [{"proxy_path": "/", "proxy_port": port, "status": 1}]
        assert vhost_ports(pp) == [port]
        for f in (project / "uwsgi.ini", project / "gunicorn_conf.py", pp.cmd_file(conf)):
            assert f.exists(), f
        gconf = (project / "gunicorn_conf.py").read_bytes()
        status = plugin.get_status(panel_get(site=SITE))["data"]
        user = status["master"] and psutil.Process(status["master"]["pid"]).uids().real

        # (a) a domain added and removed in the panel: nginx stays on Gunicorn
        domain_round_trip(sandbox, pp, "gunicorn")
        assert vhost_ports(pp) == [port] and server_of(sandbox, SITE).startswith("gunicorn/")
        # (c) the panel's run-state check finds Gunicorn
        check_running(pp, "gunicorn", port)

        # (b) the panel's restart runs the plugin's script as root: same conf, bind, user
        written, load = under_load(sandbox, SITE, lambda: pp.restart(SITE))
        record_load("%s panel restart (gunicorn)" % SITE, load)
        assert written == []  # the panel found its three files and regenerated nothing
        assert (project / "gunicorn_conf.py").read_bytes() == gconf
        master = check_running(pp, "gunicorn", port)
        assert master.uids().real == user
        assert plugin.get_status(panel_get(site=SITE))["data"]["master"]["pid"] == master.pid
        assert server_of(sandbox, SITE).startswith("gunicorn/")
        assert json.loads(pp.config_text(SITE)) == conf

        # (d) rollback: project_config and the vhost byte for byte
        task, load = under_load(sandbox, SITE, lambda: wait_task(
            plugin, panel_get, plugin.rollback(panel_get(site=SITE))["data"]["task_id"]))
        record_load("%s rollback after panel edits" % SITE, load)
        assert task["state"] == "succeeded", task
        assert load["failed"] == 0, load
    finally:
        sites = {s["site"]: s for s in plugin.get_sites(panel_get())["data"]}
        if sites[SITE]["managed_by_plugin"]:
            wait_task(plugin, panel_get, plugin.rollback(panel_get(site=SITE))["data"]["task_id"])
    assert pp.config_text(SITE) == config_before
    assert pp.vhost(SITE).read_bytes() == vhost_before
    assert server_of(sandbox, SITE) == ""

    # ... and (a)-(c) hold for uWSGI
    domain_round_trip(sandbox, pp, "uwsgi")
    assert vhost_ports(pp) == [uwsgi_port] and server_of(sandbox, SITE) == ""
    check_running(pp, "uwsgi", uwsgi_port)
    try:
        written, load = under_load(sandbox, SITE, lambda: pp.restart(SITE))
        record_load("%s panel restart (uwsgi)" % SITE, load)
        check_running(pp, "uwsgi", uwsgi_port)
        end = time.monotonic() + 30
        while sandbox.get(SITE, "/")[0] != 200 and time.monotonic() < end:
            time.sleep(0.2)
        assert server_of(sandbox, SITE) == ""
        assert pp.config_text(SITE) == config_before
    finally:
        # The panel leaves its own template conf behind when the plugin's went with the
        # rollback (§12); the other tests expect the project as the sandbox built it.
        for f in written:
            os.unlink(f)
