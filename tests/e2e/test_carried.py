"""What uWSGI ran besides the app survives the switch: shop.test's uWSGI `cron` becomes an
entry of the panel's 计划任务 (a row of its crontab table, a script in /www/server/cron and a
line in root's crontab), which runs the command as the site's user when cron fires it, and
which rollback takes away again, the crontab file byte for byte."""
import os
import pwd
import sqlite3
import subprocess

from tests.e2e.test_switch import wait_task

SITE = "shop.test"
CRONTAB = "/var/spool/cron/crontabs/root"


def cron_rows(sandbox):
    con = sqlite3.connect(str(sandbox.p("/www/server/panel/data/db/crontab.db")))
    try:
        return con.execute("SELECT name, echo, sType, flock, type, where_minute FROM crontab").fetchall()
    finally:
        con.close()


def run_as_cron(line):
    """What cron does with a crontab line: the command part through /bin/sh -c, as root (it
    is root's crontab), with cron's minimal environment, in root's home."""
    command = line.split(None, 5)[5]
    env = {"HOME": "/root", "LOGNAME": "root", "PATH": "/usr/bin:/bin", "SHELL": "/bin/sh"}
    return subprocess.run(["/bin/sh", "-c", command], env=env, cwd="/root", timeout=60,
                          stdin=subprocess.DEVNULL, capture_output=True)


def test_a_uwsgi_cron_becomes_a_panel_cron_job_run_as_the_site_user(sandbox, plugin, panel_get):
    site = sandbox.sites[SITE]
    crontab = sandbox.p(CRONTAB)
    before = crontab.read_bytes() if crontab.exists() else None
    rows_before = cron_rows(sandbox)

    plan = plugin.plan(panel_get(site=SITE))
    assert plan["status"], plan
    crons = [c for c in plan["data"]["carried"] if c["kind"] == "cron"]
    assert [(c["option"], c["job"]["schedule"]) for c in crons] == [("cron", "7 * * * *")]

    task = wait_task(plugin, panel_get, plugin.switch(panel_get(site=SITE))["data"]["task_id"])
    try:
        assert task["state"] == "succeeded", task
        rows = [r for r in cron_rows(sandbox) if r not in rows_before]
        assert [r[0] for r in rows] == ["uWSGI cron: shop.test #1"]
        name, echo, stype, flock, ptype, minute = rows[0]
        assert (stype, flock, ptype, minute) == ("toShell", 0, "hour", 7)
        script = sandbox.p("/www/server/cron/" + echo)
        assert script.exists() and os.stat(script).st_uid == 0
        lines = [ln for ln in crontab.read_text().splitlines() if echo in ln]
        assert len(lines) == 1 and lines[0].startswith("7 * * * * " + str(script) + " >> ")

        out = site.project / "run" / "cron_ran.txt"
        if out.exists():
            out.unlink()  # uWSGI's own cron may have run at :07 before the switch
        ran = run_as_cron(lines[0])
        assert ran.returncode == 0, ran
        assert out.read_text().splitlines() == ["www", str(site.project), "shop.settings"]
        assert pwd.getpwuid(out.stat().st_uid).pw_name == "www"
        log = sandbox.p("/www/server/cron/%s.log" % echo)
        assert log.exists()  # the panel's page shows the task's log from here
    finally:
        task = wait_task(plugin, panel_get, plugin.rollback(panel_get(site=SITE))["data"]["task_id"])
    assert task["state"] == "succeeded", task
    assert cron_rows(sandbox) == rows_before
    assert (crontab.read_bytes() if crontab.exists() else None) == before
    assert not sandbox.p("/www/server/cron/" + echo).exists()
    assert not sandbox.p("/www/server/cron/%s.log" % echo).exists()
