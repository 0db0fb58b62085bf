"""Faults during a real switch (issue 8), each under a bounded load through nginx.

Every case checks what a user would: the site kept answering (no failed request), every file
is byte-identical to before (or fully switched when the fault came after the commit point), no
Gunicorn of the site and no task runner is left behind, and get_task says what happened.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import psutil
import pytest

from gunicorn_switch_core import rollback as rolling_back, switch as switching
from tests.faults import faultlib as fl
from tests.faults.faultlib import config_snapshot, server_of, wait_task
from tests.sandbox.host import free_port

SITE = "shop.test"  # a plain daemon uWSGI; the Supervisor shape runs Gunicorn under supervisord


@pytest.fixture
def clean(sandbox, plugin, panel_get):
    """Before: every site on uWSGI. After (even when the test failed): put it back."""
    for s in sandbox.sites:
        fl.ensure_uwsgi(sandbox, plugin, panel_get, s)
    yield
    os.environ.pop("GUNICORN_SWITCH_FAULT", None)
    for s in sandbox.sites:
        fl.ensure_uwsgi(sandbox, plugin, panel_get, s)


def run_switch_with(sandbox, plugin, panel_get, site=SITE, **opts):
    """Switch ``site`` under load; returns (task, load result)."""
    load = fl.start_load(sandbox, site)
    try:
        task = wait_task(plugin, panel_get, fl.switch_task(plugin, panel_get, site, **opts))
    finally:
        result = fl.stop_load(load)
    return task, result


def assert_rolled_back(sandbox, task, load, before, fams, failed_step, *words):
    assert task["state"] == "rolled_back", task
    assert task["committed"] is False
    steps = failed_step if isinstance(failed_step, tuple) else (failed_step,)
    failed = [name for name, state in fl.step_states(task).items() if state == "failed"]
    assert len(failed) == 1 and failed[0] in steps, task
    assert task["error"].startswith(failed[0] + ":"), task["error"]
    for w in words:
        assert w in task["error"], (w, task["error"])
    fl.assert_no_loss(load)
    fl.assert_on_uwsgi(sandbox, SITE if "site" not in task else task["site"], before, fams)


# ---- the app does not import under Gunicorn ----------------------------------------------------

@pytest.mark.parametrize("where,step,word", [
    # The project uses uWSGI's own API (`import uwsgi`: its cache, spooler or signals), a
    # module that exists only inside uWSGI. In the settings, Gunicorn cannot load the app:
    # caught by the conf check (gunicorn --check-config imports the app), which runs beside
    # the start: the start or the health check fails, and reports the check's answer.
    ("settings.py", ("start", "health"), "No module named 'uwsgi'"),
    # In the URLconf, imported on the first request: Gunicorn starts and answers 500 where
    # uWSGI answers 200: caught by the health check.
    ("urls.py", "health", "500"),
])
def test_app_needs_uwsgi(sandbox, plugin, panel_get, clean, where, step, word):
    site = sandbox.sites[SITE]
    path = site.project / site.spec.package / where
    old = path.read_bytes()
    path.write_bytes(old + b"\nimport uwsgi  # noqa: the app uses uWSGI's API\n")
    try:
        before, fams = config_snapshot(sandbox), fl.families(sandbox)
        # the plan names the import as a blocker; the user switches anyway
        task, load = run_switch_with(sandbox, plugin, panel_get, confirm_blockers="1")
        assert_rolled_back(sandbox, task, load, before, fams, step, word)
    finally:
        path.write_bytes(old)


# ---- the planned port is taken before Gunicorn starts --------------------------------------------

def test_port_taken_before_start(sandbox, plugin, panel_get, clean, monkeypatch):
    from gunicorn_switch_core import plan as planning

    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    squatter.bind(("127.0.0.1", 0))
    squatter.listen(5)
    port = squatter.getsockname()[1]
    # The plan picks a free port; another program takes it before the start step.
    monkeypatch.setattr(planning, "free_port", lambda: port)
    try:
        before, fams = config_snapshot(sandbox), fl.families(sandbox)
        task, load = run_switch_with(sandbox, plugin, panel_get)
        assert_rolled_back(sandbox, task, load, before, fams, "start", str(port))
        assert "in use" in task["error"]
    finally:
        squatter.close()


# ---- nginx -t fails because of another site's file ---------------------------------------------

def test_nginx_t_fails_on_unrelated_include(sandbox, plugin, panel_get, clean):
    broken = sandbox.p("/www/server/panel/vhost/nginx/zz_other_site.conf")
    broken.write_text("server {\n    listen 127.0.0.1:%d;\n    server_name other.test;\n"
                      "    location / { proxy_pass http://127.0.0.1:9; \n}\n" % sandbox.nginx_port)
    try:
        before, fams = config_snapshot(sandbox), fl.families(sandbox)
        task, load = run_switch_with(sandbox, plugin, panel_get)
        assert_rolled_back(sandbox, task, load, before, fams, "swap_nginx", "nginx -t",
                           "zz_other_site.conf")
    finally:
        broken.unlink()


# ---- pip cannot reach an index --------------------------------------------------------------------

def _gunicorn_dist(venv):
    import glob
    found = glob.glob(str(venv / "lib" / "python*" / "site-packages" / "gunicorn-*.dist-info"))
    return os.path.basename(found[0])[len("gunicorn-"):-len(".dist-info")] if found else None


def test_pip_cannot_reach_an_index(sandbox, plugin, panel_get, clean, monkeypatch, tmp_path):
    venv = sandbox.sites[SITE].venv
    had = _gunicorn_dist(venv)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
    if had:
        subprocess.run(pip + ["uninstall", "-y", "-q", "gunicorn"], check=True)
    # A mirror that does not answer (a closed loopback port), no find-links, no retries.
    dead = free_port()
    empty = tmp_path / "no-wheels"
    empty.mkdir()
    monkeypatch.setenv("PIP_NO_INDEX", "0")
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:%d/simple/" % dead)
    monkeypatch.setenv("PIP_FIND_LINKS", str(empty))
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "3")
    try:
        before, fams = config_snapshot(sandbox), fl.families(sandbox)
        task, load = run_switch_with(sandbox, plugin, panel_get)
        assert_rolled_back(sandbox, task, load, before, fams, "install", "pip could not install gunicorn")
        assert _gunicorn_dist(venv) is None
    finally:
        monkeypatch.undo()
        if had:
            subprocess.run(pip + ["install", "-q", "gunicorn==" + had], check=True,
                           env=dict(os.environ, **sandbox.env()))


# ---- the process manager cannot start the program --------------------------------------------------

def test_supervisor_cannot_start_the_program(sandbox, plugin, panel_get, clean):
    """supervisord does not answer on its socket, and supervisorctl (the fallback) says so: the
    start fails, the program file and the Supervisor plugin's config.json are restored byte for
    byte. The socket is moved aside, not removed: supervisord keeps listening on it, and moving
    it back brings it back for the tests after this one."""
    ctl = sandbox.p("/www/server/panel/pyenv/bin/supervisorctl")
    saved = ctl.with_name("supervisorctl.real")
    sock = sandbox.p("/var/run/supervisor.sock")
    aside = sock.with_name("supervisor.sock.aside")
    shutil.move(str(ctl), str(saved))
    ctl.write_text("#!/bin/sh\necho 'unix:///var/run/supervisor.sock refused connection'\nexit 7\n")
    ctl.chmod(0o755)
    try:
        os.rename(str(sock), str(aside))
        before, fams = config_snapshot(sandbox), fl.families(sandbox)
        task, load = run_switch_with(sandbox, plugin, panel_get, manager="supervisor")
        assert_rolled_back(sandbox, task, load, before, fams, "start", "did not start")
        log = [s for s in task["steps"] if s["name"] == "start"][0]["log"]
        assert "refused connection" in log
    finally:
        if aside.exists():
            os.rename(str(aside), str(sock))
        ctl.unlink()
        shutil.move(str(saved), str(ctl))


def test_gunicorn_exits_at_once_under_the_daemon_manager(sandbox, plugin, panel_get, clean):
    """Gunicorn's master dies right after its start (here: its pidfile's directory is a file,
    as a stale leftover would make it): the start fails and names the cause."""
    rundir = sandbox.p("/run/gunicorn_switch/" + SITE)
    existed = rundir.exists()
    if existed:
        shutil.rmtree(str(rundir))
    rundir.parent.mkdir(parents=True, exist_ok=True)
    rundir.write_text("stale\n")
    try:
        before, fams = config_snapshot(sandbox), fl.families(sandbox)
        task, load = run_switch_with(sandbox, plugin, panel_get, manager="daemon")
        assert task["state"] == "rolled_back", task
        assert task["error"].split(":")[0] in ("write_conf", "start"), task["error"]
        fl.assert_no_loss(load)
        fl.assert_on_uwsgi(sandbox, SITE, before, fams)
    finally:
        rundir.unlink()


# ---- a file cannot be written ------------------------------------------------------------------------

def _ro_bind(path):
    r = subprocess.run(["mount", "--bind", str(path), str(path)], capture_output=True)
    if r.returncode != 0:
        return False
    r = subprocess.run(["mount", "-o", "remount,bind,ro", str(path)], capture_output=True)
    if r.returncode != 0:
        subprocess.run(["umount", str(path)])
        return False
    return True


def test_vhost_dir_read_only(sandbox, plugin, panel_get, clean):
    """The vhost directory is read-only (a read-only bind mount: what root cannot write
    either, like Baota's 防篡改 chattr +i): swap_nginx fails before the reload, all undone."""
    vhosts = sandbox.p("/www/server/panel/vhost/nginx")
    rewrites = sandbox.p("/www/server/panel/vhost/rewrite")
    mounted = []
    try:
        for d in (vhosts, rewrites):
            if not _ro_bind(d):
                pytest.skip("no bind mounts here (needs CAP_SYS_ADMIN)")
            mounted.append(d)
        before, fams = config_snapshot(sandbox), fl.families(sandbox)
        task, load = run_switch_with(sandbox, plugin, panel_get)
        assert_rolled_back(sandbox, task, load, before, fams, "swap_nginx", "Read-only file system")
    finally:
        for d in mounted:
            subprocess.run(["umount", str(d)], check=True)


def test_conf_path_is_a_dangling_symlink(sandbox, plugin, panel_get, clean):
    """gunicorn_conf.py is a dangling symlink into a directory that does not exist: the write
    fails for root too; the link is left exactly as it was."""
    conf = sandbox.sites[SITE].project / "gunicorn_conf.py"
    os.symlink("/nonexistent-gsw/dir/gunicorn_conf.py", str(conf))
    try:
        before, fams = config_snapshot(sandbox), fl.families(sandbox)
        task, load = run_switch_with(sandbox, plugin, panel_get)
        assert_rolled_back(sandbox, task, load, before, fams, "write_conf", "gunicorn_conf.py")
        assert os.readlink(str(conf)) == "/nonexistent-gsw/dir/gunicorn_conf.py"
    finally:
        os.unlink(str(conf))


# ---- uWSGI refuses to stop ------------------------------------------------------------------------

def test_uwsgi_refuses_to_stop(sandbox, plugin, panel_get, clean, monkeypatch):
    """uWSGI's master will not stop (SIGSTOPped once nginx went over to Gunicorn: its SIGINT
    stays pending): the task ends failed after the commit point, names the pid, Gunicorn
    serves, and the plugin can still roll back."""
    master = fl.uwsgi_masters(sandbox, SITE)[0]
    before, fams = config_snapshot(sandbox), fl.families(sandbox)
    load = fl.start_load(sandbox, SITE)
    runner = None
    try:
        # the runner stops itself once swap_nginx is journaled done (test-only sync point)
        monkeypatch.setenv("GUNICORN_SWITCH_FAULT", "stop-after:swap_nginx")
        task_id = fl.switch_task(plugin, panel_get, SITE)
        monkeypatch.delenv("GUNICORN_SWITCH_FAULT")
        runner = psutil.Process(fl.task_file(sandbox, task_id)["pid"])
        end = time.monotonic() + 120
        while runner.status() != psutil.STATUS_STOPPED:
            assert time.monotonic() < end
            assert fl.task_file(sandbox, task_id)["state"] in ("pending", "running")
            time.sleep(0.1)
        # nginx's workers from before the reload have finished with uWSGI: stop its master
        old = fl.task_file(sandbox, task_id)["data"].get("old_nginx") or []
        psutil.wait_procs([psutil.Process(p) for p in old if psutil.pid_exists(p)], timeout=60)
        master.suspend()
        runner.resume()
        task = wait_task(plugin, panel_get, task_id)
        result = fl.stop_load(load)
        fl.assert_no_loss(result)
        assert task["state"] == "failed" and task["committed"] is True, task
        assert task["error"].startswith("stop_uwsgi:") and str(master.pid) in task["error"], task
        assert server_of(sandbox, SITE).startswith("gunicorn/")
        assert fl.record_of(sandbox, SITE) is not None  # rollback still knows the switch
        assert again_refused(plugin, panel_get)
    finally:
        load.stop()
        try:
            if runner is not None:
                runner.resume()
        except psutil.Error:
            pass
        try:
            master.resume()  # the pending SIGINT stops it now
            psutil.wait_procs([master], timeout=30)
        except psutil.Error:
            pass
    task = wait_task(plugin, panel_get, fl.rollback_task(plugin, panel_get, SITE))
    assert task["state"] == "succeeded", task
    fl.assert_on_uwsgi(sandbox, SITE, before, fams)


def again_refused(plugin, panel_get):
    res = plugin.switch(panel_get(plan_and_apply="1", site=SITE))
    return res["status"] is False and SITE in res["msg"]


# ---- the runner is SIGKILLed at every step boundary ---------------------------------------------------

SWITCH_STEPS = switching.SWITCH.names()
ROLLBACK_STEPS = rolling_back.ROLLBACK.names()


def _killed_under_load(sandbox, plugin, panel_get, monkeypatch, fault, start, committed):
    """Under load on the site, start a task whose runner SIGKILLs itself at ``fault``, let
    get_task recover it, and check that no request failed and that the runner died on the
    side of the commit point the test expects. Returns the final view of the task."""
    load = fl.start_load(sandbox, SITE)
    try:
        died, task = _killed(sandbox, plugin, panel_get, monkeypatch, fault, start)
    finally:
        result = fl.stop_load(load)
    fl.assert_no_loss(result)
    assert died["committed"] is committed
    return task


def _killed(sandbox, plugin, panel_get, monkeypatch, fault, start):
    """Start a task with the runner set to SIGKILL itself at ``fault``; wait until it died
    (the journal stays "running"), then let get_task recover it. Returns (journal when the
    runner died, final view)."""
    monkeypatch.setenv("GUNICORN_SWITCH_FAULT", fault)
    task_id = start()
    monkeypatch.delenv("GUNICORN_SWITCH_FAULT")  # the recovered runner runs without it
    from gunicorn_switch_core import tasks
    end = time.monotonic() + 120
    while time.monotonic() < end:
        t = fl.task_file(sandbox, task_id)
        if t["pid"] and not tasks.runner_alive(t) and t["state"] in ("pending", "running"):
            break
        assert t["state"] in ("pending", "running"), "the runner finished instead of dying: %s" % t
        time.sleep(0.2)
    died = fl.task_file(sandbox, task_id)
    time.sleep(2.1)  # get_task recovers a dead runner of a task older than 2 s
    return died, wait_task(plugin, panel_get, task_id)


@pytest.mark.parametrize("fault", ["kill-after:" + s for s in SWITCH_STEPS[:-1]]
                         + ["kill-in:start", "kill-in:swap_nginx", "kill-in:stop_uwsgi"])
def test_switch_runner_killed(sandbox, plugin, panel_get, clean, monkeypatch, fault):
    step = fault.split(":")[1]
    committed = SWITCH_STEPS.index(step) > SWITCH_STEPS.index("swap_nginx") or \
        fault == "kill-after:swap_nginx"
    before, fams = config_snapshot(sandbox), fl.families(sandbox)
    task = _killed_under_load(sandbox, plugin, panel_get, monkeypatch, fault,
                              lambda: fl.switch_task(plugin, panel_get, SITE), committed)
    if committed:
        assert task["state"] == "succeeded", task
        assert "resuming" in "".join(s["log"] for s in task["steps"]) or fault.startswith("kill-after")
        assert server_of(sandbox, SITE).startswith("gunicorn/")
        assert not fl.uwsgi_masters(sandbox, SITE)
        assert fl.record_of(sandbox, SITE) is not None
        assert fl.runners() == []
        task = wait_task(plugin, panel_get, fl.rollback_task(plugin, panel_get, SITE))
        assert task["state"] == "succeeded", task
        fl.assert_on_uwsgi(sandbox, SITE, before, fams)
    else:
        assert task["state"] == "rolled_back", task
        assert "interrupted" in (task["error"] or ""), task
        fl.assert_on_uwsgi(sandbox, SITE, before, fams)


@pytest.mark.parametrize("fault", ["kill-after:" + s for s in ROLLBACK_STEPS[:-1]]
                         + ["kill-in:restore_nginx"])
def test_rollback_runner_killed(sandbox, plugin, panel_get, clean, monkeypatch, fault):
    before, fams = config_snapshot(sandbox), fl.families(sandbox)
    task = wait_task(plugin, panel_get, fl.switch_task(plugin, panel_get, SITE))
    assert task["state"] == "succeeded", task
    switched = config_snapshot(sandbox)
    committed = fault in ("kill-after:restore_nginx", "kill-after:remove_carried", "kill-after:restore_boot",
                          "kill-after:stop_gunicorn")
    task = _killed_under_load(sandbox, plugin, panel_get, monkeypatch, fault,
                              lambda: fl.rollback_task(plugin, panel_get, SITE), committed)
    if committed:
        assert task["state"] == "succeeded", task
        fl.assert_on_uwsgi(sandbox, SITE, before, fams)
    else:
        # undone: still switched, exactly as before the rollback, and a rollback still works
        assert task["state"] == "rolled_back", task
        assert server_of(sandbox, SITE).startswith("gunicorn/")
        assert config_snapshot(sandbox) == switched
        assert not fl.uwsgi_masters(sandbox, SITE)
        task = wait_task(plugin, panel_get, fl.rollback_task(plugin, panel_get, SITE))
        assert task["state"] == "succeeded", task
        fl.assert_on_uwsgi(sandbox, SITE, before, fams)


# ---- the panel restarts mid-switch --------------------------------------------------------------------

class DevPanelProcess(object):
    """tools/devpanel/server.py as its own process (in its own process group), as the panel
    is: killing it (and its whole group) must not kill the task runner it started."""

    def __init__(self, sandbox):
        self.port = free_port()
        repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env = dict(os.environ, **sandbox.env())
        env.pop("GUNICORN_SWITCH_FAULT", None)
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(repo, "tools", "devpanel", "server.py"), "--root",
             str(sandbox.root), "--port", str(self.port)], env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        self.url = "http://127.0.0.1:%d/" % self.port
        end = time.monotonic() + 30
        while True:
            try:
                page = urllib.request.urlopen(self.url, timeout=5).read().decode()
                break
            except OSError:
                if time.monotonic() > end:
                    raise
                time.sleep(0.2)
        self.token = page.split('id="request_token_head" token="')[1].split('"')[0]

    def call(self, method, **args):
        import json
        data = urllib.parse.urlencode(args).encode()
        req = urllib.request.Request(
            self.url + "plugin?action=a&name=gunicorn_switch&s=" + method, data=data,
            headers={"x-http-token": self.token,
                     "Content-Type": "application/x-www-form-urlencoded"})
        return json.loads(urllib.request.urlopen(req, timeout=120).read().decode())

    def kill(self):
        """The panel dies with its whole process group (as `bt restart` kills it)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)


def test_panel_restarts_mid_switch(sandbox, plugin, panel_get, clean):
    before, fams = config_snapshot(sandbox), fl.families(sandbox)
    load = fl.start_load(sandbox, SITE)
    panel = DevPanelProcess(sandbox)
    try:
        res = panel.call("switch", site=SITE, plan_and_apply="1")
        assert res["status"], res
        task_id = res["data"]["task_id"]
        runner_pid = fl.task_file(sandbox, task_id)["pid"]
        panel.kill()
        t = fl.task_file(sandbox, task_id)
        if t["state"] in ("pending", "running"):  # it was mid-switch: the runner lives on
            assert psutil.pid_exists(runner_pid)
        panel = DevPanelProcess(sandbox)
        end = time.monotonic() + 300
        while True:
            res = panel.call("get_task", task_id=task_id)
            assert res["status"], res
            if res["data"]["state"] not in ("pending", "running"):
                break
            assert time.monotonic() < end
            time.sleep(0.3)
        assert res["data"]["state"] == "succeeded", res
        # the runner that finished it is the one started before the panel died
        assert fl.task_file(sandbox, task_id)["pid"] == runner_pid
        assert server_of(sandbox, SITE).startswith("gunicorn/")
        res = panel.call("rollback", site=SITE)
        assert res["status"], res
        task = wait_task(plugin, panel_get, res["data"]["task_id"])
        assert task["state"] == "succeeded", task
    finally:
        panel.kill()
        result = fl.stop_load(load)
    fl.assert_no_loss(result)
    fl.assert_on_uwsgi(sandbox, SITE, before, fams)
