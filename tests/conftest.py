"""Shared fixtures: the plugin on sys.path, and one Baota-shaped sandbox host per session.

The sandbox (tests/sandbox) is real nginx, real uWSGI in three shapes, real supervisord and
real Django; building it takes about half a minute, so one is shared by the whole session and
every test that changes a site puts it back. GUNICORN_SWITCH_ROOT points the plugin at it.
"""
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "plugin"))
sys.path.insert(0, str(REPO))


class PanelGet(object):
    """The panel's `get` (public.dict_obj): string attributes, `in`, and get()."""

    def __init__(self, **kw):
        for k, v in kw.items():
            setattr(self, k, v)

    def __contains__(self, key):
        return hasattr(self, key)

    def get(self, key, default=None):
        return getattr(self, key, default)


@pytest.fixture
def panel_get():
    return PanelGet


def running_sandbox(specs=None):
    """Build and start a sandbox (every site of tests/sandbox/layout.py, or ``specs``), point
    the plugin at it while the caller uses it, then stop and remove it."""
    from tests.sandbox.host import Sandbox

    sb = (Sandbox() if specs is None else Sandbox(specs=specs)).build().start()
    saved = sb.activate()
    try:
        yield sb
    finally:
        sb.deactivate(saved)
        sb.destroy()


def new_plugin():
    """The panel's view of the plugin: an instance of gunicorn_switch_main."""
    import gunicorn_switch_main

    return gunicorn_switch_main.gunicorn_switch_main()


@pytest.fixture(scope="session")
def sandbox():
    yield from running_sandbox()


@pytest.fixture(scope="session")
def plugin(sandbox):
    return new_plugin()


def pytest_collection_modifyitems(config, items):
    """Tiers, from what a test needs: ``sandbox`` (the Baota-shaped host: nginx, uWSGI,
    supervisord, minutes to build), ``ui`` (Chromium), ``slow`` (marked by hand). `make
    test-fast` runs the rest."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if "sandbox" in names:
            item.add_marker(pytest.mark.sandbox)
        if "/tests/ui/" in str(item.fspath) or "page" in names or "browser" in names:
            item.add_marker(pytest.mark.ui)
