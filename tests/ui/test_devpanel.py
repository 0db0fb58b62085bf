"""The dev panel and the plugin page in a real browser (Debian's Chromium via Playwright).

The page is opened the way the panel opens it: 软件商店 → 设置 → index.html injected into a
layer dialog; requests go to /plugin?action=a&name=gunicorn_switch&s=<method> with the
x-http-token header from $.ajaxSetup.
"""
import json
import urllib.error
import urllib.request

import pytest

from tests.ui.devpanel_page import DIALOG, expected_sites, load_devpanel, open_plugin, wait_sites_loaded

TABS_ZH = ["站点", "状态", "日志", "设置", "关于"]
TABS_EN = ["Sites", "Status", "Logs", "Settings", "About"]
TAB_KEYS = ["sites", "status", "logs", "settings", "about"]


# -- helpers -------------------------------------------------------------------------------
def post(url, token=None, data=None):
    """POST to the dev panel; (status, content type, body text)."""
    return load_devpanel().post(url, token, data)


# -- the dev panel itself ------------------------------------------------------------------
def test_dict_obj_like_the_panel(devpanel_module):
    args = [("x", "1"), ("name", "ignored"), ("bad key!", "1"), ("__class__", "1")]
    form = [("x", "2"), ("empty", ""), ("n", "42"), ("j", '{"a": 1}'), ("get", "1"),
            ("blob", "zz"), ("a b.c[d]-e", "ok")]
    get = devpanel_module.build_get(args, form, "gunicorn_switch", "echo")
    assert get.x == "2"  # the form wins over the query string
    assert get.name == "gunicorn_switch" and get.s == "echo" and get.action == "a"
    assert not hasattr(get, "client_ip")  # BaoTa 11's loader does not set it
    assert getattr(get, "a b.c[d]-e") == "ok"
    for dropped in ("bad key!", "blob"):
        assert not hasattr(get, dropped)
    assert get.__class__.__name__ == "dict_obj"  # not overwritten by a dunder key
    assert callable(get.get)  # not overwritten by a field called "get"
    assert "x" in get and "missing" not in get
    assert "empty" in get  # BaoTa 11 / aaPanel 8: `in` is hasattr
    form.append(("padded", "  a b  "))
    get = devpanel_module.build_get(args, form, "gunicorn_switch", "echo")
    assert get.padded == "  a b  " and get.get("padded") == "a b"  # get() strips
    assert get.get("missing", "dflt") == "dflt" and get.get("x") == "2"
    assert get.get("n/d", 0) == 42 and get.get("x/d", 0) == 2 and get.get("j/j") == {"a": 1}
    assert get["x"] == "2" and get["missing"] is None
    assert get.data == []  # the panel's default when no `data` is sent
    assert all(isinstance(v, str) for k, v in vars(get).items() if k != "data")


def test_csrf_token_is_required(devpanel):
    server, url, token = devpanel
    api = url + "plugin?action=a&name=gunicorn_switch&s=get_sites"
    status, ctype, body = post(api)
    assert status == 200 and "json" in ctype
    err = json.loads(body)
    assert err["status"] is False and "CSRF" in err["msg"]
    status, _, body = post(api, token="wrong")
    assert json.loads(body)["status"] is False
    status, _, body = post(api, token=token)
    assert json.loads(body)["status"] is True


def test_shell_carries_the_token(devpanel):
    server, url, token = devpanel
    with urllib.request.urlopen(url, timeout=30) as r:
        html = r.read().decode()
    assert 'id="request_token_head" token="%s"' % token in html


def test_get_config_html_is_the_file_itself(devpanel):
    server, url, token = devpanel
    status, ctype, body = post(url + "plugin?action=getConfigHtml", token, {"name": "gunicorn_switch"})
    with open(server.plugin_dir + "/index.html", encoding="utf-8") as fh:
        assert body == fh.read()
    assert status == 200 and "text/html" in ctype


def test_static_routes(devpanel):
    server, url, token = devpanel
    for path, ctype in [("static/js/jquery-2.2.4.min.js", "javascript"),
                        ("static/layer/layer.js", "javascript"),
                        ("static/layer/theme/default/layer.css", "css"),
                        ("static/panel.css", "css"),
                        ("static/js/echarts.min.js", "javascript"),
                        ("static/img/soft_ico/ico-gunicorn_switch.png", "image/png"),
                        ("gunicorn_switch/static/gunicorn_switch.js", "javascript"),
                        ("gunicorn_switch/static/gunicorn_switch.i18n.js", "javascript")]:
        with urllib.request.urlopen(url + path, timeout=30) as r:
            assert r.status == 200 and ctype in r.headers["Content-Type"], path
    for path in ["static/..%2f..%2fserver.py", "gunicorn_switch/static/..%2fgunicorn_switch_main.py"]:
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(url + path, timeout=30)


# -- the page in Chromium ------------------------------------------------------------------
def test_plugin_page_zh(page, devpanel, devpanel_module, screenshot):
    from playwright.sync_api import expect

    server, url, token = devpanel
    sites = expected_sites(devpanel_module, server)
    root = open_plugin(page, url)
    expect(root.locator(".bt-w-menu p")).to_have_text(TABS_ZH)
    expect(page.locator(DIALOG + " .layui-layer-title")).to_contain_text("Gunicorn")
    wait_sites_loaded(page, root, sites)
    names = root.locator(".gswitch-sites tbody .gswitch-site-cell .gswitch-site").all_inner_texts()
    assert names == [s["site"] for s in sites]
    for s in sites:
        row = root.locator('.gswitch-sites tbody tr[data-site="%s"]' % s["site"])
        if s["server"] == "uwsgi":
            expect(row.locator(".gswitch-act-switch")).to_have_text("切换到 Gunicorn")
        if s["server"] == "gunicorn" and s["managed_by_plugin"]:
            expect(row.locator(".gswitch-act-rollback")).to_have_text("回滚到 uWSGI")
    # the dialog is the panel's 700 px
    box = page.locator(DIALOG).bounding_box()
    assert box["width"] == pytest.approx(700, abs=2)
    for key, label in zip(TAB_KEYS, TABS_ZH):
        root.locator('.bt-w-menu p[data-tab="%s"]' % key).click()
        expect(root.locator('.gswitch-pane[data-pane="%s"]' % key)).to_be_visible()
        expect(root.locator(".bt-w-menu p.bgw")).to_have_text(label)
        screenshot(page, "zh-" + key)
    expect(root.locator(".gswitch-about")).to_contain_text("1.0.0")
    assert page.errors == []


def test_plugin_page_en_on_aapanel(page, devpanel, devpanel_module, screenshot):
    from playwright.sync_api import expect

    server, url, token = devpanel
    sites = expected_sites(devpanel_module, server)
    root = open_plugin(page, url + "?lang=en")  # the dev panel dressed as aaPanel
    expect(root.locator(".bt-w-menu p")).to_have_text(TABS_EN)
    expect(root.locator(".gswitch-sites thead th").first).to_have_text("Site")
    wait_sites_loaded(page, root, sites)
    if any(s["server"] == "uwsgi" for s in sites):
        expect(root.locator(".gswitch-act-switch").first).to_have_text("Switch to Gunicorn")
    for key in TAB_KEYS:
        root.locator('.bt-w-menu p[data-tab="%s"]' % key).click()
        expect(root.locator('.gswitch-pane[data-pane="%s"]' % key)).to_be_visible()
        screenshot(page, "en-" + key)
    expect(root.locator('.gswitch-pane[data-pane="about"]')).to_contain_text("uWSGI to Gunicorn")
    assert page.errors == []


def test_language_choice_in_settings(page, devpanel):
    from playwright.sync_api import expect

    server, url, token = devpanel
    root = open_plugin(page, url)
    expect(root.locator(".bt-w-menu p").first).to_have_text("站点")
    root.locator('.bt-w-menu p[data-tab="settings"]').click()
    root.locator("select.gswitch-lang").select_option("en")
    expect(root.locator(".bt-w-menu p")).to_have_text(TABS_EN)
    # the choice is kept: reopen the page
    root = open_plugin(page, url)
    expect(root.locator(".bt-w-menu p")).to_have_text(TABS_EN)
    root.locator('.bt-w-menu p[data-tab="settings"]').click()
    root.locator("select.gswitch-lang").select_option("auto")
    expect(root.locator(".bt-w-menu p")).to_have_text(TABS_ZH)
    assert page.errors == []


def test_reopening_the_dialog(page, devpanel, devpanel_module):
    from playwright.sync_api import expect

    server, url, token = devpanel
    sites = expected_sites(devpanel_module, server)
    root = open_plugin(page, url)
    wait_sites_loaded(page, root, sites)
    page.locator(DIALOG + " .layui-layer-close").click()
    expect(page.locator(DIALOG)).to_have_count(0)
    page.click("#dp-soft-list .dp-setting")
    expect(page.locator(DIALOG)).to_have_count(1)
    root = page.locator(DIALOG + " .gswitch")
    wait_sites_loaded(page, root, sites)
    # one request per click on 刷新, however often the script was loaded
    calls = []
    page.on("request", lambda r: "s=get_sites" in r.url and calls.append(r.url))
    root.locator(".gswitch-refresh").click()
    wait_sites_loaded(page, root, sites)
    page.wait_for_function("window.jQuery.active === 0")
    assert len(calls) == 1
    assert page.evaluate("typeof window.gswitch.init") == "function"
    assert page.errors == []


def test_plan_dialog(page, devpanel, devpanel_module, screenshot):
    from playwright.sync_api import expect

    server, url, token = devpanel
    sites = expected_sites(devpanel_module, server)
    uwsgi = [s for s in sites if s["server"] == "uwsgi"]
    if not uwsgi:
        pytest.skip("no uWSGI site on this host")
    get = devpanel_module.build_get([("site", uwsgi[0]["site"])], [], "gunicorn_switch", "plan")
    plan = server.plugin_class()().plan(get)
    root = open_plugin(page, url)
    wait_sites_loaded(page, root, sites)
    root.locator('tr[data-site="%s"] .gswitch-act-switch' % uwsgi[0]["site"]).click()
    if plan and plan["status"]:
        dialog = page.locator(".gswitch-plan-layer")
        expect(dialog).to_be_visible()
        expect(dialog.locator(".layui-layer-title")).to_contain_text(uwsgi[0]["site"])
        if plan["data"].get("gunicorn_conf"):
            expect(dialog.locator("pre").first).to_contain_text(
                plan["data"]["gunicorn_conf"].strip().splitlines()[0])
        screenshot(page, "zh-plan")
        expect(dialog.locator(".gswitch-opt[name=workers]")).to_be_visible()
        dialog.locator(".layui-layer-btn1").click()  # 取消: nothing is switched
        expect(dialog).to_have_count(0)
    else:
        expect(page.locator(".layui-layer-msg .layui-layer-ico2")).to_be_visible()
    assert page.errors == []


@pytest.mark.parametrize("kind", ["http500", "status_false", "not_json", "aborted"])
def test_failures_are_shown(page, devpanel, screenshot, kind):
    from playwright.sync_api import expect

    server, url, token = devpanel
    replies = {
        "http500": {"status": 500, "content_type": "text/html", "body": "<h1>500</h1>"},
        "status_false": {"status": 200, "content_type": "application/json",
                         "body": json.dumps({"status": False, "msg": "站点扫描失败: test"})},
        "not_json": {"status": 200, "content_type": "text/html", "body": "<html>login</html>"},
    }
    expected = {"http500": "HTTP 500", "status_false": "站点扫描失败: test",
                "not_json": "无法识别", "aborted": "无法连接"}[kind]

    def handle(route):
        if kind == "aborted":
            route.abort()
        else:
            route.fulfill(**replies[kind])

    page.route("**/plugin?action=a&name=gunicorn_switch&s=get_sites*", handle)
    root = open_plugin(page, url)
    expect(page.locator(".layui-layer-msg", has_text=expected)).to_be_visible()
    expect(root.locator(".gswitch-sites .gswitch-error")).to_contain_text(expected)
    expect(page.locator(".layui-layer-msg .layui-layer-ico16")).to_have_count(0)
    screenshot(page, "error-" + kind)
    # the failed request itself is logged by Chromium as a console error; nothing else may be
    assert [e for e in page.errors if "Failed to load resource" not in e] == []


def test_main_stops_cleanly_on_sigterm(ui_target):
    """`python tools/devpanel/server.py` (make demo) prints its URL and exits 0 on SIGTERM."""
    import os
    import signal
    import subprocess
    import sys

    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    argv = [sys.executable, os.path.join(repo, "tools", "devpanel", "server.py"),
            "--plugin-dir", ui_target.plugin_dir, "--port", "0"]
    if ui_target.root:
        argv += ["--root", ui_target.root]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("devpanel: http://127.0.0.1:"), line + proc.stderr.read()
        url = line.split()[1]
        with urllib.request.urlopen(url, timeout=30) as r:
            assert r.status == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert "stopped" in proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_page_js_is_es5():
    """The panel's older browsers: no ES2015+ syntax in the page's scripts (a cheap check)."""
    import glob
    import os

    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    files = sorted(glob.glob(os.path.join(repo, "plugin", "static", "*.js")))
    assert len(files) > 1
    for path in files:
        with open(path, encoding="utf-8") as f:
            assert_es5(f.read(), os.path.basename(path))


def assert_es5(src, name):
    import re

    code = re.sub(r"/\*.*?\*/", "", src, flags=re.S)
    code = re.sub(r"'(?:\\.|[^'\\])*'", "''", code)  # string literals (the page uses single quotes)
    code = re.sub(r"//[^\n]*", "", code)
    for pattern in [r"=>", r"`", r"\blet\s", r"\bconst\s", r"\bclass\s", r"\.\.\.\w",
                    r"\bimport\s", r"\bexport\s", r"\basync\s", r"\bawait\s"]:
        assert not re.search(pattern, code), (name, pattern)


def test_wider_dialog(page, devpanel, devpanel_module, screenshot):
    """Plugins may widen the panel's dialog ($('.layui-layer-page').width(900)): still laid out."""
    from playwright.sync_api import expect

    server, url, token = devpanel
    sites = expected_sites(devpanel_module, server)
    root = open_plugin(page, url)
    wait_sites_loaded(page, root, sites)
    page.evaluate("jQuery('.layui-layer-page').width(1000)")
    table = root.locator(".gswitch-sites table").bounding_box()
    assert table["width"] > 800
    expect(root.locator(".bt-w-menu")).to_be_visible()
    screenshot(page, "zh-sites-1000px")
    assert page.errors == []
