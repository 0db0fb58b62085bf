"""The plan's carried-over rows in the page's language (carried_text.py): Chinese on BaoTa,
and in English the very words the translation logs, for every kind it carries."""
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "plugin"))

from gunicorn_switch_core import carried_text, uwsgi_config, uwsgi_translate  # noqa: E402

CONFIG = """[uwsgi]
chdir = /srv/app
module = a.wsgi
attach-daemon = celery -A a worker -l info
smart-attach-daemon2 = run/w.pid python w.py
attach-daemon2 = cmd=python n.py,pidfile=/srv/app/run/n.pid,notifypid=1,stopsignal=2
unique-cron = -5 -1 -1 -1 -1 python manage.py clearsessions
cron2 = minute=7,harakiri=30 python manage.py tick
cron = 0 5 -1 6 -1 python manage.py yearly
touch-reload = /srv/app/reload.txt
touch-logreopen = logs/reopen
"""


@pytest.fixture
def carried(tmp_path):
    ini = tmp_path / "u.ini"
    ini.write_text(CONFIG)
    return uwsgi_translate.translate(uwsgi_config.load(str(ini)), {"site": "shop.test"}).carried


def test_english_rows_are_the_translations_own_words(carried):
    kinds = [c["kind"] for c in carried]
    assert kinds.count("daemon") == 3 and kinds.count("cron") == 3 and kinds.count("reload") == 2
    out = carried_text.localize(carried, "supervisor", "en")
    assert [c["detail"] for c in out] == [c["detail"] for c in carried]
    assert {c["where"] for c in out if c["kind"] == "daemon"} == {
        "a program of the Supervisor plugin (进程守护管理器), next to Gunicorn's"}
    first = kinds.index("daemon")
    assert carried[first] is not out[first] and out[first]["job"] == carried[first]["job"]


@pytest.mark.parametrize("manager,where", [
    ("supervisor", "进程守护管理器（Supervisor）"), ("systemd", "systemd 单元"),
    ("panel_project", "项目启动脚本"), ("daemon", "插件启动并记录")])
def test_chinese_rows_say_where_each_went_under_the_manager(carried, manager, where):
    out = carried_text.localize(carried, manager, "zh")
    daemons = [c for c in out if c["kind"] == "daemon"]
    assert all(where in c["where"] for c in daemons)
    assert "以站点用户运行，工作目录 /srv/app；在 uWSGI 停止前启动" in daemons[0]["detail"]
    assert "/srv/app/run/w.pid" in daemons[1]["detail"] and "不重复启动" in daemons[1]["detail"]
    assert daemons[2]["detail"].endswith("，并收到 SIGINT）")
    crons = [c for c in out if c["kind"] == "cron"]
    assert all(c["where"] == "面板计划任务" for c in crons)
    assert "不重复执行（flock）" in crons[0]["detail"]
    assert "30 秒后强制结束" in crons[1]["detail"]
    assert "周期编辑器无法显示" in crons[2]["detail"]
    reloads = [c for c in out if c["kind"] == "reload"]
    assert reloads[0]["detail"] == "/srv/app/reload.txt 变化时向主进程发送 SIGHUP（uWSGI 的 touch-reload）"
    assert reloads[1]["detail"].startswith("/srv/app/logs/reopen 变化时向主进程发送 SIGUSR1")
    # no English sentence is left in a Chinese row (commands and paths are the user's own)
    for c in daemons + crons + reloads:
        assert not re.search(r"\b(as the site's user|started before|never two|killed after)\b",
                             c["where"] + c["detail"]), c


def test_rows_of_other_kinds_pass_through(carried):
    boot = {"kind": "boot", "where": "x", "detail": "y"}
    assert carried_text.localize([boot], "daemon", "zh") == [boot]
