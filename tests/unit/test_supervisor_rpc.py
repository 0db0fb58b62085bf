"""supervisor_rpc against a real supervisord (in a temp dir, on its own unix socket): the
answers and the text match supervisorctl's for the same commands, a login is sent, and a
socket that does not answer is Unreachable (the caller then asks supervisorctl)."""
import os
import shutil
import subprocess
import time

import pytest

from gunicorn_switch_core import supervisor_programs, supervisor_rpc

SUPERVISORD = shutil.which("supervisord")
SUPERVISORCTL = shutil.which("supervisorctl")
pytestmark = pytest.mark.skipif(not SUPERVISORD or not SUPERVISORCTL,
                                reason="supervisor is in the test requirements")


def _conf(d, login=False):
    auth = "username=ops\npassword=s3cr;et x\n" if login else ""
    return """[unix_http_server]
file=%(here)s/s.sock   ; the socket
chmod=0700
{auth}
[supervisord]
logfile={d}/supervisord.log
pidfile={d}/supervisord.pid
nodaemon=false

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{d}/s.sock
{auth}
[include]
files = {d}/profile/*.ini
""".format(d=d, auth=auth)


def _program(name, seconds=300):
    return "[program:%s]\ncommand=%s %d\nstartsecs=0\nautorestart=false\nstopwaitsecs=5\n" % (
        name, shutil.which("sleep"), seconds)


@pytest.fixture(scope="module", params=[False, True], ids=["open", "login"])
def supervisord(tmp_path_factory, request):
    d = tmp_path_factory.mktemp("supervisord")
    (d / "profile").mkdir()
    (d / "profile" / "a.ini").write_text(_program("a"))
    conf = d / "supervisord.conf"
    conf.write_text(_conf(d, login=request.param))
    subprocess.run([SUPERVISORD, "-c", str(conf)], check=True)
    end = time.monotonic() + 20
    while not ((d / "s.sock").exists() and (d / "supervisord.pid").exists()):
        assert time.monotonic() < end, "supervisord did not start"
        time.sleep(0.05)
    time.sleep(0.05)  # the pidfile is written, then filled
    pid = int((d / "supervisord.pid").read_text())
    yield d, str(conf)
    for ini in (d / "profile").glob("*.ini"):
        ini.unlink()
    supervisor_rpc.run(str(conf), "update")  # stops every program, as a test would
    os.kill(pid, 15)
    end = time.monotonic() + 20
    while time.monotonic() < end:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)


def ctl(conf, *args):
    p = subprocess.run([SUPERVISORCTL, "-c", conf] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True)
    return p.returncode, p.stdout


def state(conf, name):
    rc, out = supervisor_rpc.run(conf, "status", name)
    return out.split()[1]


def wait_state(conf, name, want):
    end = time.monotonic() + 20
    while state(conf, name) != want:
        assert time.monotonic() < end, (name, want, state(conf, name))
        time.sleep(0.05)


def test_server_of_reads_the_conf_as_supervisorctl(tmp_path):
    conf = tmp_path / "c.conf"
    conf.write_text(_conf(tmp_path, login=True))
    assert supervisor_rpc.server_of(str(conf)) == (str(tmp_path / "s.sock"), "ops", "s3cr;et x")
    conf.write_text("[unix_http_server]\nfile=%(here)s/x.sock ; comment\n")
    assert supervisor_rpc.server_of(str(conf)) == (str(tmp_path / "x.sock"), "", "")
    for text in ("[supervisorctl]\nserverurl=http://127.0.0.1:9001\n", "[supervisord]\n",
                 "[unix_http_server]\nfile=%(ENV_X)s/s.sock\n", "[unix_http_server\n"):
        conf.write_text(text)
        with pytest.raises(supervisor_rpc.Unreachable):
            supervisor_rpc.server_of(str(conf))
    with pytest.raises(supervisor_rpc.Unreachable):
        supervisor_rpc.server_of(str(tmp_path / "missing.conf"))


def test_commands_answer_as_supervisorctl(supervisord):
    d, conf = supervisord
    wait_state(conf, "a", "RUNNING")  # the fixture's, started by supervisord itself
    assert supervisor_rpc.run(conf, "status", "a")[1].split()[:2] == ctl(conf, "status", "a")[1].split()[:2]
    # a new program: update with its name adds (and autostarts) only it
    (d / "profile" / "b.ini").write_text(_program("b"))
    (d / "profile" / "c.ini").write_text(_program("c"))
    rc, out = supervisor_rpc.run(conf, "update", "b")
    assert (rc, out) == (0, "b: added process group\n")
    wait_state(conf, "b", "RUNNING")
    assert "c" not in supervisor_rpc.run(conf, "status")[1].split()
    # stop, then stopping again: supervisorctl's error text
    assert supervisor_rpc.run(conf, "stop", "b") == (0, "b: stopped\n")
    assert state(conf, "b") == "STOPPED"
    assert supervisor_rpc.run(conf, "stop", "b") == (1, "b: ERROR (not running)\n")
    assert supervisor_rpc.run(conf, "start", "b") == (0, "b: started\n")
    assert state(conf, "b") == "RUNNING"
    # a changed program is stopped and re-added; a removed one stopped and removed
    (d / "profile" / "b.ini").write_text(_program("b", 301))
    (d / "profile" / "a.ini").unlink()
    rc, out = supervisor_rpc.run(conf, "update")
    assert rc == 0
    assert sorted(out.splitlines()) == sorted([
        "a: stopped", "a: removed process group", "b: stopped", "b: updated process group",
        "c: added process group"])
    wait_state(conf, "b", "RUNNING")
    wait_state(conf, "c", "RUNNING")
    listed = supervisor_rpc.run(conf, "status")[1]
    assert [line.split()[0] for line in listed.splitlines()] == ["b", "c"]  # sorted, as theirs
    assert [line.split()[:2] for line in listed.splitlines()] == \
        [line.split()[:2] for line in ctl(conf, "status")[1].splitlines()]
    rc, out = supervisor_rpc.run(conf, "status", "a")
    assert rc != 0 and out == "a: ERROR (no such process)\n"
    with pytest.raises(ValueError):
        supervisor_rpc.run(conf, "shutdown")


def test_group_names_as_supervisorctl(supervisord):
    d, conf = supervisord
    (d / "profile" / "g.ini").write_text(_program("g") + "numprocs=2\n"
                                         "process_name=%(program_name)s_%(process_num)02d\n")
    supervisor_rpc.run(conf, "update", "g")
    wait_state(conf, "g:g_00", "RUNNING")
    ours = supervisor_rpc.run(conf, "status", "g:")[1]
    theirs = ctl(conf, "status", "g:")[1]
    assert [x.split()[:2] for x in ours.splitlines()] == [x.split()[:2] for x in theirs.splitlines()]
    assert supervisor_rpc.run(conf, "stop", "g:") == (0, "g:: stopped\n")
    assert state(conf, "g:g_01") == "STOPPED"
    (d / "profile" / "g.ini").unlink()
    assert supervisor_rpc.run(conf, "update", "g") == (0, "g: stopped\ng: removed process group\n")


def test_a_dead_socket_is_unreachable_and_the_plugin_falls_back(supervisord, monkeypatch):
    d, conf = supervisord
    text = open(conf).read().replace("s.sock", "gone.sock")
    dead = d / "dead.conf"
    dead.write_text(text)
    with pytest.raises(supervisor_rpc.Unreachable):
        supervisor_rpc.run(str(dead), "status")
    calls = []
    monkeypatch.setattr(supervisor_programs, "supervisor_conf", lambda: str(dead))
    monkeypatch.setattr(supervisor_programs.host, "run",
                        lambda argv, **kw: calls.append(argv) or (0, "x RUNNING\n"))
    assert supervisor_programs.supervisorctl("status", "x") == (0, "x RUNNING\n")
    assert calls and calls[0][-4:] == ["-c", str(dead), "status", "x"]
