"""The dev panel's plugin loader behaves as the real one was observed to (notes §11, issue 13).

The dev panel runs as its own process on the panel's interpreters (Python 3.7.16 as BaoTa 11,
3.12.1 with aaPanel's `get`), serving a probe plugin written here; everything is checked over
HTTP, as the page and the panel see it.
"""
import json
import os
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from tests.sandbox import venvs  # noqa: E402
from tests.ui.devpanel_page import load_devpanel  # noqa: E402

devpanel = load_devpanel()
PROBE = textwrap.dedent('''\
    # coding: utf-8
    import os
    import sys

    HERE = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(HERE, "executions.log"), "a") as fh:
        fh.write(__name__ + "\\n")
    MARK = "{mark}"


    class gunicorn_switch_main(object):
        made = 0

        def __init__(self):
            type(self).made += 1

        def whoami(self, get):
            return {{"name": __name__, "in_modules": sys.modules.get(__name__) is not None,
                     "path0": sys.path[0], "mark": MARK, "made": type(self).made,
                     "python": "%d.%d" % sys.version_info[:2]}}

        def echo(self, get):
            return {{"get": vars(get), "type": type(get).__name__,
                     "has_site": "site" in get, "site": get.get("site")}}

        def boom(self, get):
            raise RuntimeError("boom from the probe")

        def not_json(self, get):
            return {{"pids": {{1, 2}}}}

        def no_get(self):
            return {{"status": True}}

        def _private(self, get):
            return {{"status": True, "msg": "private"}}

        def uninstall_check(self, get):
            if os.path.exists(os.path.join(HERE, "busy")):
                return {{"status": True, "msg": "a task is running"}}
            return {{"status": False, "msg": "ok"}}
''')
INSTALL_SH = 'if [ "$1" = uninstall ]; then pwd > "$(dirname "$0")/../uninstalled-from"; fi\n'

INTERPRETERS = [
    pytest.param(("3.7.16", False), id="baota11-py3.7"),
    pytest.param(("3.12.1", True), id="aapanel8-py3.12"),
]


def write_probe(plugin, mark="v1"):
    main = plugin / "gunicorn_switch_main.py"
    main.write_text(PROBE.format(mark=mark))
    return main


@pytest.fixture(params=INTERPRETERS)
def panel(request, tmp_path):
    version, aapanel = request.param
    python = venvs.pyenv_python(version)
    if python is None:
        pytest.skip("pyenv has no Python %s (tools/setup.sh installs it)" % version)
    root = tmp_path / "root"
    plugin = root / "www/server/panel/plugin/gunicorn_switch"
    plugin.mkdir(parents=True)
    write_probe(plugin)
    (plugin / "index.html").write_text("<div class=\"probe\">页面</div>\n")
    (plugin / "install.sh").write_text(INSTALL_SH)
    proc, url, token = devpanel.spawn(python, plugin, root, aapanel=aapanel)
    try:
        yield {"url": url, "token": token, "plugin": plugin, "root": root, "python": version}
    finally:
        devpanel.kill(proc)


post = devpanel.post


def call(panel, method, data=None):
    return post(panel["url"] + "plugin?action=a&name=gunicorn_switch&s=" + method, panel["token"], data)


def call_json(panel, method, data=None):
    status, ctype, body = call(panel, method, data)
    assert status == 200 and "json" in ctype, (status, body[:500])
    return json.loads(body)


def executions(panel):
    log = panel["plugin"] / "executions.log"
    return log.read_text().split() if log.exists() else []


def test_main_module_is_named_by_its_path_with_the_plugin_first_on_sys_path(panel):
    me = call_json(panel, "whoami")
    main = str(panel["plugin"] / "gunicorn_switch_main.py")
    assert me["name"] == main and me["in_modules"] is True
    assert me["path0"] == str(panel["plugin"])
    assert me["python"] == ".".join(panel["python"].split(".")[:2])


def test_class_made_per_call_module_executed_once(panel):
    first = call_json(panel, "whoami")["made"]
    second = call_json(panel, "whoami")["made"]
    assert second == first + 1
    assert len(executions(panel)) == 1


def test_main_file_re_executed_only_when_its_mtime_changes(panel):
    main = panel["plugin"] / "gunicorn_switch_main.py"
    assert call_json(panel, "whoami")["mark"] == "v1"
    st = main.stat()
    write_probe(panel["plugin"], mark="v2")
    os.utime(main, ns=(st.st_atime_ns, st.st_mtime_ns))  # new text, the old mtime
    assert call_json(panel, "whoami")["mark"] == "v1"
    os.utime(main, ns=(st.st_atime_ns, st.st_mtime_ns + 2 * 10**9))
    assert call_json(panel, "whoami")["mark"] == "v2"
    assert len(executions(panel)) == 2


def test_get_is_the_panels_dict_obj(panel):
    res = call_json(panel, "echo", {"site": " a.com ", "n": "3", "__x": "1"})
    get = res["get"]
    assert get["site"] == " a.com " and res["site"] == "a.com" and res["has_site"] is True
    assert get["data"] == [] and get["s"] == "echo" and get["action"] == "a"
    assert get["name"] == "gunicorn_switch"
    assert "client_ip" not in get and "__x" not in get
    assert all(isinstance(v, str) for k, v in get.items() if k != "data")
    assert res["type"] in ("dict_obj", "aapanel_dict_obj")


def test_private_names_are_callable(panel):
    assert call_json(panel, "_private") == {"status": True, "msg": "private"}


def test_a_raise_is_an_html_500(panel):
    status, ctype, body = call(panel, "boom")
    assert status == 500 and "text/html" in ctype and "boom from the probe" in body


def test_answers_in_the_panels_words(panel):
    res = call_json(panel, "not_json")
    assert res["status"] is False and res["msg"].startswith("错误的响应: ")
    res = call_json(panel, "no_get")
    assert res["status"] is False and res["msg"].startswith("加载失败: ")
    res = call_json(panel, "nope")
    assert res == {"status": False, "msg": "在[gunicorn_switch]插件中找不到[nope]方法"}


def test_a_failed_import_is_an_html_500_then_a_fixed_file_loads(panel):
    main = panel["plugin"] / "gunicorn_switch_main.py"
    assert call_json(panel, "whoami")["mark"] == "v1"
    main.write_text("import os\nraise ImportError('half an upgrade')\n")
    os.utime(main, ns=(main.stat().st_atime_ns, main.stat().st_mtime_ns + 2 * 10**9))
    status, ctype, body = call(panel, "whoami")
    assert status == 500 and "text/html" in ctype and "half an upgrade" in body
    write_probe(panel["plugin"], mark="v3")
    os.utime(main, ns=(main.stat().st_atime_ns, main.stat().st_mtime_ns + 4 * 10**9))
    assert call_json(panel, "whoami")["mark"] == "v3"


def test_a_main_file_without_import_is_not_loaded(panel):
    main = panel["plugin"] / "gunicorn_switch_main.py"
    main.write_text("x = 1\n")  # what the real loader takes for an encrypted file
    os.utime(main, ns=(main.stat().st_atime_ns, main.stat().st_mtime_ns + 2 * 10**9))
    status, ctype, _ = call(panel, "whoami")
    assert status == 500 and "text/html" in ctype


def test_get_config_html_is_the_raw_file(panel):
    status, ctype, body = post(panel["url"] + "plugin?action=getConfigHtml", panel["token"],
                               {"name": "gunicorn_switch"})
    assert status == 200 and body == (panel["plugin"] / "index.html").read_text()


def test_uninstall_asks_uninstall_check_then_runs_install_sh_from_the_panel_folder(panel):
    url = panel["url"] + "plugin?action=uninstall_plugin&sName=gunicorn_switch"
    marker = panel["plugin"].parent / "uninstalled-from"
    (panel["plugin"] / "busy").write_text("")
    status, _, body = post(url, panel["token"])
    assert json.loads(body) == {"status": True, "msg": "a task is running"}
    assert panel["plugin"].is_dir() and not marker.exists()
    (panel["plugin"] / "busy").unlink()
    status, _, body = post(url, panel["token"])
    assert json.loads(body)["status"] is True
    assert marker.read_text().strip() == str(panel["root"] / "www/server/panel")
    assert not panel["plugin"].exists()
