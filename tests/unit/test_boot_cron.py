"""Boot discovery beyond root's crontab: /etc/crontab, /etc/cron.d and other users' crontabs as
cron reads them, who a line runs as, init.d scripts counted only when enabled; the pure rules
first, then boot_apply.discover/apply/restore over a Baota-shaped tree in a temp dir (files
only: nothing is run)."""
import os
import stat
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "plugin"))

from gunicorn_switch_core import boot, boot_cron  # noqa: E402
from tests.unit.host_fakes import USERS, FakePwd  # noqa: E402

PROJECT = "/www/wwwroot/shop.test"
INI = PROJECT + "/uwsgi.ini"
NEEDLES = boot.needles(INI, PROJECT)
UWSGI = "/www/server/pyporject_evn/shop_venv/bin/uwsgi --ini %s" % INI


@pytest.mark.parametrize("name,debian,cronie", [
    ("shop-uwsgi", True, True), ("shop_2", True, True),
    # run-parts' names on Debian: a dot (an extension, a backup) is skipped
    ("shop.cron", False, True), ("shop.rpmsave", False, False), ("shop~", False, False),
    (".placeholder", False, False), ("#shop#", False, False), ("shop.dpkg-old", False, True),
])
def test_which_cron_d_names_cron_reads(name, debian, cronie):
    assert boot_cron.cron_d_name_read(name, boot_cron.DEBIAN) is debian
    assert boot_cron.cron_d_name_read(name, boot_cron.CRONIE) is cronie


def test_the_cron_flavor_follows_the_spool_the_panel_writes():
    assert boot_cron.flavor("/var/spool/cron/crontabs") == boot_cron.DEBIAN
    assert boot_cron.flavor("/var/spool/cron") == boot_cron.CRONIE


def _st(mode, uid=0, kind=stat.S_IFREG):
    return types.SimpleNamespace(st_mode=kind | mode, st_uid=uid)


def test_cron_reads_only_regular_files_of_their_owner_that_group_and_others_cannot_write():
    assert boot_cron.tab_read(_st(0o644), 0)
    assert boot_cron.tab_read(_st(0o600, 1000), 1000)
    assert not boot_cron.tab_read(_st(0o664), 0)  # group-writable
    assert not boot_cron.tab_read(_st(0o646), 0)
    assert not boot_cron.tab_read(_st(0o600, 1000), 0)  # /etc/cron.d: root's only
    assert not boot_cron.tab_read(_st(0o600, 1001), 1000)  # a spool file of another owner
    assert not boot_cron.tab_read(_st(0o777, 0, stat.S_IFLNK), 0)


SYSTEM = """SHELL=/bin/sh
PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin
17 *  * * *  root  cd / && run-parts --report /etc/cron.hourly
@reboot www cd /www/wwwroot/shop.test && %s
@reboot root sleep 10 && %s
@reboot alice %s
@reboot www /www/server/pyporject_evn/blog_venv/bin/uwsgi --ini /www/wwwroot/blog/uwsgi.ini
#@reboot www %s
@reboot %s
""" % (UWSGI, UWSGI, UWSGI, UWSGI, UWSGI)


def test_system_crontab_lines_name_the_user_they_run_as():
    found = boot_cron.system_entries(SYSTEM, NEEDLES)
    assert [(f["line"], f["run_as"]) for f in found] == [(4, "www"), (5, "root"), (6, "alice")]
    # the last line has no user field: cron rejects it, it is nothing to take over
    assert [boot_cron.editable(f["run_as"], "www") for f in found] == [True, True, False]


def test_a_system_crontab_line_runs_the_boot_script_as_root_and_is_undone_exactly():
    script = "/www/server/panel/data/gunicorn_switch/boot/shop.test.sh"
    found = boot_cron.system_entries(SYSTEM, NEEDLES)
    repl = boot_cron.replacement_line(script, "shop.test")
    assert repl == "@reboot root %s # gunicorn_switch shop.test" % script
    new = boot.disable_lines(SYSTEM, {f["line"] for f in found[:2]}, "shop.test", repl)
    assert [f["run_as"] for f in boot_cron.system_entries(new, NEEDLES)] == ["alice"]
    assert new.count(repl) == 1
    assert boot.undo_lines(new, "shop.test") == SYSTEM


@pytest.mark.parametrize("links,enabled", [
    ([("S01shop_pymanager", "../init.d/shop_pymanager")], True),
    # chkconfig's numbers, and a link whose name differs from the script it points at
    ([("S85shop", "/etc/rc.d/init.d/shop_pymanager")], True),
    ([("K01shop_pymanager", "../init.d/shop_pymanager")], False),  # stopped, never started
    ([("S01shop_pymanager2", "../init.d/shop_pymanager2")], False),
    ([("README", None)], False), ([], False),
])
def test_an_init_script_counts_only_with_an_s_link(links, enabled):
    assert boot.initd_enabled("shop_pymanager", links) is enabled


INITD = [{"kind": "initd", "file": "/etc/init.d/shop_pymanager", "text": "shop_pymanager",
          "edit": False, "reason": "initd_disabled"}]
OTHER = [{"kind": "cron_system", "file": "/etc/cron.d/shop", "line": 2, "text": "@reboot alice x",
          "run_as": "alice", "edit": False, "reason": "other_user", "site_user": "www"}]


@pytest.mark.parametrize("lang,words", [
    ("en", ["/etc/init.d/shop_pymanager is present but not enabled at boot",
            "this line of /etc/cron.d/shop runs as alice, the site's uWSGI as www: reported, not edited"]),
    ("zh", ["/etc/init.d/shop_pymanager 存在，但未设为开机启动",
            "/etc/cron.d/shop 中这一行以 alice 运行，而站点的 uWSGI 以 www 运行：只提示，不修改"]),
])
def test_entries_left_alone_are_shown_with_why_and_change_nothing_in_the_plan(lang, words):
    p = boot.plan(INITD + OTHER, "daemon", "daemon")
    assert p["found"] == [] and [e["file"] for e in p["reported"]] == \
        ["/etc/init.d/shop_pymanager", "/etc/cron.d/shop"]
    # nothing the switch edits: nothing replaced, and nothing started the site at boot before
    assert (p["replace"], p["persistent"], p["started_at_boot_before"]) == (False, False, False)
    items = boot.carried_items(p, lang, "NOTE")
    assert items[0]["kind"] == "boot" and items[0]["where"] == "NOTE"
    left = [i for i in items if i["kind"] == "boot_left"]
    assert [i["origin"] for i in left] == ["/etc/init.d/shop_pymanager", "/etc/cron.d/shop"]
    assert all(i["where"] is None for i in left)
    assert [w in i["detail"] for w, i in zip(words, left)] == [True, True]


def test_where_gunicorn_starts_names_each_place_once():
    found = [{"kind": "cron_user", "file": "/var/spool/cron/crontabs/www", "line": 1, "text": "x"},
             {"kind": "crontab", "file": "/var/spool/cron/crontabs/root", "line": 1, "text": "y"},
             {"kind": "cron_system", "file": "/etc/cron.d/shop", "line": 1, "text": "z", "run_as": "www"}]
    p = boot.plan(found, "daemon", "daemon")
    assert p["where_en"] == "/etc/crontab, /etc/cron.d @reboot, root's crontab @reboot -> " \
        "the plugin's boot script"
    assert "root's crontab runs the plugin's boot script instead" in \
        boot.carried_items(p, "en", "NOTE")[0]["detail"]


# ---- over a Baota-shaped tree in a temp dir ---------------------------------------------------

@pytest.fixture
def tree(tmp_path, monkeypatch):
    from gunicorn_switch_core import boot_apply
    monkeypatch.setenv("GUNICORN_SWITCH_ROOT", str(tmp_path))
    monkeypatch.setattr(boot_apply, "pwd", FakePwd)
    spool = tmp_path / "var/spool/cron/crontabs"
    spool.mkdir(parents=True)
    os.chmod(str(spool), 0o1730)
    for d in ("etc/cron.d", "etc/init.d", "etc/rc2.d", "etc/rc3.d", "www/server/panel/data"):
        (tmp_path / d).mkdir(parents=True)

    def put(rel, text, mode=0o644, uid=0):
        path = tmp_path / rel
        path.write_text(text)
        os.chmod(str(path), mode)
        os.chown(str(path), uid, 0)
        return str(path)
    return types.SimpleNamespace(root=tmp_path, put=put, apply=boot_apply)


PYMANAGER = """#!/bin/bash
### BEGIN INIT INFO
# Provides:          shop_pymanager
# Default-Start:     2 3 4 5
### END INIT INFO
case "$1" in
  start) cd %s && %s -d /tmp/shop.log ;;
esac
""" % (PROJECT, UWSGI)


def test_discovery_reads_what_cron_and_the_rc_links_would_run(tree):
    www, alice = USERS["www"][0], USERS["alice"][0]
    # bob has no account: cron does not run his line
    cron_d = tree.put("etc/cron.d/shop", "@reboot www %s\n@reboot alice %s\n@reboot bob %s\n"
                      % (UWSGI, UWSGI, UWSGI))
    tree.put("etc/cron.d/shop.disabled", "@reboot www %s\n" % UWSGI)  # a dot: not read
    tree.put("etc/cron.d/loose", "@reboot www %s\n" % UWSGI, mode=0o666)  # others may write it
    etc = tree.put("etc/crontab", "@reboot root %s\n" % UWSGI)
    mine = tree.put("var/spool/cron/crontabs/www", "@reboot %s\n" % UWSGI, mode=0o600, uid=www)
    theirs = tree.put("var/spool/cron/crontabs/alice", "@reboot %s\n" % UWSGI, mode=0o600, uid=alice)
    tree.put("var/spool/cron/crontabs/nobody-here", "@reboot %s\n" % UWSGI, mode=0o600, uid=www)
    tree.put("var/spool/cron/crontabs/bob", "@reboot %s\n" % UWSGI, mode=0o600, uid=www)
    tree.put("etc/init.d/shop_pymanager", PYMANAGER, mode=0o755)
    tree.put("etc/init.d/old_pymanager", PYMANAGER, mode=0o755)
    os.symlink("../init.d/shop_pymanager", str(tree.root / "etc/rc2.d/S01shop_pymanager"))
    os.symlink("../init.d/old_pymanager", str(tree.root / "etc/rc3.d/K01old_pymanager"))

    found = tree.apply.discover(INI, PROJECT, "www")
    got = sorted((f["kind"], os.path.relpath(f["file"], str(tree.root)), f.get("run_as"),
                  f.get("edit", True), f.get("reason")) for f in found)
    assert got == sorted([
        ("cron_system", "etc/cron.d/shop", "www", True, None),
        ("cron_system", "etc/cron.d/shop", "alice", False, "other_user"),
        ("cron_system", "etc/crontab", "root", True, None),
        ("cron_user", "var/spool/cron/crontabs/www", "www", True, None),
        ("cron_user", "var/spool/cron/crontabs/alice", "alice", False, "other_user"),
        ("initd", "etc/init.d/shop_pymanager", None, True, None),
        ("initd", "etc/init.d/old_pymanager", None, False, "initd_disabled"),
    ])
    assert {cron_d, etc, mine, theirs} <= {f["file"] for f in found}


def test_another_users_line_is_turned_off_in_its_file_and_replaced_from_roots_crontab(tree):
    www = USERS["www"][0]
    text = "# www's jobs\n*/5 * * * * /usr/bin/true\n@reboot %s\n" % UWSGI
    mine = tree.put("var/spool/cron/crontabs/www", text, mode=0o600, uid=www)
    rec = {"site": "shop.test", "user": "root", "venv": "/www/server/pyporject_evn/shop_venv",
           "gunicorn_bin": "/www/server/pyporject_evn/shop_venv/bin/gunicorn",
           "gunicorn_conf": PROJECT + "/gunicorn_conf.py", "project_path": PROJECT,
           "log_dir": "/www/wwwlogs/python/shop.test", "runtime_dir": "/run/gunicorn_switch/shop.test",
           "bind": "127.0.0.1:8001"}
    p = boot.plan(tree.apply.discover(INI, PROJECT, "www"), "daemon", "daemon")
    p["gunicorn_manager"] = "daemon"
    from gunicorn_switch_core import backups
    done = tree.apply.apply(p, rec, lambda path: backups.backup("shop.test", "t1", path))
    root_tab = str(tree.root / "var/spool/cron/crontabs/root")
    assert [(f["kind"], f["path"]) for f in done["files"]] == [("cron_user", mine), ("crontab", root_tab)]
    now = Path(mine).read_text()
    # www's crontab only lost its line: nothing in it runs the plugin's boot script
    assert "#@reboot %s" % UWSGI in now and "gunicorn_switch/boot" not in now
    st = os.stat(mine)
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (www, 0o600)
    assert Path(root_tab).read_text() == "@reboot %s # gunicorn_switch shop.test\n" % done["script"]

    tree.apply.restore(done, "shop.test", lambda path: backups.entry_for(backups.entries("shop.test", "t1"), path))
    # byte for byte, owner and mode; root's crontab, which did not exist, gone again
    assert Path(mine).read_text() == text and not os.path.exists(root_tab)
    st = os.stat(mine)
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (www, 0o600)
    assert not os.path.exists(done["script"])
