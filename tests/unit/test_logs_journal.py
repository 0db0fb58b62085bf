"""The journal source of get_logs (systemd sites): the command is an argument list with a
checked unit and bounded lines, and its output is bounded in bytes and time."""
import sys

import pytest

from gunicorn_switch_core import logs


def test_journal_argv_is_bounded_and_checked():
    assert logs.journal_argv("gunicorn-unit.test.service", 200) == [
        "journalctl", "-u", "gunicorn-unit.test.service", "-n", "200", "--no-pager", "-o", "short-iso"]
    for unit in ("uwsgi-x.service", "gunicorn-a b.service", "gunicorn-x.service; rm -rf /",
                 "-gunicorn-x.service", "", None):
        with pytest.raises(logs.LogError):
            logs.journal_argv(unit, 10)
    for lines in (0, logs.MAX_LINES + 1, "10"):
        with pytest.raises(logs.LogError):
            logs.journal_argv("gunicorn-x.service", lines)


def test_bounded_output_keeps_the_tail_within_max_bytes():
    argv = [sys.executable, "-c", "import sys\nfor i in range(200000): sys.stdout.write('line %d\\n' % i)"]
    rc, data, cut = logs.bounded_output(argv, max_bytes=4096)
    assert rc == 0 and cut and len(data) <= 4096
    assert data.endswith(b"line 199999\n")


def test_bounded_output_is_bounded_in_time():
    rc, data, cut = logs.bounded_output([sys.executable, "-c", "import time; time.sleep(30)"],
                                        timeout=0.5)
    assert rc != 0 and data == b"" and not cut


def test_get_logs_reads_the_journal_of_a_systemd_site_only(monkeypatch):
    rec = {"site": "unit.test", "manager": "systemd", "manager_detail": "gunicorn-unit.test.service",
           "error_log": "-", "access_log": None, "log_dir": "/www/wwwlogs/python/unit.test"}
    seen = []
    monkeypatch.setattr(logs.records, "load", lambda site: dict(rec))
    monkeypatch.setattr(logs, "bounded_output",
                        lambda argv: (seen.append(argv) or (0, b"a\nb\nc\n", False)))
    assert logs.get_logs("unit.test", "journal", 2) == "b\nc\n"
    # an error log on stdout/stderr is the journal's
    assert logs.get_logs("unit.test", "error", 5) == "a\nb\nc\n"
    assert seen[0][:3] == ["journalctl", "-u", "gunicorn-unit.test.service"]
    monkeypatch.setattr(logs.records, "load", lambda site: dict(rec, manager="supervisor"))
    with pytest.raises(logs.LogError):
        logs.get_logs("unit.test", "journal", 2)
