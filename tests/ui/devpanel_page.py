"""The dev panel (tools/devpanel/server.py) as a module, and the page helpers the UI tests
share: open the plugin's dialog the way the panel does, wait for the site list, and what the
plugin class itself says the list holds."""
import importlib.util
import os

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DIALOG = ".layui-layer-page"


def load_devpanel():
    """tools/devpanel/server.py as a module (it is a script, not a package)."""
    path = os.path.join(REPO, "tools", "devpanel", "server.py")
    spec = importlib.util.spec_from_file_location("gswitch_devpanel_server", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def expected_sites(devpanel_module, server):
    """What the class itself says, so that the test fits whatever host the fixture provides."""
    get = devpanel_module.build_get([], [], "gunicorn_switch", "get_sites")
    result = server.plugin_class()().get_sites(get)
    assert result["status"] is True, result
    return result["data"]


def open_plugin(page, url):
    from playwright.sync_api import expect

    page.goto(url)
    page.click("#dp-soft-list .dp-setting")
    expect(page.locator(DIALOG + " .gswitch .bt-w-menu")).to_be_visible()
    return page.locator(DIALOG + " .gswitch").last


def wait_sites_loaded(page, root, sites):
    from playwright.sync_api import expect

    rows = root.locator(".gswitch-sites tbody tr")
    if sites:
        expect(rows).to_have_count(len(sites))
        expect(rows.first).to_have_attribute("data-site", sites[0]["site"])
    else:
        expect(root.locator(".gswitch-sites .gswitch-empty")).not_to_have_text(
            ["正在加载…", "Loading…"])
    # nothing left spinning
    expect(page.locator(".layui-layer-msg .layui-layer-ico16")).to_have_count(0)
