"""The systemd process manager against a real systemd, booted privately (tests/sandbox/systemd_ns).

First the guard: a booting systemd must not reach the host's /tmp or /var/tmp (one once
emptied this machine's /tmp). Skipped, saying why, where no systemd or unshare exists.
"""
import os
import shutil
import tempfile
import uuid

import pytest

from tests.sandbox import systemd_ns

WHY_NOT = systemd_ns.available()
pytestmark = pytest.mark.skipif(WHY_NOT is not None, reason="no private systemd: %s" % WHY_NOT)


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
