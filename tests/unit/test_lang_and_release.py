"""The backend decides the page's language; get_info and uninstall_check (issue 13)."""
import json

import pytest

from gunicorn_switch_core import __version__, api, i18n, tasks

REPO_INFO = json.loads(open(__file__.rsplit("/tests/", 1)[0] + "/info.json").read())


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("GUNICORN_SWITCH_ROOT", str(tmp_path))
    monkeypatch.delenv("GUNICORN_SWITCH_LANG", raising=False)
    return tmp_path


def set_panel_lang(root, default=None, chosen=None):
    d = root / "www/server/panel/BTPanel/languages"
    d.mkdir(parents=True, exist_ok=True)
    if default is not None:
        (d / "settings.json").write_text(json.dumps({"default": default, "languages": []}))
    if chosen is not None:
        (d / "language.pl").write_text(chosen)


def test_baota_without_a_language_setting_is_chinese(root):
    assert i18n.panel_lang() == "zh"


@pytest.mark.parametrize("code, expected", [
    ("en", "en"), ("zh", "zh"), ("de", "en"), ("fra", "en"), ("cht", "en"), ("pt_br", "en"),
])
def test_aapanel_default_language(root, code, expected):
    set_panel_lang(root, default=code)
    assert i18n.panel_lang() == expected


def test_aapanel_users_choice_wins_over_the_default(root):
    set_panel_lang(root, default="en", chosen="zh")
    assert i18n.panel_lang() == "zh"
    set_panel_lang(root, default="zh", chosen="de")
    assert i18n.panel_lang() == "en"


def test_get_info_carries_version_and_language(root, panel_get):
    set_panel_lang(root, default="de")
    res = api.call("get_info", panel_get())
    assert res["status"] is True
    assert res["data"] == {"version": REPO_INFO["versions"], "lang": "en", "panel_lang": "en"}
    assert __version__ == REPO_INFO["versions"]


def test_the_pages_lang_argument_overrides_for_that_call_only(root, panel_get):
    res = api.call("get_task", panel_get(task_id="nope", lang="en"))
    assert res["msg"] == i18n.MESSAGES["bad_task"][1]
    res = api.call("get_task", panel_get(task_id="nope"))
    assert res["msg"] == i18n.MESSAGES["bad_task"][0]
    res = api.call("get_info", panel_get(lang="xx"))
    assert res["data"]["lang"] == "zh"


def test_uninstall_check_refuses_while_a_task_runs(root):
    verdict = api.uninstall_check()
    assert verdict["status"] is False  # the panel goes on with the uninstall
    task = tasks.create("switch", "shop.test", [("a", "甲", "A")], {})
    verdict = api.uninstall_check()
    assert verdict["status"] is True and "shop.test" in verdict["msg"]
    task["state"] = "done"
    tasks.save(task)
    assert api.uninstall_check()["status"] is False
