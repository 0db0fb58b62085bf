"""Backups: byte-for-byte restore, and the first backup of a path in a task wins."""
import os

import pytest

from gunicorn_switch_core import backups, host


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("GUNICORN_SWITCH_ROOT", str(tmp_path / "root"))
    return tmp_path


def test_restore_puts_back_bytes_and_mode(root):
    f = root / "a.conf"
    f.write_bytes(b"server {}\r\n# \xe4\xb8\xad\n")
    os.chmod(f, 0o640)
    e = backups.backup("s", "t1", str(f))
    f.write_bytes(b"changed")
    os.chmod(f, 0o600)
    assert not backups.matches(e)
    assert backups.restore(e) is True
    assert f.read_bytes() == b"server {}\r\n# \xe4\xb8\xad\n" and (f.stat().st_mode & 0o777) == 0o640
    assert backups.matches(e) and backups.restore(e) is False


def test_a_file_that_did_not_exist_is_removed(root):
    f = root / "new.conf"
    e = backups.backup("s", "t1", str(f))
    f.write_text("x")
    assert backups.restore(e) is True and not f.exists()


def test_second_backup_in_a_task_keeps_the_original(root):
    f = root / "p.ini"
    f.write_text("autostart=true\n")
    first = backups.backup("s", "t1", str(f))
    f.write_text("autostart=false\n")
    again = backups.backup("s", "t1", str(f))  # a resumed step backs up again
    assert again == first
    backups.restore(again)
    assert f.read_text() == "autostart=true\n"
    n = root / "later.sh"
    backups.backup("s", "t1", str(n))
    n.write_text("made by the switch")
    assert backups.backup("s", "t1", str(n))["existed"] is False


def test_damaged_backup_is_refused(root):
    f = root / "b.conf"
    f.write_text("one")
    e = backups.backup("s", "t2", str(f))
    with open(e["backup"], "w") as fh:
        fh.write("tampered")
    with pytest.raises(host.HostError):
        backups.restore(e)
