"""The systemd process manager against a real systemd, booted privately (tests/sandbox/systemd_ns).

First the guard: a booting systemd must not reach the host's /tmp or /var/tmp (one once
emptied this machine's /tmp). Skipped, saying why, where no systemd or unshare exists.
"""
import json
import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from tests.sandbox import systemd_ns

REPO = Path(__file__).resolve().parents[2]
WHY_NOT = systemd_ns.available()
pytestmark = [pytest.mark.skipif(WHY_NOT is not None, reason="no private systemd: %s" % WHY_NOT),
              pytest.mark.slow]  # boots a private systemd, about a minute


@pytest.fixture
def sentinels():
    """A file in the host's /tmp and one in /var/tmp, with content only this test knows."""
    made = {}
    for d in ("/tmp", "/var/tmp"):
        fd, path = tempfile.mkstemp(prefix="gsw-sentinel-", dir=d)
        token = uuid.uuid4().hex.encode()
        os.write(fd, token)
        os.close(fd)
        made[path] = token
    yield made
    for path in made:
        if os.path.exists(path):
            os.unlink(path)


def _intact(made):
    return {p: os.path.exists(p) and open(p, "rb").read() == t for p, t in made.items()}


def _host_journal():
    """The host's persistent journal (names, sizes, dates): journald in the sandbox must
    not touch it."""
    out = {}
    for dirpath, _dirs, files in os.walk("/var/log/journal"):
        for f in files:
            st = os.lstat(os.path.join(dirpath, f))
            out[os.path.join(dirpath, f)] = (st.st_size, st.st_mtime_ns)
    return out


def test_boot_and_kill_leave_host_tmp_alone(sentinels):
    root = tempfile.mkdtemp(prefix="gsw-sd-", dir="/tmp")
    sd = systemd_ns.Systemd(root, journal=True)  # the guard holds with journald running too
    journal_before = _host_journal()
    try:
        sd.boot()
        assert sd.systemctl("is-active", "systemd-journald.service", check=False)[1].strip() == "active"
        rc, out = sd.run(["sh", "-c", "echo gsw-journal-probe | systemd-cat -t gsw-probe; sleep 0.5; "
                          "journalctl -t gsw-probe --no-pager -q"], check=False)
        assert "gsw-journal-probe" in out, out
        # the boot is real: systemd answers, and the namespace's /tmp is its own tmpfs
        rc, state = sd.systemctl("is-system-running", check=False)
        assert state.strip() in ("running", "degraded"), sd.log_tail()
        assert sd.run(["findmnt", "-n", "-o", "FSTYPE", "--mountpoint", "/tmp"])[1].strip() == "tmpfs"
        inside = sd.run(["ls", "-A", "/tmp"])[1].split()
        assert inside == [os.path.basename(root)]
        rc, masked = sd.systemctl("is-enabled", "systemd-tmpfiles-setup.service", check=False)
        assert masked.strip() == "masked"
        assert all(_intact(sentinels).values()), "after the boot: %s" % _intact(sentinels)
    finally:
        sd.stop()
    assert all(_intact(sentinels).values()), "after the kill: %s" % _intact(sentinels)
    assert _host_journal() == journal_before
    assert os.path.isdir(root)  # the sandbox itself survives the namespace
    shutil.rmtree(root)


# ---- the systemd site: switch, restart, reboot, rollback ------------------------------------

def _drive(sd, root, action):
    rc, out = sd.run([sys.executable, str(REPO / "tests/sandbox/systemd_drive.py"), str(root), action],
                     timeout=400, check=False)
    assert rc == 0, "%s: %s" % (action, out[-3000:])
    res = json.loads(out.strip().splitlines()[-1])
    if res.get("task", {}).get("state") not in (None, "succeeded"):
        (REPO / "tests/results").mkdir(exist_ok=True)
        (REPO / "tests/results/systemd_task.json").write_text(json.dumps(res, indent=1))
    return res


def _units(root):
    """The unit files (bytes) and enablement links of the sandbox's /etc/systemd/system, the
    host's masks left out."""
    base = Path(root) / "etc/systemd/system"
    out = {}
    for p in sorted(base.rglob("*")):
        if p.is_symlink():
            target = os.readlink(p)
            if target != "/dev/null":
                out[str(p.relative_to(base))] = "-> " + target
        elif p.is_file():
            out[str(p.relative_to(base))] = p.read_bytes()
    return out


def _consistent(view, workers):
    """systemd's MainPID is the keeper, the status page's master is its child, and the
    keeper, the master and its workers are exactly the unit's cgroup (PIDs of the
    namespace, where the plugin runs); a restart is the lossless re-exec."""
    assert view["running"] and view["active"] == "active", view
    assert view["master"] and view["kept"] and view["master_parent"] == view["main_pid"], view
    assert view["restart_lossless"] is True, view
    assert len(view["workers"]) == workers == view["conf_workers"], view
    assert sorted([view["main_pid"], view["master"]] + view["workers"]) == view["cgroup"], view


def _check_ops(res):
    RESULTS = REPO / "tests/results"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "systemd_ops.json").write_text(json.dumps(res, indent=1))
    n = res["before"]["conf_workers"]
    _consistent(res["before"], n)
    ops = res["ops"]
    # under load: reload, +1 worker, reload (the count kept: it is in the conf), -1 worker
    assert res["load"]["total"] > 50 and res["load"]["failed"] == 0, res["load"]
    first, again = ops["reload"]
    assert first["done"] and first["master"] == res["before"]["master"], first
    assert not set(first["new_workers"]) & set(first["old_workers"])
    _consistent(first["view"], n)
    add = ops["add_worker"][0]
    assert add["done"] and add["conf_workers"] == {"before": n, "after": n + 1}, add
    _consistent(add["view"], n + 1)
    assert again["done"] and len(again["new_workers"]) == n + 1
    _consistent(again["view"], n + 1)
    rm = ops["remove_worker"][0]
    assert rm["done"] and rm["conf_workers"] == {"before": n + 1, "after": n}, rm
    _consistent(rm["view"], n)
    # restart (under the same load): Gunicorn's re-exec under the keeper, the unit untouched
    r = ops["restart"]
    assert r["done"] and r["method"] == "USR2" and r["master_after"] != r["master_before"], r
    _consistent(r["view"], n)
    assert r["view"]["master"] == r["master_after"]
    assert r["view"]["main_pid"] == res["before"]["main_pid"], r
    # stop, start: through systemctl, the same master systemd and the page see
    st = ops["stop"]
    assert st["done"] and st["view"]["active"] == "inactive" and not st["view"]["running"], st
    assert st["view"]["master"] is None and st["view"]["cgroup"] == []
    s = ops["start"]
    assert s["done"] and s["master_after"] == s["view"]["master"], s
    _consistent(s["view"], n)
    assert res["status_after_start"] == 200
    # logs: Gunicorn's own file, and the unit's journal (systemd's lines about the reloads,
    # the restart and the stop, which no file of Gunicorn's has)
    assert "Handling signal: hup" in res["error_log"]
    journal = res["journal"]
    assert journal.count("Reload") >= 2 and "Stopped" in journal and "Started" in journal, journal


def _daemon_runs(state, root):
    """uWSGI's attach-daemon runs as a unit of its own, enabled, as www, its command as
    written (the line it wrote: the user, a pid for $$, the project for `pwd`)."""
    d = state["daemon"]
    assert d["is-enabled"] == "enabled" and d["is-active"] == "active", state
    assert d["users"] == ["www"], state
    words = (d["last"] or "").split()
    assert len(words) == 4 and words[0] == "www" and words[1].isdigit() and words[2] == "in", d
    from tests.sandbox import layout
    assert words[3] == "%s/www/wwwroot/%s" % (root, layout.SYSTEMD_SITE.name), d


def test_systemd_site_switch_restart_reboot_rollback():
    from tests.sandbox import layout
    from tests.sandbox.host import Sandbox

    sb = Sandbox(specs=[layout.SYSTEMD_SITE]).build().save()
    root = sb.root
    uwsgi_unit = layout.uwsgi_unit_name(layout.SYSTEMD_SITE)
    gunicorn_unit = "gunicorn-%s.service" % layout.SYSTEMD_SITE.name
    sd = systemd_ns.Systemd(root, journal=True)
    try:
        sd.boot()
        _drive(sd, root, "start")
        before = _units(root)
        assert "multi-user.target.wants/" + uwsgi_unit in before
        state = _drive(sd, root, "state")
        assert state["uwsgi"] == {"is-enabled": "enabled", "is-active": "active"}, state
        assert state["server"] == "" and state["status"] == 200

        # -- switch under load --
        res = _drive(sd, root, "switch")
        assert res["task"]["state"] == "succeeded", res
        assert res["load"]["total"] > 50 and res["load"]["failed"] == 0, res["load"]
        state = _drive(sd, root, "state")
        assert state["gunicorn"] == {"is-enabled": "enabled", "is-active": "active"}, state
        assert state["uwsgi"] == {"is-enabled": "disabled", "is-active": "inactive"}, state
        assert state["server"].startswith("gunicorn/")
        unit = (root / "etc/systemd/system" / gunicorn_unit).read_text()
        assert "User=www\n" in unit and "KillMode=mixed\n" in unit and "keeper.py --pidfile" in unit
        _daemon_runs(state, root)
        assert "ExecStartPre=+/usr/bin/install -d -o root -g root -m 0755 %s/run/gunicorn_switch\n" % root in unit

        # -- systemd brings a killed master back --
        killed = _drive(sd, root, "kill_master")
        assert killed["new"] and killed["new"] != killed["old"] and killed["restarts"] >= 1, killed

        # -- a reboot: a fresh systemd on the same unit files --
        sd.stop()
        # what a real reboot's empty /run does (the sandbox's /run is on disk): no stale
        # pidfile, and no runtime dir of Gunicorn's: its unit remakes that as root (without
        # the ExecStartPre lines, Gunicorn cannot write its pidfile and the site stays down)
        for pidfile in (root / "run").rglob("*.pid"):
            pidfile.unlink()
        shutil.rmtree(root / "run/gunicorn_switch")
        sd.boot()
        _drive(sd, root, "nginx")
        state = _drive(sd, root, "state")
        assert state["gunicorn"]["is-active"] == "active", state
        assert state["uwsgi"]["is-active"] == "inactive", state
        assert state["server"].startswith("gunicorn/") and state["status"] == 200
        _daemon_runs(state, root)  # enabled: it came back with the boot

        # -- the status page and its actions, through systemd --
        _check_ops(_drive(sd, root, "ops"))

        # -- rollback under load: the exact reverse --
        res = _drive(sd, root, "rollback")
        assert res["task"]["state"] == "succeeded", res
        assert res["load"]["total"] > 50 and res["load"]["failed"] == 0, res["load"]
        state = _drive(sd, root, "state")
        assert state["uwsgi"] == {"is-enabled": "enabled", "is-active": "active"}, state
        assert state["gunicorn"]["is-active"] != "active", state
        assert state["server"] == "" and state["status"] == 200
        # the daemon's unit is gone: uWSGI runs its own again
        assert state["daemon"]["is-active"] != "active" and state["daemon"]["users"] == [], state
        assert state["daemon"]["is-enabled"] not in ("enabled", "disabled"), state
        assert _units(root) == before  # unit files byte for byte, the same links
    finally:
        sd.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_systemd_site_faults():
    """The guarantees of the other managers, with systemd running the units: a Gunicorn unit
    that fails to start, a daemon-reload that fails, and a runner SIGKILLed before the commit
    point are undone with uWSGI serving all along (the same master, its unit still enabled)
    and every file and unit link as before; a runner SIGKILLed after it is finished, and the
    rollback then is exact. One boot for all of them."""
    from tests.sandbox import layout
    from tests.sandbox.host import Sandbox

    sb = Sandbox(specs=[layout.SYSTEMD_SITE]).build().save()
    root = sb.root
    sd = systemd_ns.Systemd(root, journal=True)
    try:
        sd.boot()
        _drive(sd, root, "start")
        res = _drive(sd, root, "faults")
        (REPO / "tests/results").mkdir(exist_ok=True)
        (REPO / "tests/results/systemd_faults.json").write_text(json.dumps(res, indent=1))
        uwsgi = res["before"]
        assert uwsgi["uwsgi"] == {"is-enabled": "enabled", "is-active": "active"}, uwsgi
        untouched = dict(uwsgi)  # the same uWSGI master serves through every undone fault
        for name, step, words in (("unit_fails", "start", ("did not start",)),
                                  ("daemon_reload_fails", "start", ("did not take Gunicorn",
                                                                    "injected by the test")),
                                  ("killed_after_start", None, ("interrupted",))):
            case = res[name]
            assert case["state"] == "rolled_back" and case["committed"] is False, (name, case)
            if step:
                assert case["steps"][step] == "failed" and case["error"].startswith(step + ":"), (name, case)
            for w in words:
                assert w in case["error"], (name, w, case["error"])
            assert case["load"]["total"] > 0 and case["load"]["failed"] == 0, (name, case["load"])
            assert case["same"], (name, "files or units changed")
            assert case["view"] == untouched, (name, case["view"])
        # the cause, from what Gunicorn wrote to stderr (the unit's journal), is in the error
        assert "gsw: a broken conf" in res["unit_fails"]["error"], res["unit_fails"]["error"]
        case = res["killed_after_swap_nginx"]
        assert case["died"]["committed"] is True and case["state"] == "succeeded", case
        assert case["load"]["total"] > 0 and case["load"]["failed"] == 0, case["load"]
        assert case["view"]["uwsgi"] == {"is-enabled": "disabled", "is-active": "inactive"}, case
        assert case["gunicorn_unit"] == {"is-enabled": "enabled", "is-active": "active"}, case
        assert case["view"]["server"].startswith("gunicorn/") and case["view"]["record"]
        case = res["rollback_killed_after_start_uwsgi"]
        assert case["died"]["committed"] is False and case["state"] == "rolled_back", case
        assert case["load"]["total"] > 0 and case["load"]["failed"] == 0, case["load"]
        assert case["same_as_switched"], "an undone rollback left the switched site changed"
        assert case["view"]["uwsgi"] == {"is-enabled": "disabled", "is-active": "inactive"}, case
        assert case["view"]["gunicorn"] == "active" and case["view"]["server"].startswith("gunicorn/")
        case = res["rollback"]
        assert case["state"] == "succeeded", case
        assert case["load"]["total"] > 50 and case["load"]["failed"] == 0, case["load"]
        assert case["same"], "the rollback after a recovered switch is not exact"
        assert case["view"]["uwsgi"] == untouched["uwsgi"] and case["view"]["gunicorn"] != "active"
        assert case["view"]["gunicorn_procs"] == 0 and not case["view"]["record"]
    finally:
        sd.stop()
        shutil.rmtree(root, ignore_errors=True)
