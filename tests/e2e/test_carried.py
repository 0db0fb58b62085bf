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


# ---- smart-attach-daemon: a daemon that outlives uWSGI, adopted by its pidfile ----------------

SMART_WORKER = """import os
import time

pid = os.getpid()
while True:
    with open("run/smart_beats.log", "a") as f:
        f.write("%.3f %d\\n" % (time.time(), pid))
    time.sleep(0.2)
"""


def smart_pids(sandbox, site):
    """The live smart_worker.py processes (Python; not the watcher, whose arguments name it)."""
    out = []
    for p in sandbox.pids():
        try:
            if "smart_worker.py" in " ".join(p.cmdline()) and p.cwd() == str(site.project) \
                    and p.name().startswith("python") and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p.pid)
        except psutil.Error:
            continue
    return out


def watchers(sandbox):
    out = []
    for p in sandbox.pids():
        cmd = p.cmdline()
        if len(cmd) > 3 and cmd[:2] == ["/bin/sh", "-c"] and cmd[3].startswith("gunicorn_switch-daemon:"):
            out.append(p)
    return out


def live_pidfile(path):
    """The pid in a smart daemon's pidfile when it names a live process, else None."""
    try:
        pid = int(path.read_text().strip())
        return pid if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE else None
    except (OSError, ValueError, psutil.Error):
        return None


def respawned(sandbox, site, pidfile, old):
    """Kill the smart daemon ``old``; whoever watches its pidfile starts a new one: its pid."""
    os.kill(old, 15)
    return poll(lambda: (lambda pid: pid if pid and pid != old and smart_pids(sandbox, site) == [pid]
                         else None)(live_pidfile(pidfile)), "the smart daemon started again", deadline=20)


def beat_gap(site, since, until):
    stamps = [float(ln.split()[0]) for ln in (site.project / "run" / "smart_beats.log").read_text().splitlines()]
    stamps = [t for t in stamps if since <= t <= until]
    return max(b - a for a, b in zip(stamps, stamps[1:]))


def restart_uwsgi(sandbox, site):
    master = int((site.project / "uwsgi.pid").read_text().strip())
    os.kill(master, 2)
    poll(lambda: not psutil.pid_exists(master) or psutil.Process(master).status() == psutil.STATUS_ZOMBIE,
         "uWSGI stopped")
    sandbox.start_uwsgi(site)
    sandbox.wait_ok(site)


@pytest.mark.parametrize("manager", ["daemon", "supervisor"])
def test_a_smart_daemon_is_adopted_through_the_switch_and_given_back_to_uwsgi(
        sandbox, plugin, panel_get, manager):
    """smart-attach-daemon2 (uWSGI writes the pidfile, leaves the daemon running when it
    stops, adopts a live one when it starts): the switch's watcher adopts the very process
    uWSGI started (no second copy, no gap), restarts it when it dies, and the rollback leaves
    it to uWSGI, which adopts it back and restarts it in turn."""
    site = sandbox.sites[SITE]
    ini, pidfile = site.uwsgi_ini, site.project / "run" / "smart.pid"
    original = ini.read_bytes()
    (site.project / "smart_worker.py").write_text(SMART_WORKER)
    # exec: the pid uWSGI writes (its /bin/sh's) is the worker's
    ini.write_bytes(original + ("smart-attach-daemon2 = %s exec %s/bin/python smart_worker.py\n"
                                % (pidfile, site.venv)).encode())
    restart_uwsgi(sandbox, site)
    switched = False
    try:
        first = poll(lambda: live_pidfile(pidfile), "uWSGI's smart daemon")
        assert smart_pids(sandbox, site) == [first]
        assert psutil.Process(first).uids().real == pwd.getpwnam("www").pw_uid
        since = time.time()
        plan = plugin.plan(panel_get(site=SITE, manager=manager))
        assert plan["status"], plan
        smart = [c for c in plan["data"]["carried"] if c["kind"] == "daemon" and c["job"].get("smart")]
        assert [c["job"]["smart"] for c in smart] == [
            {"pidfile": str(pidfile), "freq": 10, "mode": "fg", "notify": None}]
        task = wait_task(plugin, panel_get, plugin.switch(
            panel_get(site=SITE, plan_id=plan["data"]["plan_id"]))["data"]["task_id"])
        switched = task["state"] == "succeeded"
        assert switched, task
        switched_in = time.time() - since
        time.sleep(1.5)  # a few of the watcher's checks with uWSGI gone
        assert not [p for p in sandbox.pids() if "uwsgi" in " ".join(p.cmdline())
                    and str(site.project) in " ".join(p.cmdline())]
        # adopted: the process uWSGI started, alone
        assert smart_pids(sandbox, site) == [first] and live_pidfile(pidfile) == first
        watch = [w for w in watchers(sandbox) if str(pidfile) in w.cmdline()]
        assert len(watch) == 1 and watch[0].uids().real == pwd.getpwnam("www").pw_uid
        gap_switch = beat_gap(site, since, time.time())
        # Gunicorn's manager keeps it now
        second = respawned(sandbox, site, pidfile, first)
        assert psutil.Process(second).uids().real == pwd.getpwnam("www").pw_uid

        before_rollback = time.time()
        task = wait_task(plugin, panel_get, plugin.rollback(panel_get(site=SITE))["data"]["task_id"])
        switched = task["state"] != "succeeded"
        assert not switched, task
        time.sleep(1.5)
        # given back: the same process, the watcher gone, uWSGI's master watching it
        assert smart_pids(sandbox, site) == [second]
        assert not [w for w in watchers(sandbox) if str(pidfile) in w.cmdline()]
        gap_rollback = beat_gap(site, before_rollback, time.time())
        third = respawned(sandbox, site, pidfile, second)  # by uWSGI: nothing else watches
        assert psutil.Process(third).uids().real == pwd.getpwnam("www").pw_uid
        print("smart daemon (%s): adopted pid %d through the switch (heartbeat gap %.2f s, switch "
              "%.1f s), pid %d through the rollback (gap %.2f s)" % (
                  manager, first, gap_switch, switched_in, second, gap_rollback))
        assert gap_switch < 2.0 and gap_rollback < 2.0
    finally:
        if switched:
            wait_task(plugin, panel_get, plugin.rollback(panel_get(site=SITE))["data"]["task_id"])
        ini.write_bytes(original)
        restart_uwsgi(sandbox, site)
        for pid in smart_pids(sandbox, site):  # uWSGI leaves a smart daemon running
            os.kill(pid, 15)
        poll(lambda: not smart_pids(sandbox, site), "the smart daemon stopped")
        for f in (pidfile, site.project / "smart_worker.py", site.project / "run" / "smart_beats.log"):
            if f.exists():
                f.unlink()


def _sleepers(arg):
    return [p.pid for p in psutil.process_iter(["cmdline"])
            if (p.info.get("cmdline") or [])[-2:] == ["sleep", arg] and p.status() != psutil.STATUS_ZOMBIE]


def test_the_watcher_keeps_uwsgis_pidfile_rules(tmp_path):
    """daemons.WATCH run by /bin/sh as it runs on a server, against uWSGI's rules (core/daemons.c):
    a command that daemonizes itself and writes the pidfile is started once and adopted, and
    started again at once when it dies; a live pidfile is adopted, never duplicated; a stopped
    watcher leaves the daemon running, unless notifypid asks it to signal the daemon's group."""
    from gunicorn_switch_core import daemons

    pf, log = tmp_path / "d.pid", tmp_path / "w.log"
    arg = "3001.%d" % os.getpid()  # a sleep of this test's own, found by its argument
    started = []

    def watch(command, mode, notify):
        job = {"n": 1, "command": command, "smart": {"pidfile": str(pf), "freq": 2, "mode": mode,
                                                      "notify": notify}}
        p = subprocess.Popen(daemons.argv(job, "t.test", str(log), str(tmp_path / "d.lock")),
                             cwd=str(tmp_path), start_new_session=True)
        started.append(p)
        return p

    def stop(p):
        p.terminate()
        p.wait(10)

    try:
        # smart-attach-daemon: the command daemonizes itself and writes the pidfile
        w = watch("sleep %s & echo $! > %s" % (arg, pf), "self", None)
        first = poll(lambda: (lambda s: s[0] if len(s) == 1 and live_pidfile(pf) == s[0] else None)(
            _sleepers(arg)), "the daemon", deadline=10)
        time.sleep(2.5)  # more than freq checks: adopted, not started again
        assert _sleepers(arg) == [first]
        assert watch("exec sleep %s" % arg, "fg", "TERM").wait(10) == 0  # the lock: one watcher
        os.kill(first, 15)
        second = poll(lambda: (lambda s: s[0] if len(s) == 1 and s[0] != first else None)(
            _sleepers(arg)), "the daemon started again", deadline=10)
        stop(w)
        time.sleep(1.2)
        assert _sleepers(arg) == [second]  # left running, as uWSGI leaves it

        # a second watcher (smart-attach-daemon2, notifypid) adopts the live one
        w = watch("exec sleep %s" % arg, "fg", "TERM")
        time.sleep(2.5)
        assert _sleepers(arg) == [second] and live_pidfile(pf) == second
        os.kill(second, 15)
        third = poll(lambda: (lambda s: s[0] if len(s) == 1 and s[0] != second and live_pidfile(pf) == s[0]
                              else None)(_sleepers(arg)), "the foreground daemon", deadline=10)
        assert psutil.Process(third).ppid() != w.pid  # not the watcher's child: it outlives it
        stop(w)  # notifypid: its stopsignal to the daemon's group (setsid made it a leader)
        poll(lambda: not _sleepers(arg), "the daemon stopped by the watcher", deadline=10)
        assert log.read_text().count("gunicorn_switch: starting") == 3
    finally:
        for p in started:
            if p.poll() is None:
                p.kill()
                p.wait(5)
        for pid in _sleepers(arg):
            os.kill(pid, 9)
