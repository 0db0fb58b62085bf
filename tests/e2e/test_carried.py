"""What uWSGI ran besides the app survives the switch: shop.test's uWSGI `cron` becomes an
entry of the panel's 计划任务 (a row of its crontab table, a script in /www/server/cron and a
line in root's crontab), which runs the command as the site's user when cron fires it, and
which rollback takes away again, the crontab file byte for byte."""
import os
import pwd
import sqlite3
import subprocess
import threading
import time

import psutil
import pytest

from tests.sandbox.checks import poll, record_load, under_load, wait_task

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

    task = wait_task(plugin, panel_get, plugin.switch(panel_get(plan_and_apply="1", site=SITE))["data"]["task_id"])
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


# ---- attach-daemon ---------------------------------------------------------------------------

def daemon_pids(sandbox, site):
    """The live queue workers of the site: (pid, uid, parent's command line)."""
    out = []
    for p in sandbox.pids():
        try:
            if "queue_worker.py" in " ".join(p.cmdline()) and p.cwd() == str(site.project) \
                    and p.name().startswith("python"):
                out.append(p)
        except psutil.Error:
            continue
    return out


class Producer(threading.Thread):
    """Puts numbered jobs into the site's queue dir (written aside, then renamed in, as a
    producer must), a bounded number, until stopped."""

    def __init__(self, queue, limit=4000):
        threading.Thread.__init__(self, daemon=True)
        self.queue, self.limit, self.sent = queue, limit, []
        self.halt = threading.Event()

    def run(self):
        tmp = self.queue.parent / "queue.tmp"
        tmp.mkdir(exist_ok=True)
        n = 0
        while not self.halt.is_set() and n < self.limit:
            name = "%06d" % n
            (tmp / name).write_text(name)
            os.rename(str(tmp / name), str(self.queue / (name + ".job")))
            self.sent.append(name)
            n += 1
            self.halt.wait(0.02)


def done_items(site):
    log = site.project / "run" / "done.log"
    return [ln.split()[0] for ln in log.read_text().splitlines()] if log.exists() else []


def max_heartbeat_gap(site, since, until):
    stamps = []
    for ln in (site.project / "run" / "heartbeats.log").read_text().splitlines():
        t = float(ln.split()[0])
        if since <= t <= until:
            stamps.append(t)
    return max(b - a for a, b in zip(stamps, stamps[1:]))


@pytest.mark.parametrize("manager", ["supervisor", "daemon"])
def test_an_attached_daemon_keeps_consuming_through_the_switch_and_back(
        sandbox, plugin, panel_get, manager):
    site = sandbox.sites[SITE]
    run = site.project / "run"
    for f in ("done.log",):
        if (run / f).exists():
            (run / f).unlink()
    old = daemon_pids(sandbox, site)
    assert len(old) == 1 and old[0].uids().real == pwd.getpwnam("www").pw_uid  # uWSGI's
    queue = run / "queue"
    producer = Producer(queue)
    producer.start()
    since = time.time()
    try:
        task, load = under_load(sandbox, SITE, lambda: wait_task(
            plugin, panel_get, plugin.switch(panel_get(plan_and_apply="1", site=SITE, manager=manager))["data"]["task_id"]))
        record_load("%s switch with a daemon (%s)" % (SITE, manager), load)
        assert task["state"] == "succeeded", task
        assert load["total"] > 50 and load["failed"] == 0, load
        new = daemon_pids(sandbox, site)
        assert len(new) == 1 and new[0].pid != old[0].pid  # uWSGI's stopped with it
        assert new[0].uids().real == pwd.getpwnam("www").pw_uid
        assert not [p for p in sandbox.pids() if "uwsgi" in " ".join(p.cmdline())
                    and str(site.project) in " ".join(p.cmdline())]
        switched_at = time.time()
        poll(lambda: len(done_items(site)) > 0 and any(
            int(p) == new[0].pid for p in (ln.split()[1] for ln in (run / "done.log").read_text().splitlines())),
            "the new daemon consuming")

        # -- rollback: uWSGI runs its own again, the plugin's copy goes ------------------
        task, load = under_load(sandbox, SITE, lambda: wait_task(
            plugin, panel_get, plugin.rollback(panel_get(site=SITE))["data"]["task_id"]))
        record_load("%s rollback with a daemon (%s)" % (SITE, manager), load)
        assert task["state"] == "succeeded", task
        assert load["total"] > 50 and load["failed"] == 0, load
        back = poll(lambda: daemon_pids(sandbox, site) or None, "uWSGI's daemon again")
        assert len(back) == 1 and back[0].pid != new[0].pid
        assert not psutil.pid_exists(new[0].pid) or new[0].status() == psutil.STATUS_ZOMBIE
    finally:
        producer.halt.set()
        producer.join(30)
    until = time.time()
    poll(lambda: not list(queue.glob("*.job")), "the queue drained", deadline=60)
    done = done_items(site)
    assert sorted(done) == sorted(producer.sent), "lost: %s twice: %s" % (
        sorted(set(producer.sent) - set(done))[:5], [d for d in set(done) if done.count(d) > 1][:5])
    assert len(done) == len(set(done))
    assert producer.sent and switched_at > since
    assert max_heartbeat_gap(site, since, until) < 5.0
    print("daemon (%s): %d jobs, each done once; longest heartbeat gap %.2f s"
          % (manager, len(done), max_heartbeat_gap(site, since, until)))


def test_a_module_that_imports_uwsgi_when_it_loads_needs_a_confirmed_switch(sandbox, plugin, panel_get):
    hook = sandbox.sites[SITE].project / "shop" / "uwsgi_hooks.py"
    hook.write_text("import uwsgi\n\nuwsgi.register_signal(99, '', print)\n")
    try:
        plan = plugin.plan(panel_get(site=SITE))
        assert plan["status"], plan
        assert [b["origin"].rsplit("/", 1)[1] for b in plan["data"]["blockers"]] == ["uwsgi_hooks.py:1"]
        refused = plugin.switch(panel_get(site=SITE, plan_id=plan["data"]["plan_id"]))
        assert refused["status"] is False and "confirm_blockers" in refused["msg"], refused
        assert [s for s in plugin.get_sites(panel_get())["data"] if s["site"] == SITE][0]["server"] == "uwsgi"
    finally:
        hook.unlink()
