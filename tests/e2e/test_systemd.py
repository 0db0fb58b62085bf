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


def test_boot_and_kill_leave_host_tmp_alone(sentinels):
    root = tempfile.mkdtemp(prefix="gsw-sd-", dir="/tmp")
    sd = systemd_ns.Systemd(root)
    try:
        sd.boot()
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


def test_systemd_site_switch_restart_reboot_rollback():
    from tests.sandbox import layout
    from tests.sandbox.host import Sandbox

    sb = Sandbox(specs=[layout.SYSTEMD_SITE]).build().save()
    root = sb.root
    uwsgi_unit = layout.uwsgi_unit_name(layout.SYSTEMD_SITE)
    gunicorn_unit = "gunicorn-%s.service" % layout.SYSTEMD_SITE.name
    sd = systemd_ns.Systemd(root)
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
        assert "User=www\n" in unit and "KillMode=mixed\n" in unit

        # -- systemd brings a killed master back --
        killed = _drive(sd, root, "kill_master")
        assert killed["new"] and killed["new"] != killed["old"] and killed["restarts"] >= 1, killed

        # -- a reboot: a fresh systemd on the same unit files --
        sd.stop()
        # what a real reboot's empty /run does: no stale pidfile (the sandbox's /run is on disk)
        for pidfile in (root / "run").rglob("*.pid"):
            pidfile.unlink()
        sd.boot()
        _drive(sd, root, "nginx")
        state = _drive(sd, root, "state")
        assert state["gunicorn"]["is-active"] == "active", state
        assert state["uwsgi"]["is-active"] == "inactive", state
        assert state["server"].startswith("gunicorn/") and state["status"] == 200

        # -- rollback under load: the exact reverse --
        res = _drive(sd, root, "rollback")
        assert res["task"]["state"] == "succeeded", res
        assert res["load"]["total"] > 50 and res["load"]["failed"] == 0, res["load"]
        state = _drive(sd, root, "state")
        assert state["uwsgi"] == {"is-enabled": "enabled", "is-active": "active"}, state
        assert state["gunicorn"]["is-active"] != "active", state
        assert state["server"] == "" and state["status"] == 200
        assert _units(root) == before  # unit files byte for byte, the same links
    finally:
        sd.stop()
        shutil.rmtree(root, ignore_errors=True)
