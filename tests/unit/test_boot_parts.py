"""Boot persistence, the pure parts: which crontab/rc.local/init.d lines start a site's uWSGI,
how they are turned off and replaced, and how that is undone exactly."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "plugin"))

from gunicorn_switch_core import boot  # noqa: E402

PROJECT = "/www/wwwroot/shop.test"
INI = PROJECT + "/uwsgi.ini"
NEEDLES = boot.needles(INI, PROJECT)
SCRIPT = "/www/server/panel/data/gunicorn_switch/boot/shop.test.sh"

CRONTAB = """# m h dom mon dow command
30 1 * * * /www/server/cron/0a1b2c >> /www/server/cron/0a1b2c.log 2>&1
@reboot cd /www/wwwroot/shop.test && /www/server/pyporject_evn/shop_venv/bin/uwsgi --ini uwsgi.ini
@reboot /www/server/pyporject_evn/shop2_venv/bin/uwsgi --ini /www/wwwroot/shop/uwsgi.ini
#@reboot uwsgi --ini /www/wwwroot/shop.test/uwsgi.ini
@reboot /usr/bin/python3 /www/wwwroot/shop.test/manage.py clearsessions
@reboot sleep 5; /usr/local/bin/uwsgi --ini /www/wwwroot/shop.test/uwsgi.ini
"""


def test_crontab_reboot_lines_of_the_site_and_no_other():
    found = boot.crontab_entries(CRONTAB, NEEDLES)
    assert [f["line"] for f in found] == [3, 7]
    # /www/wwwroot/shop is another site; a comment and a line without uWSGI are not boot
    # entries of uWSGI; a timed line is not a boot line
    assert all(f["text"].startswith("@reboot") for f in found)


def test_a_path_counts_only_as_a_whole_word():
    assert boot.starts_site("uwsgi --ini /www/wwwroot/shop.test/uwsgi.ini", ["/www/wwwroot/shop.test"])
    assert boot.starts_site("cd '/www/wwwroot/shop.test' && uwsgi x", ["/www/wwwroot/shop.test"])
    assert not boot.starts_site("uwsgi --ini /www/wwwroot/shop.test2/uwsgi.ini", ["/www/wwwroot/shop.test"])
    assert not boot.starts_site("  # uwsgi --ini /www/wwwroot/shop.test/uwsgi.ini", ["/www/wwwroot/shop.test"])
    assert boot.needles(None, "/") == []


RC_LOCAL = """#!/bin/sh -e
#
# rc.local
/www/server/pyporject_evn/shop_venv/bin/uwsgi --ini /www/wwwroot/shop.test/uwsgi.ini --daemonize /www/wwwlogs/shop.log
/etc/init.d/nginx start
exit 0
"""


def test_rc_local_lines():
    assert [f["line"] for f in boot.rc_local_entries(RC_LOCAL, NEEDLES)] == [4]


PYMANAGER = """#!/bin/bash
### BEGIN INIT INFO
# Provides:          shop_pymanager
# Required-Start:    $all
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
### END INIT INFO
case "$1" in
  start) cd /www/wwwroot/shop.test && /www/wwwroot/shop.test/venv/bin/uwsgi -d --ini /www/wwwroot/shop.test/uwsgi.ini ;;
  stop) kill -INT $(cat /www/wwwroot/shop.test/uwsgi.pid) ;;
esac
"""


def test_the_old_project_managers_init_script_is_found_and_replaced_keeping_its_boot_order():
    assert boot.initd_starts_site(PYMANAGER, NEEDLES)
    assert not boot.initd_starts_site(PYMANAGER, boot.needles("/www/wwwroot/blog/uwsgi.ini", "/www/wwwroot/blog"))
    new = boot.initd_text(PYMANAGER, SCRIPT, "shop.test")
    assert "# Provides:          shop_pymanager\n" in new and "Default-Start:     2 3 4 5" in new
    assert "start) exec %s ;;" % SCRIPT in new
    assert not [ln for ln in new.splitlines() if "uwsgi" in ln.lower() and not ln.startswith("#")]
    assert not boot.initd_starts_site(new, NEEDLES)  # the switch's own is never taken again


@pytest.mark.parametrize("text,kind,found", [(CRONTAB, "crontab", boot.crontab_entries),
                                             (RC_LOCAL, "rc_local", boot.rc_local_entries),
                                             (RC_LOCAL.replace("\n", "\r\n"), "rc_local",
                                              boot.rc_local_entries)])
def test_lines_are_commented_out_replaced_once_and_undone_exactly(text, kind, found):
    entries = found(text, NEEDLES)
    repl = boot.replacement_line(kind, SCRIPT, "shop.test")
    new = boot.disable_lines(text, set(e["line"] for e in entries), "shop.test", repl)
    assert found(new, NEEDLES) == []  # uWSGI no longer starts at boot
    assert new.count(repl) == 1
    for e in entries:
        assert "#" + e["text"] in new
    assert boot.has_edits(new, "shop.test")
    assert boot.undo_lines(new, "shop.test") == text
    # another site's edits are not undone with this one's
    assert boot.undo_lines(new, "blog.test") == new


def test_undo_keeps_what_else_changed_since():
    entries = boot.crontab_entries(CRONTAB, NEEDLES)
    new = boot.disable_lines(CRONTAB, {entries[0]["line"]}, "shop.test",
                             boot.replacement_line("crontab", SCRIPT, "shop.test"))
    later = new + "0 3 * * * /www/server/cron/ffff >> /www/server/cron/ffff.log 2>&1\n"
    assert boot.undo_lines(later, "shop.test") == CRONTAB + \
        "0 3 * * * /www/server/cron/ffff >> /www/server/cron/ffff.log 2>&1\n"


def test_the_replacement_runs_the_boot_script_as_cron_and_rc_local_read_it():
    assert boot.replacement_line("crontab", SCRIPT, "shop.test") == \
        "@reboot %s # gunicorn_switch shop.test" % SCRIPT
    assert boot.replacement_line("rc_local", SCRIPT, "shop.test") == \
        "%s # gunicorn_switch shop.test" % SCRIPT


CRON = [{"kind": "crontab", "file": "/var/spool/cron/crontabs/root", "line": 3, "text": "@reboot x"}]


@pytest.mark.parametrize("found,gman,uman,auto_run,replace,persistent,where", [
    # a daemon whose @reboot line started it: replaced by the boot script
    (CRON, "daemon", "daemon", None, True, True, "root's crontab @reboot -> the plugin's boot script"),
    # Supervisor starts Gunicorn at boot itself: uWSGI's line is only turned off
    (CRON, "supervisor", "daemon", None, False, True, "the Supervisor plugin (autostart=true)"),
    # nothing at boot, no Supervisor: nothing starts it, and the plan says so
    ([], "daemon", "daemon", None, False, False, None),
    ([], "systemd", "systemd", None, False, True, "its systemd unit (enabled)"),
    ([], "panel_project", "panel_project", True, False, True, "the panel project's autostart (auto_run)"),
    ([], "panel_project", "panel_project", False, False, False, None),
])
def test_the_plan(found, gman, uman, auto_run, replace, persistent, where):
    p = boot.plan(found, gman, uman, auto_run)
    assert (p["replace"], p["persistent"], p["where_en"]) == (replace, persistent, where)
    items = boot.carried_items(p, "en", "NOTE")
    assert items and all(i["kind"] == "boot" for i in items)
    assert items[0]["where"] == (where or "NOTE")
    assert boot.carried_items(p, "zh", "NOTE")[0]["where"] == (p["where"] or "NOTE")


# ---- the boot script and the Supervisor program (text only) ---------------------------------

@pytest.fixture
def www():
    from gunicorn_switch_core import host
    from tests.sandbox.host import ensure_www_user
    ensure_www_user()
    return host.User("www")


REC = {"site": "shop.test", "user": "www", "venv": "/www/server/pyporject_evn/shop_venv",
       "gunicorn_bin": "/www/server/pyporject_evn/shop_venv/bin/gunicorn",
       "gunicorn_conf": PROJECT + "/gunicorn_conf.py", "project_path": PROJECT,
       "log_dir": "/www/wwwlogs/python/shop.test", "runtime_dir": "/run/gunicorn_switch/shop.test",
       "bind": "127.0.0.1:8001"}


def test_the_boot_script_makes_the_runtime_dir_as_root_then_runs_nothing_of_the_site_as_root(www):
    import subprocess
    from gunicorn_switch_core import boot_apply
    text = boot_apply.script_text(REC)
    lines = text.splitlines()
    assert "install -d -o %d -g %d -m 0700 /run/gunicorn_switch/shop.test || exit 1" % (www.uid, www.gid) in lines
    run = [ln for ln in lines if ln.startswith("nohup")][0]
    # root runs setpriv/runuser, never the venv's gunicorn, and opens no log of the site's
    assert run.startswith('nohup "${drop[@]}" env -i ') and ">>" not in run.split("/bin/sh -c")[0]
    subprocess.run(["bash", "-n"], input=text.encode(), check=True)
    unix = boot_apply.script_text(dict(REC, bind="unix:/run/gunicorn_switch/shop.test/g.sock"))
    assert "-m 0711 /run/gunicorn_switch/shop.test" in unix


def test_paths_a_shell_would_read_otherwise_are_refused(www):
    from gunicorn_switch_core import boot_apply, safe_text
    with pytest.raises(safe_text.UnsafeText):
        boot_apply.script_text(dict(REC, project_path="/www/wwwroot/$(reboot)"))
    with pytest.raises(safe_text.UnsafeText):
        boot_apply.prep_program_text("gunicorn_x_boot", "/www/x;reboot")


def test_the_supervisor_program_runs_once_as_root_before_gunicorn():
    from gunicorn_switch_core import boot_apply
    text = boot_apply.prep_program_text("gunicorn_shop_test_boot", "/www/server/panel/data/gunicorn_switch/boot/s.dirs.sh")
    assert {"user=root", "priority=1", "autorestart=false", "startretries=0"} <= set(text.splitlines())


def test_under_a_manager_the_init_script_no_longer_starts_anything():
    new = boot.initd_text(PYMANAGER, None, "shop.test")
    assert "# Provides:          shop_pymanager\n" in new
    start = [ln for ln in new.splitlines() if ln.strip().startswith("start)")][0]
    assert "exit 0" in start and "exec" not in start
    assert not boot.initd_starts_site(new, NEEDLES)


def test_the_boot_script_starts_the_carried_daemons_as_the_site_user_with_their_words_intact(www):
    """A daemon the plugin runs itself (a daemon site): the boot script starts its loop last,
    through ``drop``, every word quoted (a command with quotes and $ reaches the loop as it
    was), in a subshell that becomes the loop."""
    import shlex
    import subprocess
    from gunicorn_switch_core import boot_apply, daemons
    job = {"n": 1, "name": "uWSGI daemon: shop.test #1", "cwd": PROJECT, "stopsignal": "TERM",
           "command": "python w.py --say 'it''s $HOME' \"$(id)\"", "env": [["K", "a b'c"]]}
    rec = dict(REC, daemons=[{"manager": "spawn", "job": job, "log": "/l"},
                             {"manager": "supervisor", "program": "p"}])
    text = boot_apply.script_text(rec)
    subprocess.run(["bash", "-n"], input=text.encode(), check=True)
    lines = [ln for ln in text.splitlines() if daemons.MARK in ln]
    assert len(lines) == 1 and text.splitlines()[-2] == lines[0]
    line = lines[0]
    assert line.startswith("(cd %s && exec nohup \"${drop[@]}\" env -i " % PROJECT)
    assert line.endswith(") </dev/null >/dev/null 2>&1 &")
    words = shlex.split(line[len("(cd %s && exec nohup \"${drop[@]}\" " % PROJECT):-len(") </dev/null >/dev/null 2>&1 &")])
    assert "K=a b'c" in words and "USER=www" in words
    assert words[words.index("/bin/sh"):] == daemons.loop_argv(job, rec)
    assert words[words.index("/bin/sh"):][4:] == [job["command"], "/www/wwwlogs/python/shop.test/daemon1.log",
                                                 "/run/gunicorn_switch/shop.test/daemon1.lock"]
