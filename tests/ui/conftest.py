"""Browser fixtures for the UI tests: the dev panel and Debian's Chromium through Playwright.

What the page runs against (``ui_target``): the ``sandbox`` fixture (tests/conftest.py: a
Baota-shaped host with real nginx, uWSGI and Django, ``.root`` and ``.plugin_dir``), so the
page talks to the real plugin. Set ``GSWITCH_UI_PLUGIN_DIR`` (and ``GSWITCH_UI_ROOT``) to
point it at a plugin dir and prefix of your own (e.g. a sandbox built by hand).
"""
import collections
import os
import shutil
import sys

import pytest

from tests.ui.devpanel_page import load_devpanel

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SCREENSHOTS = os.path.join(REPO, "tests", "results", "screenshots")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]

Target = collections.namedtuple("Target", "kind root plugin_dir")


@pytest.fixture(scope="session")
def devpanel_module():
    return load_devpanel()


@pytest.fixture(scope="session")
def ui_target(request):
    if os.environ.get("GSWITCH_UI_PLUGIN_DIR"):  # e.g. a sandbox built by hand
        return Target("env", os.environ.get("GSWITCH_UI_ROOT") or None,
                      os.environ["GSWITCH_UI_PLUGIN_DIR"])
    sandbox = request.getfixturevalue("sandbox")
    return Target("sandbox", str(sandbox.root), str(sandbox.plugin_dir))


class SpawnedPanel(object):
    """A dev panel running as its own process; ``plugin_class()`` loads the same plugin in the
    test's process, for tests that ask the class directly what the page should show."""

    def __init__(self, devpanel_module, plugin_dir, proc):
        self.plugin_dir = os.path.abspath(plugin_dir)
        self.proc = proc
        self.loader = devpanel_module.Loader(self.plugin_dir)

    def plugin_class(self):
        return self.loader.plugin_class()


@pytest.fixture(scope="session")
def devpanel(devpanel_module, ui_target, request):
    """The dev panel as a process of the panel's Python (the sandbox's pyenv: 3.7, as BaoTa
    11; GSWITCH_UI_PYTHON for a target of your own): (panel, url, token)."""
    if ui_target.kind == "sandbox":
        python = str(request.getfixturevalue("sandbox").panel_python)
    else:
        python = os.environ.get("GSWITCH_UI_PYTHON") or sys.executable
    env = dict(os.environ)
    if ui_target.root:
        env["GUNICORN_SWITCH_ROOT"] = ui_target.root
    proc, url, token = devpanel_module.spawn(python, ui_target.plugin_dir, ui_target.root, env=env)
    try:
        yield SpawnedPanel(devpanel_module, ui_target.plugin_dir, proc), url, token
    finally:
        devpanel_module.kill(proc)


@pytest.fixture(scope="session")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = shutil.which("chromium")
    if not executable:
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    # the real backend scans processes and nginx files: give UI states time to settle
    sync_api.expect.set_options(timeout=60000)
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def new_page(browser):
    """A fresh page in a context of its own (so no localStorage carries over);
    ``page.errors`` collects console errors and uncaught exceptions. The caller closes
    ``page.context``."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    pg = context.new_page()
    pg.errors = []
    pg.on("console", lambda m: m.type == "error" and pg.errors.append("console: " + m.text))
    pg.on("pageerror", lambda e: pg.errors.append("pageerror: %s" % e))
    return pg


@pytest.fixture
def page(browser):
    """A fresh page (new_page)."""
    pg = new_page(browser)
    try:
        yield pg
    finally:
        pg.context.close()


@pytest.fixture
def pages(browser):
    """pages(n): n fresh pages at once (new_page), each in its own context, all closed after
    the test."""
    made = []

    def make(n):
        for _ in range(n):
            made.append(new_page(browser))
        return made[-n:]

    try:
        yield make
    finally:
        for pg in made:
            pg.context.close()


@pytest.fixture
def screenshot():
    """screenshot(page, name[, part]): save a full-page PNG under tests/results/screenshots/,
    or with ``part`` (a locator) only that part of the page, cropped to it."""
    os.makedirs(SCREENSHOTS, exist_ok=True)

    def take(pg, name, part=None):
        # let layer's open/close animations finish (a wait, not a timing assertion)
        pg.wait_for_selector(".layer-anim-close", state="detached")
        # finite animations only (a spinner never finishes), and a cancelled one is fine
        pg.evaluate("Promise.all(document.getAnimations().filter(function (a) {"
                    " return a.effect && a.effect.getTiming().iterations !== Infinity; })"
                    ".map(function (a) { return a.finished.catch(function () {}); }))")
        path = os.path.join(SCREENSHOTS, name + ".png")
        if part is not None:
            part.screenshot(path=path, animations="disabled")
        else:
            pg.screenshot(path=path, full_page=True)
        return path

    return take
