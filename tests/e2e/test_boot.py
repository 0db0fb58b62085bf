"""Boot persistence (issue 14 §3), proved by simulated reboots: shop.test's uWSGI is started at
boot by an ``@reboot`` line of root's crontab (then by an /etc/cron.d file that runs it as the
site's user, by that user's own crontab, by /etc/rc.local); after the switch a reboot brings the site back on
Gunicorn with no uWSGI, after the rollback the boot files are byte for byte what they were
and the same reboot brings uWSGI back. An init.d script that no rc?.d link enables is shown in
the plan and left as it is.

A reboot here: every process of the sandbox stopped by PID, /run emptied (a tmpfs), then only
what the boot mechanisms run: nginx's init script (the panel starts nginx at boot), the init.d
scripts that an S link of rc2.d-rc5.d enables, supervisord with its config, the @reboot lines
as cron runs them (root's and www's crontabs as their user; /etc/crontab and the /etc/cron.d files whose names
Debian's cron reads as the user of their user field; /bin/sh -c, cron's environment),
/etc/rc.local, the panel's project autostart. Its own sandbox, with shop.test alone: a reboot
must not take down the shared sandbox's other sites.
"""
import os
import pwd
import re
import shutil
import stat
import subprocess
import time

import psutil
import pytest

from tests.conftest import new_plugin, running_sandbox
from tests.sandbox.checks import poll, server_of, wait_task

pytestmark = pytest.mark.sandbox

SITE = "shop.test"
CRONTAB = "/var/spool/cron/crontabs/root"
RC_LOCAL = "/etc/rc.local"
USER_CRONTAB = "/var/spool/cron/crontabs/www"
CRON_D = "/etc/cron.d/shop-uwsgi"
# a copy Debian's cron does not read (a dot in its name): never run, never edited
CRON_D_SKIPPED = "/etc/cron.d/shop-uwsgi.bak"
INIT_SCRIPT = "/etc/init.d/shop_pymanager"
BOOT_FILES = (CRONTAB, USER_CRONTAB, RC_LOCAL, CRON_D, CRON_D_SKIPPED, INIT_SCRIPT)


@pytest.fixture(scope="module")
def boot_sandbox():
    from tests.sandbox import layout

    yield from running_sandbox(tuple(s for s in layout.SITES if s.name == SITE))


@pytest.fixture(scope="module")
def boot_plugin(boot_sandbox):
    return new_plugin()


def uwsgi_command(sb):
    site = sb.sites[SITE]
    return "cd %s && %s/bin/uwsgi --ini %s" % (site.project, site.venv, site.uwsgi_ini)


def run_as_cron(command, user):
    pw = pwd.getpwnam(user)
    env = {"HOME": pw.pw_dir, "LOGNAME": user, "PATH": "/usr/bin:/bin", "SHELL": "/bin/sh"}
    drop = {} if user == "root" else {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
    subprocess.run(["/bin/sh", "-c", command], env=env, cwd="/", timeout=60,
                   stdin=subprocess.DEVNULL, capture_output=True, check=False, **drop)


def run_cron_reboot_lines(sb):
    """The users' crontabs (root's, www's) as their user, then the system crontabs (a user
    field; in cron.d only the names of run-parts, as Debian's cron reads them)."""
    for user, tab in (("root", CRONTAB), ("www", USER_CRONTAB)):
        path = sb.p(tab)
        for line in path.read_text().splitlines() if path.exists() else []:
            words = line.split(None, 1)
            if len(words) == 2 and words[0] == "@reboot":
                run_as_cron(words[1], user)
    cron_d = sb.p("/etc/cron.d")
    system = [sb.p("/etc/crontab")] + sorted(p for p in (cron_d.iterdir() if cron_d.exists() else [])
                                             if re.match(r"^[A-Za-z0-9_-]+$", p.name))
    for path in system:
        for line in path.read_text().splitlines() if path.is_file() else []:
            words = line.split(None, 2)
            if len(words) == 3 and words[0] == "@reboot":
                run_as_cron(words[2], words[1])


def run_rc_links(sb):
    """The init.d scripts an S link of rc2.d-rc5.d enables, each once, with ``start``."""
    started = set()
    for n in (2, 3, 4, 5):
        rc = sb.p("/etc/rc%d.d" % n)
        for link in sorted(rc.iterdir()) if rc.exists() else []:
            if re.match(r"^S\d\d", link.name) and link.resolve() not in started:
                started.add(link.resolve())
                subprocess.run([str(link), "start"], timeout=60, stdin=subprocess.DEVNULL,
                               capture_output=True, check=False)


def reboot(sb):
    sb.stop()
    # /run is a tmpfs: a reboot empties it (Gunicorn's runtime dir, pidfiles, sockets)
    shutil.rmtree(str(sb.p("/run")), ignore_errors=True)
    for pid in ("/var/run/supervisord.pid", "/www/server/nginx/logs/nginx.pid"):
        if sb.p(pid).exists():
            sb.p(pid).unlink()
    assert sb.pids() == []
    sb.run([str(sb.p("/etc/init.d/nginx")), "start"])
    run_rc_links(sb)
    sb.run([str(sb.p("/www/server/panel/pyenv/bin/supervisord")), "-c",
            str(sb.p("/www/server/panel/plugin/supervisor/supervisord.conf"))])
    run_cron_reboot_lines(sb)
    rc = sb.p(RC_LOCAL)
    if rc.exists():
        subprocess.run([str(rc)], timeout=60, stdin=subprocess.DEVNULL, capture_output=True,
                       check=False, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    sb.panel_daemon_tick()


def site_processes(sb, kind, name=SITE):
    site = sb.sites[name]
    out = []
    for p in sb.pids():
        try:
            cmd = " ".join(p.cmdline())
            if kind in cmd and (str(site.project) in cmd or p.cwd() == str(site.project)):
                out.append(p)
        except psutil.Error:
            continue
    return out


def www_uid():
    return __import__("pwd").getpwnam("www").pw_uid


def queue_workers(sb):
    """shop.test's attach-daemon (queue_worker.py) processes, not the shells around them."""
    out = []
    for p in site_processes(sb, "queue_worker.py"):
        try:
            if p.name().startswith("python") and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.Error:
            continue
    return out


def carried_loops(sb):
    """The plugin's own daemon loops (their $0 names them), as a boot script starts them."""
    return [p for p in sb.pids() if len(p.cmdline()) > 3 and
            p.cmdline()[3].startswith("gunicorn_switch-daemon:%s#" % SITE)]


def reboot_onto_gunicorn(sb):
    """A simulated reboot, after which the site answers on Gunicorn with no uWSGI left."""
    reboot(sb)
    poll(lambda: serving(sb) or None, "the site after a reboot")
    assert server_of(sb, SITE).startswith("gunicorn/")
    assert site_processes(sb, "uwsgi") == []


def serving(sb, name=SITE):
    try:
        return sb.get(name, "/")[0] == 200
    except OSError:
        return False


def clear_boot_files(sb):
    for other in BOOT_FILES:
        if sb.p(other).exists():
            sb.p(other).unlink()


# the kind of boot entry a test writes -> (the plan's kind, what precedes uWSGI's command)
ENTRY = {"crontab": ("crontab", "@reboot "), "cron_d": ("cron_system", "@reboot www "),
         "cron_user": ("cron_user", "@reboot "), "rc_local": ("rc_local", "")}


def give_uwsgi_log_to_www(sb):
    """uWSGI started as www appends to its daemonize log itself (as root it opened it first)."""
    log = sb.p("/www/wwwlogs/%s.uwsgi.log" % SITE)
    log.touch()
    www = pwd.getpwnam("www")
    os.chown(log, www.pw_uid, www.pw_gid)


def write_boot_entry(sb, kind):
    """Root's crontab (with a line of another job), www's own crontab, an /etc/cron.d file
    that runs uWSGI as the site's user (with a copy cron skips beside it), or rc.local,
    starting uWSGI at boot."""
    if kind == "crontab":
        path = sb.p(CRONTAB)
        path.write_text("# DO NOT EDIT THIS FILE - edit the master and reinstall.\n"
                        "30 1 * * * /usr/bin/true >> /dev/null 2>&1\n"
                        "@reboot %s\n" % uwsgi_command(sb))
        os.chmod(path, 0o600)
    elif kind == "cron_d":
        path = sb.p(CRON_D)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = ("SHELL=/bin/sh\n# shop.test's uWSGI, as its user\n"
                "@reboot www %s\n" % uwsgi_command(sb))
        for p in (path, sb.p(CRON_D_SKIPPED)):
            p.write_text(text)
            os.chmod(p, 0o644)
        give_uwsgi_log_to_www(sb)
    elif kind == "cron_user":
        # as `crontab -e` leaves it: www's, 0600, in root's spool directory
        path = sb.p(USER_CRONTAB)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("# www's jobs\n*/5 * * * * /usr/bin/true\n@reboot %s\n" % uwsgi_command(sb))
        www = pwd.getpwnam("www")
        os.chown(path, www.pw_uid, www.pw_gid)
        os.chmod(path, 0o600)
        give_uwsgi_log_to_www(sb)
    else:
        path = sb.p(RC_LOCAL)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh -e\n#\n# rc.local\n%s\nexit 0\n" % uwsgi_command(sb))
        os.chmod(path, 0o755)
    return path


@pytest.mark.parametrize("kind,manager", [("crontab", "daemon"), ("rc_local", "daemon"),
                                          ("crontab", "supervisor"), ("cron_d", "daemon"),
                                          ("cron_user", "daemon")])
def test_a_reboot_brings_the_site_back_on_gunicorn_and_after_rollback_on_uwsgi(
        boot_sandbox, boot_plugin, panel_get, kind, manager):
    sb, plugin = boot_sandbox, boot_plugin
    clear_boot_files(sb)
    path = write_boot_entry(sb, kind)
    skipped = sb.p(CRON_D_SKIPPED).read_bytes() if kind == "cron_d" else None
    # as the boot entry runs it: the running uWSGI is the one it started
    reboot(sb)
    poll(lambda: serving(sb) or None, "uWSGI started by %s" % kind)
    assert server_of(sb, SITE) == "" and site_processes(sb, "uwsgi")
    before = path.read_bytes()
    mode = stat.S_IMODE(path.stat().st_mode)

    # Supervisor is the default for a daemon site where the plugin is installed
    plan = plugin.plan(panel_get(site=SITE) if manager == "supervisor" else
                       panel_get(site=SITE, manager=manager))
    assert plan["status"], plan
    found = plan["data"]["boot"]["found"]
    assert [(f["kind"], f["file"]) for f in found] == [(ENTRY[kind][0], str(path))]
    rows = [c for c in plan["data"]["carried"] if c["kind"] == "boot"]
    assert len(rows) == 1 and uwsgi_command(sb) in rows[0]["value"]
    assert plan["data"]["manager"] == manager
    assert ("开机脚本" if manager == "daemon" else "Supervisor") in rows[0]["where"]

    task = wait_task(plugin, panel_get, plugin.switch(
        panel_get(site=SITE, plan_id=plan["data"]["plan_id"]))["data"]["task_id"])
    assert task["state"] == "succeeded", task
    assert [s["state"] for s in task["steps"] if s["name"] == "boot"] == ["done"]
    text = path.read_text()
    assert "#" + ENTRY[kind][1] + uwsgi_command(sb) in text
    if kind == "cron_user":
        # www's crontab only lost its line: root's runs the boot script, www gets nothing of root's
        assert "gunicorn_switch/boot" not in text
        assert (path.stat().st_uid, mode) == (pwd.getpwnam("www").pw_uid, 0o600)
        text = sb.p(CRONTAB).read_text()
    if manager == "daemon":
        script = sb.p("/www/server/panel/data/gunicorn_switch/boot/%s.sh" % SITE)
        assert str(script) in text
        if kind == "cron_d":  # root runs root's own script: it drops to www itself
            assert "@reboot root %s # gunicorn_switch %s" % (script, SITE) in text.splitlines()
    else:
        # only turned off: supervisord starts Gunicorn at boot, after a root program of the
        # plugin made its runtime directory under /run
        script = sb.p("/www/server/panel/data/gunicorn_switch/boot/%s.dirs.sh" % SITE)
        assert not [ln for ln in text.splitlines() if "gunicorn_switch" in ln and not ln.startswith("#")]
        prep = sb.p("/www/server/panel/plugin/supervisor/profile/gunicorn_shop_test_boot.ini")
        assert "user=root" in prep.read_text() and str(script) in prep.read_text()
    st = script.stat()
    assert st.st_uid == 0 and stat.S_IMODE(st.st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == mode
    status = plugin.get_status(panel_get(site=SITE))["data"]
    assert status["boot"]["persistent"] is True and status["boot"]["where"]

    try:
        reboot_onto_gunicorn(sb)
        # Gunicorn runs as the site's user, not root
        master = poll(lambda: site_processes(sb, "gunicorn") or None, "Gunicorn")
        assert {p.uids().real for p in master} == {www_uid()}
        # uWSGI's attach-daemon came back too (the boot script, or Supervisor), one copy, as www
        workers = poll(lambda: queue_workers(sb) or None, "the carried daemon after a reboot")
        assert len(workers) == 1 and workers[0].uids().real == www_uid()
        assert len(carried_loops(sb)) == (1 if manager == "daemon" else 0)
    finally:
        task = wait_task(plugin, panel_get, plugin.rollback(panel_get(site=SITE))["data"]["task_id"])
    assert task["state"] == "succeeded", task
    # the copy the boot script started (no pid recorded) was found and stopped
    assert carried_loops(sb) == []
    assert path.read_bytes() == before
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert not script.exists()
    assert not sb.p("/www/server/panel/plugin/supervisor/profile/gunicorn_shop_test_boot.ini").exists()

    reboot(sb)
    poll(lambda: serving(sb) or None, "the site after the rollback and a reboot")
    assert server_of(sb, SITE) == ""
    assert site_processes(sb, "uwsgi") and site_processes(sb, "gunicorn") == []
    assert path.read_bytes() == before
    if kind == "cron_user":  # root had no crontab before: it has none again
        assert not sb.p(CRONTAB).exists() and path.stat().st_uid == pwd.getpwnam("www").pw_uid
    if skipped is not None:
        assert sb.p(CRON_D_SKIPPED).read_bytes() == skipped
    # uWSGI's own daemon again, alone
    workers = poll(lambda: queue_workers(sb) or None, "uWSGI's daemon after the reboot")
    assert len(workers) == 1 and carried_loops(sb) == []


def test_a_daemon_site_that_nothing_started_at_boot_says_so_and_can_be_enabled(
        boot_sandbox, boot_plugin, panel_get):
    sb, plugin = boot_sandbox, boot_plugin
    clear_boot_files(sb)
    if not serving(sb):
        sb.start_uwsgi(sb.sites[SITE])
        sb.wait_ok(sb.sites[SITE])
    plan = plugin.plan(panel_get(site=SITE, manager="daemon", lang="en"))
    assert plan["status"], plan
    assert plan["data"]["boot"]["persistent"] is False
    notes = [w["message"] for w in plan["data"]["warnings"] if w["origin"] == "boot"]
    assert len(notes) == 1 and notes[0].startswith("This site does not start at boot. 开机自启")
    task = wait_task(plugin, panel_get, plugin.switch(
        panel_get(site=SITE, plan_id=plan["data"]["plan_id"]))["data"]["task_id"])
    assert task["state"] == "succeeded", task
    try:
        status = plugin.get_status(panel_get(site=SITE, lang="zh"))["data"]
        assert status["boot"]["persistent"] is False
        assert any(h.startswith("该站点不会开机自启") for h in status["hints"])
        res = plugin.control(panel_get(site=SITE, op="enable_boot"))
        assert res["status"] and res["data"]["done"], res
        status = plugin.get_status(panel_get(site=SITE))["data"]
        assert status["boot"]["persistent"] is True and status["boot"]["note"] is None
        reboot_onto_gunicorn(sb)
    finally:
        task = wait_task(plugin, panel_get, plugin.rollback(panel_get(site=SITE))["data"]["task_id"])
    assert task["state"] == "succeeded", task
    assert serving(sb) and server_of(sb, SITE) == ""
    # the switch's cron job and the enabled @reboot line both gone: no crontab, as before
    assert not sb.p(CRONTAB).exists()
    assert not sb.p("/www/server/panel/data/gunicorn_switch/boot/%s.sh" % SITE).exists()

def test_an_init_script_that_no_rc_link_enables_is_shown_and_left_as_it_is(
        boot_sandbox, boot_plugin, panel_get):
    """The old project manager's init.d script, never enabled (no S link): it starts nothing at
    boot, so the switch does not edit it; the plan says why, a reboot brings the site back
    on Gunicorn (Supervisor) and not on uWSGI, rollback leaves the script byte for byte."""
    sb, plugin = boot_sandbox, boot_plugin
    clear_boot_files(sb)
    if not serving(sb):
        sb.start_uwsgi(sb.sites[SITE])
        sb.wait_ok(sb.sites[SITE])
    script = sb.p(INIT_SCRIPT)
    script.write_text("#!/bin/sh\n### BEGIN INIT INFO\n# Provides: shop_pymanager\n"
                      "# Default-Start: 2 3 4 5\n### END INIT INFO\n"
                      'case "$1" in\n  start) %s ;;\nesac\n' % uwsgi_command(sb))
    os.chmod(script, 0o755)
    before = script.read_bytes()
    plan = plugin.plan(panel_get(site=SITE, lang="en"))
    assert plan["status"], plan
    boot = plan["data"]["boot"]
    assert boot["found"] == [] and [(f["kind"], f["file"]) for f in boot["reported"]] == \
        [("initd", str(script))]
    rows = [c for c in plan["data"]["carried"] if c["kind"] == "boot_left"]
    assert len(rows) == 1 and rows[0]["origin"] == str(script) and rows[0]["where"] is None
    assert rows[0]["detail"] == "%s is present but not enabled at boot (no S link in " \
        "rc2.d-rc5.d): left as it is" % script
    zh = plugin.plan(panel_get(site=SITE, lang="zh"))["data"]["carried"]
    assert [c["detail"] for c in zh if c["kind"] == "boot_left"] == \
        ["%s 存在，但未设为开机启动（rc2.d–rc5.d 中没有 S 链接）：不修改" % script]
    task = wait_task(plugin, panel_get, plugin.switch(
        panel_get(site=SITE, plan_id=plan["data"]["plan_id"]))["data"]["task_id"])
    assert task["state"] == "succeeded", task
    try:
        assert script.read_bytes() == before
        reboot_onto_gunicorn(sb)
    finally:
        task = wait_task(plugin, panel_get, plugin.rollback(panel_get(site=SITE))["data"]["task_id"])
    assert task["state"] == "succeeded", task
    assert script.read_bytes() == before and stat.S_IMODE(script.stat().st_mode) == 0o755
    assert serving(sb) and server_of(sb, SITE) == ""
    clear_boot_files(sb)


# ---- the panel's project autostart ------------------------------------------------------------

PROJECT = "api"


@pytest.fixture(scope="module")
def project_sandbox():
    from tests.sandbox import layout

    yield from running_sandbox(tuple(s for s in layout.SITES if s.name == PROJECT))


def test_the_panels_project_autostart_brings_a_switched_project_back_on_gunicorn(
        project_sandbox, panel_get):
    """A panel Python project (auto_run) is started at boot by the panel, as root, with its
    start script: after the switch that script starts Gunicorn, and remakes its runtime dir
    under /run first (the reboot emptied it); after the rollback it is uWSGI's again."""
    from tests.sandbox.panel_project import PanelProjects

    sb, plugin = project_sandbox, new_plugin()
    # an attach-daemon, which uWSGI starts with the project
    ini = sb.sites[PROJECT].uwsgi_ini
    ini.write_text(ini.read_text() + "attach-daemon = exec sleep %s\n" % SLEEP)
    PanelProjects(sb).restart(PROJECT)
    poll(lambda: len(sleepers(sb)) == 1, "uWSGI's daemon")
    plan = plugin.plan(panel_get(site=PROJECT))
    assert plan["status"], plan
    rows = [c for c in plan["data"]["carried"] if c["kind"] == "boot"]
    assert plan["data"]["boot"]["persistent"] is True and "auto_run" in rows[0]["where"] + \
        plan["data"]["boot"]["where_en"]
    task = wait_task(plugin, panel_get, plugin.switch(
        panel_get(site=PROJECT, plan_id=plan["data"]["plan_id"]))["data"]["task_id"])
    assert task["state"] == "succeeded", task
    try:
        one_daemon(sb, loops=1)
        # the panel's restart button runs the start script again: no second loop (its lock)
        PanelProjects(sb).restart(PROJECT)
        poll(lambda: serving(sb, PROJECT) or None, "the project after the panel's restart")
        time.sleep(1.5)
        one_daemon(sb, loops=1)
        reboot(sb)
        poll(lambda: serving(sb, PROJECT) or None, "the project after a reboot")
        assert server_of(sb, PROJECT).startswith("gunicorn/")
        assert site_processes(sb, "uwsgi", PROJECT) == []
        one_daemon(sb, loops=1)  # the panel's autostart ran the start script: the daemon too
    finally:
        task = wait_task(plugin, panel_get, plugin.rollback(panel_get(site=PROJECT))["data"]["task_id"])
    assert task["state"] == "succeeded", task
    # the loop the start script started after the reboot was found and stopped with its
    # daemon; uWSGI runs its own
    one_daemon(sb, loops=0)
    reboot(sb)
    poll(lambda: serving(sb, PROJECT) or None, "the project after the rollback and a reboot")
    assert server_of(sb, PROJECT) == ""
    assert site_processes(sb, "gunicorn", PROJECT) == []
    one_daemon(sb, loops=0)  # uWSGI's own again


SLEEP = "86401.5"


def sleepers(sb):
    """The panel project's attach-daemon (a sleep of its own), running."""
    return [p for p in sb.pids() if p.cmdline() == ["sleep", SLEEP] and p.status() != psutil.STATUS_ZOMBIE]


def one_daemon(sb, loops):
    """One copy of the daemon, as www, and ``loops`` of the plugin's loops around it."""
    found = poll(lambda: sleepers(sb) or None, "the project's daemon")
    time.sleep(0.5)
    found = sleepers(sb)
    assert len(found) == 1 and found[0].uids().real == www_uid(), found
    mine = [p for p in sb.pids() if len(p.cmdline()) > 3 and
            p.cmdline()[3].startswith("gunicorn_switch-daemon:%s#" % PROJECT)]
    assert len(mine) == loops, [p.cmdline()[3:5] for p in mine]
