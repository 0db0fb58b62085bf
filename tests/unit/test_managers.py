"""managers with the host layer faked (commands, processes, users): the texts it generates
(Supervisor program, systemd unit, autostart edits, environment) and what it decides to run
for each manager, with no supervisord, systemd or process behind it."""
import json
import signal

import pytest

from gunicorn_switch_core import (host, managers, processes, safe_files, safe_text, supervisor_programs,
                                  uwsgi_process)
from tests.unit.host_fakes import FakeProc, FakeUser, os_with


@pytest.fixture
def prefix(tmp_path, monkeypatch):
    monkeypatch.setenv("GUNICORN_SWITCH_ROOT", str(tmp_path))
    return tmp_path


@pytest.fixture
def commands(monkeypatch):
    """host.run faked: every argv is recorded; ``answers`` maps a word of the command
    (e.g. 'status') to (rc, output)."""
    calls, answers = [], {}

    def run(argv, timeout=60, **kw):
        calls.append(list(argv))
        for word, answer in answers.items():
            if word in argv:
                return answer
        return 0, ""
    monkeypatch.setattr(host, "run", run)
    monkeypatch.setattr(supervisor_programs, "supervisor_conf", lambda: "/etc/supervisord.conf")
    return calls, answers


def record(**kw):
    base = {"site": "shop.test", "manager": "supervisor", "manager_detail": "gunicorn_shop_test",
            "gunicorn_bin": "/www/wwwroot/shop/venv/bin/gunicorn",
            "gunicorn_conf": "/www/wwwroot/shop/gunicorn_conf.py", "project_path": "/www/wwwroot/shop",
            "venv": "/www/wwwroot/shop/venv", "user": "www", "pidfile": "/nonexistent/gunicorn.pid",
            "log_dir": "/www/wwwlogs/python/shop.test"}
    base.update(kw)
    return base


# ---- names ----------------------------------------------------------------------------------

def test_names_a_manager_knows_gunicorn_by():
    assert supervisor_programs.program_name("shop.test") == "gunicorn_shop_test"
    assert supervisor_programs.program_name("a-b.例子") == "gunicorn_a_b___"
    assert managers.unit_name("shop.test") == "gunicorn-shop.test.service"
    assert managers.unit_name("a b/c") == "gunicorn-a_b_c.service"
    assert managers.detail_for("supervisor", "s.test") == "gunicorn_s_test"
    assert managers.detail_for("systemd", "s.test") == "gunicorn-s.test.service"
    assert managers.detail_for("daemon", "s.test") == "s.test"
    assert managers.detail_for("panel_project", "s.test") == "s.test"


def test_registration_files_per_manager(prefix):
    sup = str(prefix / "www/server/panel/plugin/supervisor")
    assert managers.registration_files(record()) == [sup + "/profile/gunicorn_shop_test.ini",
                                                     sup + "/config.json"]
    assert managers.registration_files(record(manager="systemd", manager_detail="g.service")) == \
        [str(prefix / "etc/systemd/system/g.service")]
    assert managers.registration_files(record(manager="daemon")) == []


# ---- the texts ------------------------------------------------------------------------------

def test_program_section_as_the_supervisor_plugin_writes_it(prefix, fake_users):
    text = supervisor_programs.program_section("gunicorn_x", "/v/bin/gunicorn -c /p/gunicorn_conf.py", "/p",
                                    FakeUser("alice"), env=[("K", "v w")], stopwaitsecs=65)
    log = prefix / "www/server/panel/plugin/supervisor/log"
    assert text.splitlines() == [
        "[program:gunicorn_x]", "command=/v/bin/gunicorn -c /p/gunicorn_conf.py", "directory=/p",
        "autostart=true", "autorestart=true", "startsecs=3", "startretries=3", "stopsignal=TERM",
        "stopwaitsecs=65", "stopasgroup=false", "killasgroup=false",
        "stdout_logfile=%s/gunicorn_x.out.log" % log, "stderr_logfile=%s/gunicorn_x.err.log" % log,
        "stdout_logfile_maxbytes=2MB", "stderr_logfile_maxbytes=2MB", "user=alice",
        'environment=HOME="/home/alice",USER="alice",LANG="C.UTF-8",K="v w"',
        "priority=999", "numprocs=1", "process_name=%(program_name)s"]
    assert text.endswith("\n")
    group = supervisor_programs.program_section("d", "sh -c x", "/p", FakeUser("www"), group=True)
    assert "startsecs=1\n" in group and "stopasgroup=true\nkillasgroup=true\n" in group


def test_program_text_runs_the_recorded_gunicorn_as_the_sites_user(prefix, fake_users):
    text = managers.program_text(record(user="alice", graceful_timeout=60))
    assert "command=/www/wwwroot/shop/venv/bin/gunicorn -c /www/wwwroot/shop/gunicorn_conf.py\n" in text
    assert "directory=/www/wwwroot/shop\n" in text and "user=alice\n" in text
    assert "stopwaitsecs=65\n" in text
    assert "stopwaitsecs=35\n" in managers.program_text(record())  # graceful 30 s by default
    assert "user=www\n" in managers.program_text(record(user=None))  # records before least privilege
    with pytest.raises(safe_text.UnsafeText):
        managers.program_text(record(gunicorn_conf="/p/x;reboot"))


def test_unit_text(fake_users):
    assert managers.unit_text(record(manager="systemd", manager_detail="gunicorn-shop.test.service",
                                     graceful_timeout="10")) == "\n".join([
        "[Unit]", "Description=Gunicorn for shop.test (gunicorn_switch)",
        "After=network.target", "", "[Service]", "Type=simple", "User=www",
        "WorkingDirectory=/www/wwwroot/shop", "Environment=HOME=/home/www USER=www LANG=C.UTF-8",
        "ExecStart=/www/wwwroot/shop/venv/bin/gunicorn -c /www/wwwroot/shop/gunicorn_conf.py",
        "ExecReload=/bin/kill -HUP $MAINPID", "Restart=always", "RestartSec=1", "KillMode=mixed",
        "TimeoutStopSec=15", "", "[Install]", "WantedBy=multi-user.target", ""])
    with pytest.raises(safe_text.UnsafeText):
        managers.unit_text(record(project_path="/www/wwwroot/a\nExecStartPre=/bin/evil"))


@pytest.mark.parametrize("text, escaped", [
    ("100%", "100%%"), ("a;b", "a;b"), ("a#b", "a#b"), ("/p/我的", "/p/我的"), ("", ""),
])
def test_supervisor_value_escapes(text, escaped):
    assert supervisor_programs.supervisor_value(text, "v") == escaped


@pytest.mark.parametrize("text", ['say "hi"', "a\\b", "a ;b", "a\t#b", "a\nb", "a\x00", "a\x7f"])
def test_supervisor_value_refuses(text):
    with pytest.raises(safe_text.UnsafeText):
        supervisor_programs.supervisor_value(text, "v")


@pytest.mark.parametrize("text, on, want", [
    ("[program:u]\ncommand=x\nautostart=true\nautorestart = true ; keep\n", False,
     "[program:u]\ncommand=x\nautostart=false\nautorestart = false ; keep\n"),
    ("[program:u]\ncommand=x\n", False, "[program:u]\ncommand=x\nautostart=false\nautorestart=false\n"),
    ("[program:u]\ncommand=x", True, "[program:u]\ncommand=x\nautostart=true\nautorestart=true\n"),
    ("[program:u]\r\nautostart=false\r\n", True, "[program:u]\r\nautostart=true\r\nautorestart=true\r\n"),
    ("  autostart=unexpected\n", False, "  autostart=false\nautorestart=false\n"),
    ("", False, "autostart=false\nautorestart=false\n"),
])
def test_set_autostart(text, on, want):
    assert supervisor_programs.set_autostart(text, on) == want


def test_set_autostart_leaves_other_keys_alone():
    text = "[program:u]\nautostart_delay=3\nnot_autostart=true\n"
    assert supervisor_programs.set_autostart(text, False) == text + "autostart=false\nautorestart=false\n"


# ---- uWSGI's environment and user when it comes back ----------------------------------------

def test_uwsgi_env_keeps_only_how_it_was_started(fake_users):
    recorded = {"VIRTUAL_ENV": "/v", "SUPERVISOR_PROCESS_NAME": "u", "LD_PRELOAD": "/evil.so",
                "PYTHONPATH": "/evil", "HOME": "/root", "PATH": "/v/bin:/usr/bin"}
    assert uwsgi_process.uwsgi_env(recorded, FakeUser("alice")) == {
        "VIRTUAL_ENV": "/v", "SUPERVISOR_PROCESS_NAME": "u", "PATH": "/v/bin:/usr/bin",
        "HOME": "/home/alice"}
    assert uwsgi_process.uwsgi_env({}, None) == {"PATH": host.SAFE_PATH, "HOME": "/root"}


@pytest.mark.parametrize("u, root_only, want", [
    ({"uid": 1001, "exe": "/x"}, False, "alice"),
    ({"uid": 1001, "exe": "/x"}, True, "alice"),  # never root for a master that was not
    ({"uid": 0, "exe": "/usr/bin/uwsgi"}, True, None),  # root's, from a root-only binary
    ({"uid": 0, "cmdline": ["/usr/bin/uwsgi", "--ini", "x"]}, True, None),
    ({"uid": 0, "exe": "/v/bin/uwsgi", "site_user": "www"}, False, "www"),
    ({"uid": 0, "exe": "/v/bin/uwsgi"}, False,
     "uWSGI ran as root from /v/bin/uwsgi, which a non-root user can change; start it by hand"),
    ({"uid": 4242, "exe": "/x"}, True, "user 4242 of the uWSGI master no longer exists"),
    ({"uid": None}, True, "the uWSGI master's user was not recorded; start uWSGI by hand"),
])
def test_respawn_user(monkeypatch, fake_users, u, root_only, want):
    seen = []
    monkeypatch.setattr(safe_files, "root_only", lambda p: seen.append(p) or root_only)
    got = uwsgi_process.respawn_user(u)
    assert (got.name if isinstance(got, FakeUser) else got) == want
    if u.get("uid") == 0:
        assert seen == [u.get("exe") or u["cmdline"][0]]


# ---- Supervisor and systemd, by their commands ----------------------------------------------

def test_supervisor_conf_is_the_running_supervisords(prefix, monkeypatch):
    procs = [FakeProc(1, ["/usr/bin/python3", "/usr/bin/supervisord", "-c", "/etc/supervisor/supervisord.conf"]),
             FakeProc(2, ["supervisord", "-c", str(prefix / "sup.conf")]),
             FakeProc(3, ["/usr/bin/vim", "supervisord", "-c", "/x"])]
    monkeypatch.setattr(supervisor_programs.psutil, "process_iter", lambda attrs=None: iter(procs))
    assert supervisor_programs.supervisor_conf() == str(prefix / "sup.conf")  # not one outside the prefix
    procs.pop(1)
    assert supervisor_programs.supervisor_conf() is None
    plugin_conf = prefix / "www/server/panel/plugin/supervisor/supervisord.conf"
    plugin_conf.parent.mkdir(parents=True)
    plugin_conf.write_text("")
    assert supervisor_programs.supervisor_conf() == str(plugin_conf)


def test_supervisorctl_prefers_the_panels_and_names_the_live_conf(prefix, commands):
    calls, _ = commands
    supervisor_programs.supervisorctl("status")
    ctl = prefix / "www/server/panel/pyenv/bin/supervisorctl"
    ctl.parent.mkdir(parents=True)
    ctl.write_text("")
    supervisor_programs.supervisorctl("update", "p")
    assert calls == [["supervisorctl", "-c", "/etc/supervisord.conf", "status"],
                     [str(ctl), "-c", "/etc/supervisord.conf", "update", "p"]]


@pytest.mark.parametrize("output, state", [
    ("gunicorn_x                       RUNNING   pid 12, uptime 0:00:03\n", "RUNNING"),
    ("gunicorn_x   STOPPED   Dec 01 09:00 AM\n", "STOPPED"),
    ("gunicorn_x: ERROR (no such process)\n", None),
    ("gunicorn_xy   RUNNING   pid 1\n", None),
    ("", None),
])
def test_program_state_is_read_from_supervisorctl(prefix, commands, output, state):
    commands[1]["status"] = (3, output)
    assert supervisor_programs.program_state("gunicorn_x") == state


def test_install_writes_the_program_and_lists_it_for_the_plugins_page(prefix, commands, fake_users):
    meta = prefix / "www/server/panel/plugin/supervisor/config.json"
    meta.parent.mkdir(parents=True)
    meta.write_text(json.dumps([{"program": "other", "command": "x"},
                                {"program": "gunicorn_shop_test", "command": "stale"}]))
    assert managers.install(record()) == (True, "")
    program = prefix / "www/server/panel/plugin/supervisor/profile/gunicorn_shop_test.ini"
    assert program.read_text() == managers.program_text(record())
    assert json.loads(meta.read_text()) == [
        {"program": "other", "command": "x"},
        {"program": "gunicorn_shop_test",
         "command": "/www/wwwroot/shop/venv/bin/gunicorn -c /www/wwwroot/shop/gunicorn_conf.py",
         "path": "/www/wwwroot/shop", "user": "www", "numprocs": "1",
         "ps": "Gunicorn: shop.test (gunicorn_switch)"}]
    assert commands[0] == []  # nothing started yet
    supervisor_programs.metadata_remove("gunicorn_shop_test")
    assert json.loads(meta.read_text()) == [{"program": "other", "command": "x"}]


def test_metadata_that_is_not_a_list_is_left_alone(prefix):
    meta = prefix / "www/server/panel/plugin/supervisor/config.json"
    meta.parent.mkdir(parents=True)
    meta.write_text('{"not": "a list"}')
    supervisor_programs.metadata_add("p", "c", "/p", "www", "ps")
    supervisor_programs.metadata_remove("p")
    assert meta.read_text() == '{"not": "a list"}'


def test_install_and_remove_a_systemd_unit(prefix, commands, fake_users):
    calls, _ = commands
    rec = record(manager="systemd", manager_detail="gunicorn-shop.test.service")
    unit = prefix / "etc/systemd/system/gunicorn-shop.test.service"
    assert managers.install(rec) == (True, "")
    assert unit.read_text() == managers.unit_text(rec)
    assert managers.enable(rec) == (True, "")
    assert managers.enable(record(manager="daemon")) == (True, "")
    ok, _ = managers.remove(rec)
    assert ok and not unit.exists()
    assert calls == [["systemctl", "daemon-reload"],
                     ["systemctl", "enable", "gunicorn-shop.test.service"],
                     ["systemctl", "stop", "gunicorn-shop.test.service"],
                     ["systemctl", "disable", "gunicorn-shop.test.service"],
                     ["systemctl", "reset-failed", "gunicorn-shop.test.service"],
                     ["systemctl", "daemon-reload"]]


def test_a_failed_daemon_reload_fails_the_install(prefix, commands, fake_users):
    commands[1]["daemon-reload"] = (1, "Failed to reload")
    rec = record(manager="systemd", manager_detail="g.service")
    assert managers.install(rec) == (False, "Failed to reload")


# ---- stopping and bringing back uWSGI -------------------------------------------------------

@pytest.fixture
def no_waits(monkeypatch):
    """Processes are gone as soon as asked; supervisorctl says STOPPED."""
    waited = []
    monkeypatch.setattr(processes, "wait_gone", lambda pid, timeout=None: waited.append(pid) or True)
    monkeypatch.setattr(supervisor_programs, "program_state", lambda prog: "STOPPED")
    return waited


def test_stop_uwsgi_under_supervisor_turns_autostart_off(prefix, commands, no_waits):
    program = prefix / "uwsgi_shop.ini"
    program.write_text("[program:uwsgi_shop]\ncommand=uwsgi --ini x\nautostart=true\n")
    ok, log = uwsgi_process.stop_uwsgi({"manager": "supervisor", "detail": "uwsgi_shop", "pid": 42,
                                        "program_file": str(program)})
    assert ok and log.endswith("\nstate: STOPPED")
    assert program.read_text() == "[program:uwsgi_shop]\ncommand=uwsgi --ini x\nautostart=false\nautorestart=false\n"
    assert [c[-2:] for c in commands[0]] == [["stop", "uwsgi_shop"], ["update", "uwsgi_shop"]]
    assert no_waits == [42]


def test_stop_uwsgi_of_a_vassal_takes_its_file_away(tmp_path, no_waits):
    vassal = tmp_path / "shop.ini"
    vassal.write_text("[uwsgi]\n")
    assert uwsgi_process.stop_uwsgi({"manager": "emperor", "config": str(vassal), "pid": 43}) == \
        (True, "removed vassal %s" % vassal)
    assert not vassal.exists() and no_waits == [43]


def test_stop_uwsgi_of_a_daemon_sends_sigint(monkeypatch, no_waits):
    sent = []
    monkeypatch.setattr(uwsgi_process, "os", os_with(kill=lambda pid, sig: sent.append((pid, sig))))
    assert uwsgi_process.stop_uwsgi({"manager": "daemon", "pid": 44}) == (True, "SIGINT 44")
    assert sent == [(44, signal.SIGINT)]

    def gone(pid, sig):
        raise ProcessLookupError(pid)
    monkeypatch.setattr(uwsgi_process, "os", os_with(kill=gone))
    assert uwsgi_process.stop_uwsgi({"manager": "panel_project", "pid": 45}) == (True, "already gone")


def test_start_uwsgi_decisions(monkeypatch, commands, fake_users):
    calls, _ = commands
    assert uwsgi_process.start_uwsgi({"manager": "emperor"}) == \
        (True, "vassal file restored: the Emperor starts it")
    assert uwsgi_process.start_uwsgi({"manager": "systemd", "detail": "u.service"}) == (True, "")
    assert calls == [["systemctl", "enable", "--now", "u.service"]]
    assert uwsgi_process.start_uwsgi({"manager": "daemon", "uid": None}) == \
        (False, "the uWSGI master's user was not recorded; start uWSGI by hand")


def test_start_uwsgi_as_a_daemon_runs_its_command_line_as_the_user_it_ran_as(monkeypatch, fake_users):
    spawned = []
    monkeypatch.setattr(host, "spawn", lambda argv, cwd, env, log, as_user=None:
                        spawned.append((argv, cwd, env, log, as_user)))
    handed = []
    monkeypatch.setattr(safe_files, "give_to", lambda p, owner: handed.append((p, owner)) or True)
    u = {"manager": "daemon", "uid": 1001, "cmdline": ["/v/bin/uwsgi", "--ini", "u.ini"], "cwd": "/p",
         "environ": {"VIRTUAL_ENV": "/v", "LD_PRELOAD": "x"}, "log_dir": "/logs", "logs": ["/p/uwsgi.log"]}
    ok, log = uwsgi_process.start_uwsgi(u)
    assert ok and log == "/v/bin/uwsgi --ini u.ini   (as alice)\nlog /p/uwsgi.log now belongs to alice"
    [(argv, cwd, env, out, who)] = spawned
    assert (argv, cwd, out, who.name) == (u["cmdline"], "/p", "/logs/uwsgi_restart.log", "alice")
    assert env == {"VIRTUAL_ENV": "/v", "PATH": host.SAFE_PATH, "HOME": "/home/alice"}
    assert handed == [("/p/uwsgi.log", (1001, 1001))]


# ---- Gunicorn under the plain daemon manager ------------------------------------------------

def test_start_and_stop_of_a_daemon_gunicorn(monkeypatch, fake_users):
    spawned, sent = [], []
    monkeypatch.setattr(host, "spawn", lambda argv, cwd, env, log, as_user=None:
                        spawned.append((argv, cwd, env, log, as_user.name)))
    pids = iter([None, 321])  # not running before, running after
    monkeypatch.setattr(managers, "gunicorn_pid", lambda rec: next(pids))
    monkeypatch.setattr(managers, "_wait_gunicorn", lambda rec, **kw: managers.gunicorn_pid(rec))
    rec = record(manager="daemon", manager_detail="shop.test", graceful_timeout=5)
    ok, log = managers.start(rec)
    assert ok and log == "/www/wwwroot/shop/venv/bin/gunicorn -c /www/wwwroot/shop/gunicorn_conf.py"
    assert spawned == [([rec["gunicorn_bin"], "-c", rec["gunicorn_conf"]], "/www/wwwroot/shop",
                        {"PATH": "/www/wwwroot/shop/venv/bin:/usr/bin:/bin", "HOME": "/home/www",
                         "USER": "www", "VIRTUAL_ENV": "/www/wwwroot/shop/venv"},
                        "/www/wwwlogs/python/shop.test/gunicorn_stdout.log", "www")]
    rec_project = record(manager="panel_project", manager_detail="shop.test")
    assert managers._run_env(rec_project)["BT_PYTHON_SERVICE_SID"] == managers.panel_project.sid("shop.test")

    monkeypatch.setattr(managers, "gunicorn_pid", lambda rec: 321)
    monkeypatch.setattr(managers, "os", os_with(kill=lambda pid, sig: sent.append((pid, sig))))
    waits = []
    monkeypatch.setattr(processes, "wait_gone", lambda pid, timeout=None: waits.append((pid, timeout)) or True)
    assert managers.stop(rec) == (True, "SIGTERM 321")
    assert sent == [(321, signal.SIGTERM)] and waits == [(321, 15.0)]
    assert managers.start(rec) == (True, "already running")


def test_gunicorn_pid_trusts_only_a_gunicorn_of_the_sites_user(tmp_path, monkeypatch, fake_users):
    pidfile = tmp_path / "g.pid"
    rec = record(pidfile=str(pidfile), user="alice")
    assert managers.gunicorn_pid(rec) is None  # no pidfile
    pidfile.write_text("555\n")
    procs = {555: FakeProc(555, ["gunicorn: master [shop]"], uid=1001)}

    def process(pid):
        if pid not in procs:
            raise managers.psutil.NoSuchProcess(pid)
        return procs[pid]
    monkeypatch.setattr(managers.psutil, "Process", process)
    assert managers.gunicorn_pid(rec) == 555
    procs[555] = FakeProc(555, ["gunicorn: master [shop]"], uid=1000)  # another user's
    assert managers.gunicorn_pid(rec) is None
    procs[555] = FakeProc(555, ["/usr/sbin/sshd"], uid=1001)  # not a Gunicorn
    assert managers.gunicorn_pid(rec) is None
    del procs[555]
    assert managers.gunicorn_pid(rec) is None
