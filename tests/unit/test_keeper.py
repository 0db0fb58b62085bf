"""The keeper Supervisor runs in front of Gunicorn (keeper.py): its pure parts, and the keeper
itself around a stand-in master that re-execs on USR2 the way Gunicorn does."""
import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from gunicorn_switch_core import host, keeper, managers, processes


def test_arguments():
    assert keeper.parse_args(["--pidfile", "/run/x/g.pid", "--", "/v/bin/gunicorn", "-c", "/p/c.py"]) == \
        ("/run/x/g.pid", ["/v/bin/gunicorn", "-c", "/p/c.py"])
    for bad in ([], ["--pidfile", "/p"], ["/v/bin/gunicorn", "-c", "x", "y"],
                ["--pidfile", "g.pid", "--", "/v/bin/gunicorn"],
                ["--pidfile", "/g.pid", "--", "gunicorn"]):
        with pytest.raises(keeper.Usage):
            keeper.parse_args(bad)


def test_pidfile_and_stat_text():
    assert keeper.parse_pid("1234\n") == 1234
    assert keeper.parse_pid("") is None and keeper.parse_pid("12a") is None
    assert keeper.parse_pid("1") is None and keeper.parse_pid(None) is None
    # the name may hold spaces and parentheses
    assert keeper.parse_ppid("77 (gunicorn: master) (x)) S 42 77 77 0 -1") == 42


def test_which_master_a_signal_goes_to():
    # the pidfile's pid only when it is our own child: the pidfile is the site's to write
    assert keeper.current_master(500, 10, 10, 400, True) == 500
    assert keeper.current_master(500, 1, 10, 400, True) == 400
    assert keeper.current_master(None, None, 10, 400, False) is None
    assert keeper.targets("SIGHUP", 500, [500, 600], 700) == [500]
    assert keeper.targets("SIGUSR2", None, [600], None) == []
    # a stop reaches every master, the one a re-exec is starting included
    assert keeper.targets("SIGTERM", 500, [500, 600], 700) == [500, 600, 700]
    assert keeper.targets("SIGQUIT", None, [], None) == []


def test_exit_code():
    assert keeper.exit_code(3 << 8) == 3
    assert keeper.exit_code(signal.SIGKILL) == 128 + signal.SIGKILL


def test_the_keeper_must_be_roots_alone(tmp_path):
    class U(object):
        gids = {12345}
    f = tmp_path / "keeper.py"
    f.write_text("")
    os.chmod(str(tmp_path), 0o755)
    os.chmod(str(f), 0o644)
    # tmp_path's parents are root's 0755 (or /tmp's 1777, which others may write)
    ok = all(not (os.lstat(p).st_mode & 0o022) for p in [str(x) for x in tmp_path.parents])
    assert managers.keeper_usable(U(), str(f)) is ok
    os.chmod(str(f), 0o664)
    assert not managers.keeper_usable(U(), str(f))
    os.chmod(str(f), 0o600)
    assert not managers.keeper_usable(U(), str(f))
    assert not managers.keeper_usable(U(), str(tmp_path / "missing.py"))
    assert managers.keeper_usable(U(), processes.KEEPER) == (os.stat(processes.KEEPER).st_mode & 0o022 == 0)


def test_the_program_runs_the_keeper_with_the_venv_python(tmp_path, monkeypatch):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("")
    rec = {"venv": str(venv), "gunicorn_bin": str(venv / "bin" / "gunicorn"),
           "gunicorn_conf": "/www/wwwroot/x/gunicorn_conf.py", "project_path": "/www/wwwroot/x",
           "pidfile": "/run/gunicorn_switch/x/gunicorn.pid", "user": "root",
           "manager_detail": "gunicorn_x", "site": "x"}
    monkeypatch.setattr(managers, "keeper_usable", lambda user: True)
    text = managers.program_text(rec)
    assert "command=%s/bin/python -I %s --pidfile /run/gunicorn_switch/x/gunicorn.pid -- %s/bin/gunicorn " \
        "-c /www/wwwroot/x/gunicorn_conf.py\n" % (venv, processes.KEEPER, venv) in text
    assert "stopasgroup=false\nkillasgroup=true\n" in text
    monkeypatch.setattr(managers, "keeper_usable", lambda user: False)
    text = managers.program_text(rec)
    assert "command=%s/bin/gunicorn -c /www/wwwroot/x/gunicorn_conf.py\n" % venv in text
    assert "killasgroup=false\n" in text


# A stand-in for Gunicorn's master: writes its pidfile; on USR2 starts a child (the new
# master) that writes <pidfile>.2 and, once its parent is gone, renames it onto <pidfile>;
# exits on TERM. Gunicorn 23 and 27 do the same (control.reexec).
FAKE_MASTER = textwrap.dedent("""
    import os, signal, sys, time
    pidfile = sys.argv[1]
    mine = pidfile + (".2" if len(sys.argv) > 2 else "")
    parent = os.getppid()
    with open(mine + ".tmp", "w") as f:
        f.write("%d\\n" % os.getpid())
    os.rename(mine + ".tmp", mine)
    def usr2(*a):
        if os.fork() == 0:
            os.execv(sys.executable, [sys.executable, sys.argv[0], pidfile, "new"])
    signal.signal(signal.SIGUSR2, usr2)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(7))
    while True:
        time.sleep(0.05)
        if mine != pidfile and os.getppid() != parent:
            os.rename(mine, pidfile)
            mine = pidfile
""")


def _wait(check, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = check()
        if v:
            return v
        time.sleep(0.05)
    return None


def _children(pid):
    return sorted(processes.children(pid))


@contextlib.contextmanager
def _keeper(tmp_path, master=FAKE_MASTER):
    """The keeper around a stand-in master: (keeper's Popen, pidfile); killed if left."""
    script = tmp_path / "master.py"
    script.write_text(master)
    pidfile = str(tmp_path / "m.pid")
    k = subprocess.Popen([sys.executable, "-I", processes.KEEPER, "--pidfile", pidfile, "--",
                          sys.executable, str(script), pidfile])
    try:
        yield k, pidfile
    finally:
        if k.poll() is None:
            k.kill()
            k.wait()


def test_a_reexec_stays_under_the_keeper(tmp_path):
    with _keeper(tmp_path) as (k, pidfile):
        first = _wait(lambda: host.read_pid(pidfile))
        assert first and _children(k.pid) == [first]
        k.send_signal(signal.SIGUSR2)  # forwarded to the master, which starts the new one
        new = _wait(lambda: host.read_pid(pidfile + ".2"))
        assert new and keeper.ppid_of(new) == first
        os.kill(first, signal.SIGTERM)
        # the old master gone, the new one is the keeper's child and takes the pidfile
        assert _wait(lambda: host.read_pid(pidfile) == new and _children(k.pid) == [new])
        assert k.poll() is None  # Supervisor sees nothing die
        k.send_signal(signal.SIGTERM)  # supervisorctl stop: passed on to the master
        assert k.wait(10) == 7


def test_a_stop_during_a_reexec_stops_both_masters(tmp_path):
    with _keeper(tmp_path) as (k, pidfile):
        first = _wait(lambda: host.read_pid(pidfile))
        k.send_signal(signal.SIGUSR2)
        new = _wait(lambda: host.read_pid(pidfile + ".2"))
        assert first and new
        k.send_signal(signal.SIGTERM)
        assert k.wait(10) == 7
        assert _wait(lambda: not os.path.exists("/proc/%d" % new))


KILLED_MASTER = """
import os, sys, time
pidfile = sys.argv[1]
parent = os.getpid()
if os.fork() == 0:  # a worker: leaves once its master is gone, as Gunicorn's do (exit 0)
    while os.getppid() == parent:
        time.sleep(0.05)
    os._exit(0)
with open(pidfile, "w") as fh:
    fh.write(str(os.getpid()))
while True:
    time.sleep(1)
"""


def test_a_master_killed_outright_is_what_the_keeper_reports(tmp_path):
    """Its orphaned worker exits 0 after it: the keeper still exits 128 + 9, so that the
    manager (systemd's Restart=, Supervisor's exitcodes) sees the crash."""
    with _keeper(tmp_path, KILLED_MASTER) as (k, pidfile):
        master = _wait(lambda: host.read_pid(pidfile))
        assert master and _wait(lambda: len(processes.children(master)) == 1)
        os.kill(master, signal.SIGKILL)
        assert k.wait(10) == 128 + signal.SIGKILL
