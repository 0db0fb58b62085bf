"""Fixtures of the tests that run their own Gunicorn (no sandbox host): a temporary
GUNICORN_SWITCH_ROOT, and ``make_site(**kw)`` starting a GunicornSite (tests/sandbox/gunicorn_site.py)
that is stopped by PID afterwards."""
import pytest

from gunicorn_switch_core import status
from tests.sandbox.gunicorn_site import GunicornSite


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("GUNICORN_SWITCH_ROOT", str(tmp_path / "root"))
    monkeypatch.setenv("GUNICORN_SWITCH_LANG", "en")
    status._SAMPLES.clear()
    return tmp_path / "root"


@pytest.fixture
def make_site(root, tmp_path):
    started = []

    def make(**kw):
        s = GunicornSite(tmp_path / ("s%d" % len(started)), **kw)
        started.append(s)
        return s.start()

    yield make
    for s in started:
        s.stop()
