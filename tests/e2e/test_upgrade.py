"""An upgrade inside a running panel takes effect without a restart (issue 13 §1).

One long-lived panel-like process — the dev panel on the sandbox's panel Python, loading the
plugin as the real loader does (path-named module, re-executed when the main file's mtime
changes, other modules cached for the life of the process) — serves release N, imported with
the panel's own steps from a zip that `make dist` built. A switch is started and held half way.
Release N+1, built the same way with another version, is imported over it: the same process
answers with N+1's code, a module N+1 removed is not imported (a package N had where N+1 has a
plain module would shadow it if it stayed), and the switch started under N finishes.
"""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.sandbox.panel_import import panel_import, relink_repo_plugin
from tests.ui.devpanel_page import load_devpanel

devpanel = load_devpanel()

REPO = Path(__file__).resolve().parents[2]
SITE = "shop.test"
CORE = "gunicorn_switch_core"
GET_INFO_RETURN = (
    '    return {"version": __version__, "lang": i18n.lang(), "panel_lang": i18n.panel_lang()}\n')
# What get_info answers in both test releases: which probe answered and the core modules the
# panel process holds.
PROBED_RETURN = (
    "    import sys\n"
    "    from . import upgrade_probe\n"
    '    return {"version": __version__, "answer": upgrade_probe.ANSWER,\n'
    '            "modules": sorted(m for m in sys.modules if m.startswith("%s"))}\n' % CORE)


def build_release(tmp, version, files, removed=()):
    """A copy of this checkout with ``version`` and ``files`` (relative path -> text), minus
    ``removed``, turned into a zip by `make dist` exactly as a release is."""
    src = tmp / ("release-" + version)
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "plugin", "info.json",
                             "install.sh", "icon.png", "Makefile", "tools/build_dist.py"],
                            cwd=REPO, check=True, capture_output=True, text=True).stdout.split()
    for rel in listed:
        if (REPO / rel).is_file() and "__pycache__" not in rel:
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, src / rel)
    subprocess.run(["git", "init", "-q", str(src)], check=True)
    info = json.loads((src / "info.json").read_text())
    info["versions"] = version
    (src / "info.json").write_text(json.dumps(info, ensure_ascii=False, indent=4))
    api = src / "plugin" / CORE / "api.py"
    text = api.read_text()
    assert GET_INFO_RETURN in text
    api.write_text(text.replace(GET_INFO_RETURN, PROBED_RETURN))
    for rel, body in files.items():
        (src / "plugin" / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / "plugin" / rel).write_text(body)
    for rel in removed:
        os.remove(src / "plugin" / rel)
    subprocess.run(["make", "-s", "dist"], cwd=src, check=True, capture_output=True)
    return src / "dist" / "gunicorn_switch.zip"


class Panel(object):
    """The dev panel as a process of the sandbox's panel Python."""

    def __init__(self, sandbox, env):
        self.proc, self.url, self.token = devpanel.spawn(
            str(sandbox.panel_python), sandbox.plugin_dir, sandbox.root, env=env)

    def post(self, query, data=None):
        status, _ctype, body = devpanel.post(self.url + "plugin?" + query, self.token, data,
                                             timeout=300)
        assert status == 200, body[:2000]
        return body

    def call(self, method, **data):
        res = json.loads(self.post("action=a&name=gunicorn_switch&s=" + method, data))
        assert res["status"] is True, res
        return res["data"]

    def wait_task(self, task_id, deadline=600):
        end = time.monotonic() + deadline
        while True:
            task = self.call("get_task", task_id=task_id)
            if task["state"] not in ("pending", "running"):
                return task
            assert time.monotonic() < end, task
            time.sleep(0.5)

    def stop(self):
        devpanel.kill(self.proc)


def wait_stopped(sandbox, task_id, deadline=600):
    """The switch's runner, once it has SIGSTOPped itself at the test's sync point."""
    path = sandbox.p("/www/server/panel/data/gunicorn_switch/tasks") / (task_id + ".json")
    end = time.monotonic() + deadline
    while True:
        pid = json.loads(path.read_text()).get("pid")
        if pid:
            runner = psutil.Process(pid)
            if runner.status() == psutil.STATUS_STOPPED:
                return runner
        assert time.monotonic() < end, "the runner never reached its sync point"
        time.sleep(0.2)


@pytest.fixture
def releases(tmp_path):
    n = build_release(tmp_path, "9.1.0", {
        CORE + "/upgrade_probe/__init__.py": "from .. import only_in_n  # noqa: F401\nANSWER = 'N'\n",
        CORE + "/only_in_n.py": "GONE_IN_N1 = True\n",
    })
    n1 = build_release(tmp_path, "9.2.0", {CORE + "/upgrade_probe.py": "ANSWER = 'N+1'\n"})
    return n, n1


def test_upgrade_without_restart(sandbox, releases):
    zip_n, zip_n1 = releases
    env = dict(os.environ, **sandbox.env())
    env["GUNICORN_SWITCH_FAULT"] = "stop-after:write_conf"
    panel = runner = None
    switched = False
    try:
        dest, _env, out = panel_import(sandbox, zip_n)
        assert out.returncode == 0, out.stderr
        panel = Panel(sandbox, env)
        info = panel.call("get_info")
        assert info["version"] == "9.1.0" and info["answer"] == "N"
        assert CORE + ".only_in_n" in info["modules"]

        # A switch under release N, held by its runner (a separate process) half way.
        task_id = panel.call("switch", site=SITE, plan_and_apply="1")["task_id"]
        switched = True
        runner = wait_stopped(sandbox, task_id)

        dest, _env, out = panel_import(sandbox, zip_n1, fresh=False)
        assert out.returncode == 0, out.stderr
        assert not (dest / CORE / "only_in_n.py").exists()
        assert not (dest / CORE / "upgrade_probe").exists()

        info = panel.call("get_info")
        assert panel.proc.poll() is None  # the same panel process: no restart
        assert info["version"] == "9.2.0" and info["answer"] == "N+1"
        assert CORE + ".only_in_n" not in info["modules"]
        page = panel.post("action=getConfigHtml", {"name": "gunicorn_switch"})
        assert "gunicorn_switch.js?v=9.2.0" in page and "__GSWITCH_VERSION__" not in page

        runner.resume()
        task = panel.wait_task(task_id)
        assert task["state"] == "succeeded", task
        # install may be skipped (an earlier test left Gunicorn in the venv); every other step ran
        states = {s["name"]: s["state"] for s in task["steps"]}
        assert states.pop("install") in ("done", "skipped")
        assert set(states.values()) == {"done"}, states
    finally:
        if runner is not None and runner.is_running():
            try:
                runner.resume()
            except psutil.Error:
                pass
        try:
            if panel is not None and switched:
                # The other tests expect the site on uWSGI again.
                task_id = None
                for _ in range(600):
                    res = json.loads(panel.post("action=a&name=gunicorn_switch&s=rollback",
                                                {"site": SITE}))
                    if res["status"]:
                        task_id = res["data"]["task_id"]
                        break
                    if "not switched" in res["msg"] or "不是由本插件切换" in res["msg"]:
                        break
                    time.sleep(0.5)
                if task_id:
                    assert panel.wait_task(task_id)["state"] == "succeeded"
        finally:
            if panel is not None:
                panel.stop()
            relink_repo_plugin(sandbox, REPO)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-x", "-q"]))
