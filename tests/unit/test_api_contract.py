"""The entry's contract: {status, msg, data}, never an exception, a log for the unexpected."""
import os

import pytest

from gunicorn_switch_core import api, discover


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("GUNICORN_SWITCH_ROOT", str(tmp_path))
    monkeypatch.setenv("GUNICORN_SWITCH_LANG", "zh")
    return tmp_path


def test_empty_host_has_no_sites(root, panel_get):
    res = api.call("get_sites", panel_get())
    assert res == {"status": True, "msg": "ok", "data": []}


def test_unknown_method_is_refused(root, panel_get):
    res = api.call("rm_rf", panel_get())
    assert res["status"] is False and "rm_rf" in res["msg"] and res["data"] is None


@pytest.mark.parametrize("value", ["x" * 5000, "a\x00b"])
def test_oversized_or_nul_values_are_refused(root, panel_get, value):
    res = api.call("get_sites", panel_get(site=value))
    assert res["status"] is False


def test_unexpected_error_is_logged_not_raised(root, panel_get, monkeypatch):
    def boom():
        raise RuntimeError("kaboom secret-detail")

    monkeypatch.setattr(discover, "get_sites", boom)
    api.LOG.handlers[:] = []
    res = api.call("get_sites", panel_get())
    assert res["status"] is False
    assert "kaboom" not in res["msg"]  # the traceback goes to the log, not to the page
    log = root / "www/server/panel/data/gunicorn_switch/logs/plugin.log"
    assert "kaboom secret-detail" in log.read_text()
    assert "Traceback" in log.read_text()
    api.LOG.handlers[:] = []


@pytest.mark.parametrize("name", ["", "../etc", "a b", "x;rm -rf /", "-rf", "a/b", "é"])
def test_require_site_refuses_bad_names(root, name):
    with pytest.raises(api.BadInput):
        api.require_site({"site": name}, sites=[{"site": "ok.test"}])


def test_require_site_accepts_a_known_site(root):
    assert api.require_site({"site": "ok.test"}, sites=[{"site": "ok.test"}]) == {"site": "ok.test"}


def test_english_messages(root, monkeypatch):
    monkeypatch.setenv("GUNICORN_SWITCH_LANG", "en")
    with pytest.raises(api.BadInput, match="No such"):
        api.require_site({"site": "nope.test"}, sites=[])
    assert os.environ["GUNICORN_SWITCH_LANG"] == "en"
