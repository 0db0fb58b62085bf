"""The whole page flow in Chromium against the real plugin on the sandbox.

shop.test (a daemonized uWSGI) is switched to Gunicorn through the page, watched, operated
and rolled back to uWSGI through the page. Whatever happens, the test leaves the sandbox as
it found it: a finally block rolls the site back through the plugin's API when the page flow
stopped halfway.

Waits are bounded waits for a UI state; nothing asserts how long anything took.
"""
import time

import pytest

from tests.ui.devpanel_page import DIALOG, expected_sites, open_plugin, wait_sites_loaded
from gunicorn_switch_core import switch as switching  # noqa: E402 (the plugin is on sys.path: tests/conftest.py)

SITE = "shop.test"
TASK_TIMEOUT = 300_000  # ms: a switch installs Gunicorn into the venv (pip) first
SLOW = 180_000  # ms: plan, control and discovery scan every process: slow on a busy host
ROW = '.gswitch-sites tbody tr[data-site="%s"]' % SITE


def api(devpanel_module, server, method, **args):
    get = devpanel_module.build_get(list(args.items()), [], "gunicorn_switch", method)
    return getattr(server.plugin_class()(), method)(get)


def site_entry(devpanel_module, server):
    return next(s for s in expected_sites(devpanel_module, server) if s["site"] == SITE)


def restore_uwsgi(devpanel_module, server, timeout=300):
    """Roll SITE back through the plugin's API if it is switched (waiting out a running task)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        entry = site_entry(devpanel_module, server)
        if entry["server"] == "uwsgi" and not entry["managed_by_plugin"]:
            return
        res = api(devpanel_module, server, "rollback", site=SITE)
        if res["status"]:
            task_id = res["data"]["task_id"]
            while time.monotonic() < end:
                task = api(devpanel_module, server, "get_task", task_id=task_id)["data"]
                if task["state"] not in ("pending", "running"):
                    break
                time.sleep(1)
        else:
            time.sleep(2)  # a switch is still running (site busy): wait for it to end
    raise AssertionError("could not roll %s back to uWSGI" % SITE)


def worker_pids(root):
    return root.locator(".gswitch-workers tr.gswitch-worker").evaluate_all(
        "rows => rows.map(r => r.getAttribute('data-pid'))")


def wait_workers(page, n):
    page.wait_for_function(
        "n => document.querySelectorAll('.gswitch-workers tr.gswitch-worker').length === n", arg=n)


def no_spinner(page):
    from playwright.sync_api import expect

    expect(page.locator(".layui-layer-msg .layui-layer-ico16")).to_have_count(0, timeout=SLOW)


def test_switch_operate_and_roll_back_through_the_page(page, devpanel, devpanel_module, sandbox,
                                                       screenshot):
    from playwright.sync_api import expect

    server, url, token = devpanel
    page.set_default_timeout(SLOW)
    start = site_entry(devpanel_module, server)
    assert start["server"] == "uwsgi" and not start["managed_by_plugin"], start
    try:
        # -- 站点: the plan ------------------------------------------------------------------
        root = open_plugin(page, url)
        wait_sites_loaded(page, root, expected_sites(devpanel_module, server))
        expect(root.locator(ROW + " .gswitch-label-uwsgi")).to_be_visible()
        root.locator(ROW + " .gswitch-act-switch").click()
        plan = page.locator(".gswitch-plan-layer")
        expect(plan).to_be_visible(timeout=SLOW)
        expect(plan.locator("pre.gswitch-conf")).to_contain_text("wsgi_app")
        expect(plan.locator("pre.gswitch-diff .gswitch-diff-add").first).to_be_visible()
        expect(plan.locator("pre.gswitch-diff .gswitch-diff-del").first).to_be_visible()
        expect(plan.locator(".gswitch-warnings")).to_be_visible()
        no_spinner(page)
        screenshot(page, "flow-1-plan")
        # changing an option makes the plan again
        plan.locator(".gswitch-opt[name=workers]").fill("3")
        plan.locator(".gswitch-opt[name=workers]").dispatch_event("change")
        expect(plan.locator("pre.gswitch-conf")).to_contain_text("workers = 3", timeout=SLOW)
        expect(plan.locator(".gswitch-plan-msg")).to_be_empty()

        # -- confirm: the steps advance; close the page while it runs, reopen, resume ---------
        plan.locator(".layui-layer-btn0").click()
        task = page.locator(".gswitch-task-layer")
        expect(task).to_be_visible(timeout=SLOW)
        expect(task.locator(".gswitch-step")).to_have_count(len(switching.SWITCH.steps))
        expect(task.locator(".gswitch-step-running")).to_have_count(1, timeout=TASK_TIMEOUT)
        screenshot(page, "flow-2-task-running")
        assert page.evaluate("localStorage.getItem('gswitch_task_%s')" % SITE)
        # the progress dialog is modal: close it, then the plugin's page
        task.locator(".layui-layer-close").first.click()
        expect(task).to_have_count(0)
        page.locator(DIALOG + ":has(.gswitch) .layui-layer-close").first.click()
        expect(page.locator(".gswitch")).to_have_count(0)
        page.wait_for_function("gswitch.activity().timers === 0 && gswitch.activity().requests === 0")
        page.click("#dp-soft-list .dp-setting")
        task = page.locator(".gswitch-task-layer")
        expect(task).to_be_visible(timeout=SLOW)  # resumed from localStorage
        result = task.locator(".gswitch-result")
        expect(result).to_have_attribute("data-state", "succeeded", timeout=TASK_TIMEOUT)
        expect(result).to_contain_text(SITE)
        expect(task.locator(".gswitch-step-done, .gswitch-step-skipped")).to_have_count(len(switching.SWITCH.steps))
        screenshot(page, "flow-3-task-succeeded")
        assert page.evaluate("localStorage.getItem('gswitch_task_%s')" % SITE) is None
        task.locator(".layui-layer-btn0").click()
        expect(task).to_have_count(0)

        root = page.locator(DIALOG + " .gswitch").last
        expect(root.locator(ROW + " .gswitch-label-gunicorn")).to_be_visible()
        expect(root.locator(ROW + " .gswitch-act-rollback")).to_be_visible()
        no_spinner(page)
        screenshot(page, "flow-4-sites-gunicorn")

        # -- 状态 ----------------------------------------------------------------------------
        for _ in range(12):
            assert sandbox.get(SITE, "/")[0] == 200
        root.locator('.bt-w-menu p[data-tab="status"]').click()
        expect(root.locator(".gswitch-status-site")).to_have_value(SITE)
        wait_workers(page, 3)
        page.wait_for_function(
            "Array.prototype.some.call(document.querySelectorAll('.gswitch-workers td.gswitch-requests'),"
            " function (td) { return parseInt(td.textContent, 10) > 0; })")
        expect(root.locator(".gswitch-master")).to_contain_text("PID")
        # echarts, lazy-loaded; the history below adds its own once the site has a past
        expect(root.locator(".gswitch-charts .gswitch-chart canvas")).to_have_count(3)
        no_spinner(page)
        screenshot(page, "flow-5-status")

        before = worker_pids(root)
        root.locator('.gswitch-op[data-op="reload"]').click()
        page.wait_for_function(
            "old => { var now = Array.prototype.map.call("
            "document.querySelectorAll('.gswitch-workers tr.gswitch-worker'),"
            " function (r) { return r.getAttribute('data-pid'); });"
            " return now.length > 0 && now.every(function (p) { return old.indexOf(p) < 0; }); }",
            arg=before)
        no_spinner(page)
        wait_workers(page, 3)
        root.locator('.gswitch-op[data-op="add_worker"]').click()
        wait_workers(page, 4)
        no_spinner(page)
        screenshot(page, "flow-6-status-after-add")

        # -- 日志 ----------------------------------------------------------------------------
        root.locator('.bt-w-menu p[data-tab="logs"]').click()
        expect(root.locator(".gswitch-logs-site")).to_have_value(SITE)
        root.locator(".gswitch-logs-kind").select_option("access")
        expect(root.locator(".gswitch-log-text")).to_contain_text("GET /")
        root.locator(".gswitch-follow label.btswitch-btn").click()
        assert sandbox.get(SITE, "/?gswitch-follow-check")[0] == 200
        expect(root.locator(".gswitch-log-text")).to_contain_text("gswitch-follow-check")
        no_spinner(page)
        screenshot(page, "flow-7-logs")
        root.locator(".gswitch-follow label.btswitch-btn").click()

        # -- the English page and the dark theme, on the switched site -------------------------
        page.locator(DIALOG + " .layui-layer-close").first.click()
        expect(page.locator(".gswitch")).to_have_count(0)
        page.wait_for_function("gswitch.activity().timers === 0")
        root = open_plugin(page, url + "?lang=en")
        expect(root.locator(ROW + " .gswitch-act-rollback")).to_have_text("Roll back to uWSGI")
        root.locator('.bt-w-menu p[data-tab="status"]').click()
        wait_workers(page, 4)
        expect(root.locator('.gswitch-op[data-op="reload"]')).to_have_text("Graceful reload")
        expect(root.locator(".gswitch-workers th").first).to_have_text("PID")
        screenshot(page, "flow-8-en-status")
        page.locator(DIALOG + " .layui-layer-close").first.click()
        root = open_plugin(page, url + "?theme=dark")
        wait_sites_loaded(page, root, expected_sites(devpanel_module, server))
        screenshot(page, "flow-9-dark-sites")
        root.locator('.bt-w-menu p[data-tab="status"]').click()
        wait_workers(page, 4)
        screenshot(page, "flow-10-dark-status")
        root.locator('.bt-w-menu p[data-tab="sites"]').click()

        # -- roll back through the page ----------------------------------------------------------
        root.locator(ROW + " .gswitch-act-rollback").click()
        confirm = page.locator(".layui-layer-dialog", has_text=SITE)
        expect(confirm).to_be_visible()
        confirm.locator(".layui-layer-btn0").click()
        task = page.locator(".gswitch-task-layer")
        result = task.locator(".gswitch-result")
        expect(result).to_have_attribute("data-state", "succeeded", timeout=TASK_TIMEOUT)
        screenshot(page, "flow-11-dark-rollback-done")
        task.locator(".layui-layer-btn0").click()
        expect(root.locator(ROW + " .gswitch-label-uwsgi")).to_be_visible()
        expect(root.locator(ROW + " .gswitch-act-switch")).to_be_visible()
        no_spinner(page)
        page.locator(DIALOG + " .layui-layer-close").first.click()
        page.wait_for_function("gswitch.activity().timers === 0 && gswitch.activity().requests === 0")
        assert page.errors == []
    finally:
        restore_uwsgi(devpanel_module, server)
    end = site_entry(devpanel_module, server)
    assert end["server"] == "uwsgi" and not end["managed_by_plugin"]
    assert sandbox.get(SITE, "/")[0] == 200


def test_a_boot_entry_left_as_it_is_shows_why_and_no_new_place(page, devpanel, devpanel_module, sandbox,
                                                                screenshot):
    """An init.d script that starts shop.test's uWSGI but that no rc?.d link enables: the plan's
    carried-over table lists it as left as it is, with why, and not as taken over."""
    import os

    from playwright.sync_api import expect

    server, url, token = devpanel
    site = sandbox.sites[SITE]
    script = sandbox.p("/etc/init.d/shop_pymanager")
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text("#!/bin/sh\ncase \"$1\" in\n  start) %s/bin/uwsgi --ini %s ;;\nesac\n"
                      % (site.venv, site.uwsgi_ini))
    os.chmod(script, 0o755)
    try:
        page.set_default_timeout(SLOW)
        root = open_plugin(page, url)
        wait_sites_loaded(page, root, expected_sites(devpanel_module, server))
        root.locator(ROW + " .gswitch-act-switch").click()
        plan = page.locator(".gswitch-plan-layer")
        expect(plan).to_be_visible(timeout=SLOW)
        row = plan.locator(".gswitch-carried tr", has_text="开机项（不修改）")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("init.d = shop_pymanager")
        expect(row).to_contain_text("%s 存在，但未设为开机启动" % script)
        expect(row).not_to_contain_text("接管到")
        row.scroll_into_view_if_needed()
        screenshot(page, "plan-boot-left")
        plan.locator(".layui-layer-close").first.click()
        expect(plan).to_have_count(0)
        assert page.errors == []
    finally:
        script.unlink()


def test_failures_in_the_plan_and_the_task_are_shown(page, devpanel, devpanel_module, screenshot):
    """A plan that fails, and a task whose progress cannot be read: clear messages, no spinner."""
    import json

    from playwright.sync_api import expect

    server, url, token = devpanel
    page.route("**/plugin?action=a&name=gunicorn_switch&s=plan*", lambda route: route.fulfill(
        status=200, content_type="application/json",
        body=json.dumps({"status": False, "msg": "shop.test has no running uWSGI"})))
    root = open_plugin(page, url)
    wait_sites_loaded(page, root, expected_sites(devpanel_module, server))
    root.locator(ROW + " .gswitch-act-switch").click()
    expect(page.locator(".layui-layer-msg", has_text="无法生成切换计划")).to_be_visible()
    expect(page.locator(".layui-layer-msg", has_text="no running uWSGI")).to_be_visible()
    no_spinner(page)
    # a stored task the panel no longer knows: shown, forgotten, nothing spinning
    page.evaluate("localStorage.setItem('gswitch_task_%s', JSON.stringify("
                  "{id: '20000101000000-deadbeef', kind: 'switch'}))" % SITE)
    page.locator(DIALOG + " .layui-layer-close").first.click()
    page.click("#dp-soft-list .dp-setting")
    task = page.locator(".gswitch-task-layer")
    expect(task.locator(".gswitch-result.gswitch-note-error")).to_be_visible()
    expect(task.locator(".gswitch-spin")).to_have_count(0)
    screenshot(page, "error-task-unknown")
    assert page.evaluate("localStorage.getItem('gswitch_task_%s')" % SITE) is None
    assert [e for e in page.errors if "Failed to load resource" not in e] == []


@pytest.mark.parametrize("width", [700, 1000])
def test_status_and_logs_tabs_without_a_switched_site(page, devpanel, devpanel_module, screenshot,
                                                      width):
    """Before any switch: the 状态 and 日志 tabs say what to do; nothing polls."""
    from playwright.sync_api import expect

    server, url, token = devpanel
    root = open_plugin(page, url)
    wait_sites_loaded(page, root, expected_sites(devpanel_module, server))
    page.evaluate("jQuery('.layui-layer-page').width(%d)" % width)
    root.locator('.bt-w-menu p[data-tab="status"]').click()
    expect(root.locator(".gswitch-status-empty")).to_contain_text("还没有运行在 Gunicorn 上的站点")
    root.locator('.bt-w-menu p[data-tab="logs"]').click()
    expect(root.locator(".gswitch-logs-empty")).to_be_visible()
    screenshot(page, "zh-logs-empty-%d" % width)
    assert page.evaluate("gswitch.activity().timers") == 0
    assert page.errors == []


def test_charts_degrade_without_echarts(page, devpanel, devpanel_module):
    """A panel that did not load echarts: the status tab says so in text (checked without a
    switched site by feeding the page one get_status answer)."""
    import json

    from playwright.sync_api import expect

    server, url, token = devpanel
    page.route("**/static/js/echarts.min.js", lambda route: route.abort())
    status = {"site": SITE, "running": True, "managed": True, "hints": ["<b>hint</b>"],
              "master": {"pid": 1, "age": 5, "rss": 1, "cpu": 0, "version": "23.0.0",
                         "bind": "127.0.0.1:1", "config": "/x/gunicorn_conf.py"},
              "workers": [{"pid": 2, "age": 5, "rss": 1048576, "cpu": 1.5, "requests": 3,
                           "rps": 0.5, "avg_ms": 2.5, "busy": True, "exiting": False,
                           "current": {"method": "GET", "path": "/<script>", "seconds": 1.2},
                           "last_exit": {"pid": 9, "time": 1, "cause": "timeout"}}],
              "recent_exits": [{"pid": 9, "time": 1, "cause": "timeout", "detail": "WORKER TIMEOUT",
                                "rss": 52428800,
                                "request": {"method": "GET", "path": "/slow/", "elapsed": 30.1},
                                "stacks": [{"thread": "MainThread", "stack": "  File \"<views>\", in slow\n"}]},
                               {"pid": 8, "time": 1, "cause": "max_requests", "detail": ""}],
              "totals": {"workers": 1, "requests": 3, "rps": 0.5, "rss": 2, "busy": 1}}
    page.route("**/plugin?action=a&name=gunicorn_switch&s=get_status*", lambda route: route.fulfill(
        status=200, content_type="application/json",
        body=json.dumps({"status": True, "msg": "ok", "data": status})))
    page.route("**/plugin?action=a&name=gunicorn_switch&s=get_sites*", lambda route: route.fulfill(
        status=200, content_type="application/json", body=json.dumps({"status": True, "msg": "ok", "data": [
            {"site": SITE, "server": "gunicorn", "manager": "daemon", "managed_by_plugin": True,
             "project_path": "/www/wwwroot/shop", "upstream": "127.0.0.1:1"}]})))
    root = open_plugin(page, url)
    root.locator('.bt-w-menu p[data-tab="status"]').click()
    expect(root.locator(".gswitch-workers tr.gswitch-row-busy")).to_have_count(1)
    expect(root.locator(".gswitch-exits .gswitch-exit-card.gswitch-row-exit")).to_have_count(1)
    expect(root.locator(".gswitch-exits .gswitch-exit-card")).to_have_count(2)
    card = root.locator(".gswitch-exits details.gswitch-exit-card")
    expect(card).to_contain_text("GET /slow/ (30.1s)")
    expect(card.locator(".gswitch-exit-stack")).to_be_hidden()
    card.locator("summary").click()  # the card opens to its stack, escaped
    expect(card.locator(".gswitch-exit-stack")).to_contain_text('File "<views>", in slow')
    expect(root.locator(".gswitch-charts")).to_contain_text("echarts")
    expect(root.locator(".gswitch-hints")).to_contain_text("<b>hint</b>")  # escaped, as text
    expect(root.locator(".gswitch-workers")).to_contain_text("GET /<script>")
    assert [e for e in page.errors if "Failed to load resource" not in e
            and "echarts" not in e] == []
