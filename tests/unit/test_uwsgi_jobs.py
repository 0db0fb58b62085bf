"""uWSGI's crons, read as uWSGI reads them and turned into the panel's 计划任务."""
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "plugin"))

from gunicorn_switch_core import supervisor_programs, uwsgi_config, uwsgi_jobs, uwsgi_translate  # noqa: E402


def translate(tmp_path, body):
    ini = tmp_path / "u.ini"
    ini.write_text("[uwsgi]\nchdir = /srv/app\nmodule = a.wsgi\nenv = DJANGO_SETTINGS_MODULE=a.s\n"
                   + body)
    return uwsgi_translate.translate(uwsgi_config.load(str(ini)), {"site": "shop.test"})


@pytest.mark.parametrize("value,schedule,cycle", [
    ("-1 -1 -1 -1 -1 true", "* * * * *", {"type": "minute-n", "where1": "1"}),
    ("-5 -1 -1 -1 -1 true", "*/5 * * * *", {"type": "minute-n", "where1": "5"}),
    ("30 -1 -1 -1 -1 true", "30 * * * *", {"type": "hour"}),
    ("0 -3 -1 -1 -1 true", "0 */3 * * *", {"type": "hour-n", "where1": "3"}),
    ("59 2 -1 -1 -1 /usr/bin/backup --recursive", "59 2 * * *",
     {"type": "day", "where_hour": 2, "where_minute": 59}),
    ("9 11 -1 -1 2 /opt/send", "9 11 * * 2", {"type": "week", "where1": "2"}),
    ("0 5 1 -1 -1 x", "0 5 1 * *", {"type": "month", "where1": "1"}),
    ("0 5 -1 6 -1 x", "0 5 * 6 *", None),  # no panel cycle names a month
])
def test_cron_schedules_and_the_panel_cycle(value, schedule, cycle):
    job = uwsgi_jobs.parse_cron(value)
    assert uwsgi_jobs.schedule(job) == schedule
    got = uwsgi_jobs.panel_cycle(job)
    if cycle is None:
        assert got is None
    else:
        assert {k: got[k] for k in cycle} == cycle


def test_cron2_keys_default_to_every_value():
    job = uwsgi_jobs.parse_cron2("day=-5,harakiri=30,unique=1 /Kiwi/etc/analytics.sh --x")
    assert uwsgi_jobs.schedule(job) == "* * */5 * *"
    assert (job["unique"], job["harakiri"], job["command"]) == (True, 30, "/Kiwi/etc/analytics.sh --x")
    assert uwsgi_jobs.parse_cron2("minute=0,hour=5,unique=0 python m.py")["unique"] is False


@pytest.mark.parametrize("value", ["1 2 3 4 echo", "a -1 -1 -1 -1 echo", "61 -1 -1 -1 -1 x",
                                   "-1 -1 -1 13 -1 x"])
def test_what_uwsgi_refuses_is_a_warning_not_a_cron(tmp_path, value):
    tr = translate(tmp_path, "cron = %s\n" % value)
    assert [c for c in tr.carried if c["kind"] == "cron"] == []
    assert any("not carried over" in w["message"] for w in tr.warnings)


def test_every_cron_option_is_carried_with_its_command_user_env_and_lock(tmp_path):
    tr = translate(tmp_path, "cron = 0 -1 -1 -1 -1 python manage.py clearsessions\n"
                             "unique-cron = -15 -1 -1 -1 -1 ./sync.sh\n"
                             "cron2 = minute=30,hour=4,harakiri=60 ./nightly.sh\n"
                             "cron-harakiri = 600\n")
    jobs = [c["job"] for c in tr.carried if c["kind"] == "cron"]
    assert [c["option"] for c in tr.carried] == ["cron", "unique-cron", "cron2"]
    assert [(j["name"], j["schedule"], j["unique"], j["harakiri"]) for j in jobs] == [
        ("uWSGI cron: shop.test #1", "0 * * * *", False, 600),
        ("uWSGI cron: shop.test #2", "*/15 * * * *", True, 600),
        ("uWSGI cron: shop.test #3", "30 4 * * *", False, 60)]
    assert jobs[0]["command"] == "python manage.py clearsessions"
    assert all(j["cwd"] == "/srv/app" for j in jobs)
    assert jobs[0]["env"] == [["DJANGO_SETTINGS_MODULE", "a.s"]]
    # handled, not "unknown to this tool" and not the old "recreate it by hand"
    assert not [w for w in tr.warnings if "cron" in (w["option"] or "")]


def test_daemons_are_carried_and_what_cannot_be_is_said(tmp_path):
    tr = translate(tmp_path, "attach-daemon = celery -A a worker -l info\n"
                             "attach-daemon2 = cmd=./beat.sh,stopsignal=2\n"
                             "legacy-attach-daemon = ./old.sh\n"
                             "smart-attach-daemon = /tmp/memcached.pid memcached -d -P /tmp/memcached.pid\n"
                             "mule = tasks/mule.py\n"
                             "mule = 1\n"
                             "spooler = /srv/app/spool\n")
    jobs = [c["job"] for c in tr.carried if c["kind"] == "daemon"]
    assert [(j["command"], j["stopsignal"], j["cwd"], j.get("smart")) for j in jobs] == [
        ("celery -A a worker -l info", "TERM", "/srv/app", None),
        ("./beat.sh", "INT", "/srv/app", None),
        ("./old.sh", "TERM", "/srv/app", None),
        ("memcached -d -P /tmp/memcached.pid", "TERM", "/srv/app",
         {"pidfile": "/tmp/memcached.pid", "freq": 10, "mode": "self", "notify": None}),
        ("python3 tasks/mule.py", "TERM", "/srv/app", None)]
    assert jobs[0]["env"] == [["DJANGO_SETTINGS_MODULE", "a.s"]]
    text = " | ".join(w["message"] for w in tr.warnings)
    assert "not carried" not in text
    assert "mule without a script" in text and "uwsgi.mule_get_msg" in text
    assert "spooler" in text


def test_smart_daemons_keep_their_pidfile_as_uwsgi_reads_it(tmp_path):
    """core/daemons.c uwsgi_opt_add_daemon and uwsgi_opt_add_daemon2: '<pidfile>[,freq] cmd';
    smart-attach-daemon2 and daemonize= mean uWSGI writes the pidfile (the command stays in
    the foreground); notifypid= sends stopsignal when the master stops; a relative pidfile is
    the master's working directory's."""
    tr = translate(tmp_path, "smart-attach-daemon2 = run/w.pid,3 python w.py --x 1\n"
                             "attach-daemon2 = cmd=a\\,b.sh,pidfile=/p/b.pid,daemonize=,"
                             "notifypid=1,stopsignal=2,freq=x,chdir=sub,uid=33,touch=/t\n"
                             "attach-daemon2 = exec=first,stop_signal=3,command=second\n"
                             "smart-attach-daemon = nospace\n"
                             "attach-daemon2 = pidfile=/x.pid\n"
                             "attach-daemon2 = cmd=x,stopsignal=7\n")
    jobs = [c["job"] for c in tr.carried if c["kind"] == "daemon"]
    assert [(j["command"], j["cwd"], j["stopsignal"], j.get("smart")) for j in jobs] == [
        ("python w.py --x 1", "/srv/app", "TERM",
         {"pidfile": "/srv/app/run/w.pid", "freq": 3, "mode": "fg", "notify": None}),
        ("a,b.sh", "/srv/app/sub", "INT",
         {"pidfile": "/p/b.pid", "freq": 0, "mode": "fg", "notify": "INT"}),
        ("second", "/srv/app", "QUIT", None)]
    text = " | ".join(w["message"] for w in tr.warnings)
    assert "uid= is not carried over: the daemon runs as the site's user" in text
    assert "touch= is not carried over" in text
    assert "smart-attach-daemon = nospace: expected '<pidfile>[,freq] <command>'" in text
    assert "attach-daemon2 = pidfile=/x.pid: no command=" in text
    assert "stopsignal=7 is not one the plugin maps" in text
    assert [c["detail"] for c in tr.carried if c["kind"] == "daemon"][1].endswith(
        "which then sends it SIGINT)")


def test_a_daemon_program_runs_the_command_through_sh_as_the_site_user():
    from gunicorn_switch_core import daemons, host, safe_text
    user = host.User("root" if not _has("www") else "www")
    job = {"n": 1, "name": "uWSGI daemon: s #1", "command": "celery -A a worker --x=100%",
           "cwd": "/srv/app", "stopsignal": "INT", "env": [["K", "v w"]]}
    text = daemons.supervisor_text(job, "gunicorn_s_daemon1", user, "s", "/l/daemon1.log")
    assert "command=/bin/sh -c 'celery -A a worker --x=100%%'\n" in text
    assert "stopsignal=INT\n" in text and "stopasgroup=true\n" in text
    assert "user=%s\n" % user.name in text and ',K="v w"' in text
    for bad in ("a ; b", "a # b", 'say "hi"'):
        with pytest.raises(safe_text.UnsafeText):
            daemons.supervisor_text(dict(job, command=bad), "p", user, "s", "/l/d.log")
    with pytest.raises(safe_text.UnsafeText):
        supervisor_programs.supervisor_value("x\ny", "env")


def test_a_smart_daemon_program_runs_the_watcher_with_its_arguments_intact():
    """Supervisor reads command= with %-expansion, then shlex: the watcher's script and each
    argument come back as they were; only the watcher gets the stop (no group signals)."""
    import shlex
    from gunicorn_switch_core import daemons, host
    user = host.User("root" if not _has("www") else "www")
    smart = {"pidfile": "/srv/app/run/w.pid", "freq": 3, "mode": "fg", "notify": "INT"}
    job = {"n": 2, "name": "uWSGI daemon: s #2", "command": "python w.py --rate=50%",
           "cwd": "/srv/app", "stopsignal": "INT", "env": [], "smart": smart}
    text = daemons.supervisor_text(job, "gunicorn_s_daemon2", user, "s", "/l/daemon2.log")
    command = [ln for ln in text.splitlines() if ln.startswith("command=")][0][len("command="):]
    assert shlex.split(command.replace("%%", "%")) == [
        "/bin/sh", "-c", daemons.WATCH, "gunicorn_switch-daemon:s#2", "/srv/app/run/w.pid",
        "python w.py --rate=50%", "3", "fg", "INT", "/l/daemon2.log", "-"]
    assert "stopsignal=TERM\n" in text and "stopasgroup=false\n" in text and \
        "killasgroup=false\n" in text


def test_a_daemon_unit_quotes_each_word_for_systemd():
    from gunicorn_switch_core import daemons, safe_text
    name = "root" if not _has("www") else "www"
    job = {"n": 1, "name": "uWSGI daemon: s #1", "command": 'echo "$HOME" 50% \\n',
           "cwd": "/srv/app", "stopsignal": "INT", "env": [["K", 'a "b" $c%']]}
    rec = {"site": "s.test", "user": name, "log_dir": "/l"}
    text = daemons.unit_text(job, rec, "/l/daemon1.log")
    assert 'ExecStart="/bin/sh" "-c" "echo \\"$$HOME\\" 50%% \\\\n"\n' in text
    assert 'Environment="K=a \\"b\\" $c%%"\n' in text
    assert "User=%s\n" % name in text and "WorkingDirectory=/srv/app\n" in text
    assert "KillSignal=SIGINT\n" in text and "Restart=always\n" in text
    smart = daemons.unit_text(dict(job, smart={"pidfile": "/p", "freq": 10, "mode": "self",
                                               "notify": None}), rec, "/l/d.log")
    assert "KillMode=process\n" in smart and "KillSignal" not in smart
    with pytest.raises(safe_text.UnsafeText):
        daemons.unit_text(dict(job, command="a\nb"), rec, "/l/d.log")


def _has(name):
    import pwd
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def test_an_import_of_uwsgi_that_runs_when_the_module_loads_is_a_blocker(tmp_path):
    from gunicorn_switch_core import django_detect
    (tmp_path / "loads.py").write_text("import os\nif os.name:\n    import uwsgi\n")
    (tmp_path / "guarded.py").write_text("try:\n    import uwsgi\nexcept ImportError:\n"
                                         "    uwsgi = None\n")
    (tmp_path / "lazy.py").write_text("def f():\n    from uwsgidecorators import timer\n")
    (tmp_path / "cls.py").write_text("class A:\n    import uwsgidecorators\n")
    at_import = []
    found = django_detect.scan_uwsgi_imports(str(tmp_path), at_import)
    assert sorted(os.path.basename(f) for f in found) == [
        "cls.py:2", "guarded.py:2", "lazy.py:2", "loads.py:3"]
    assert sorted(os.path.basename(f) for f in at_import) == ["cls.py:2", "loads.py:3"]
    ini = tmp_path / "u.ini"
    ini.write_text("[uwsgi]\nchdir = %s\nmodule = a.wsgi\n" % tmp_path)
    tr = uwsgi_translate.translate(uwsgi_config.load(str(ini)), {"site": "a"},
                                   django={"uwsgi_imports": found, "uwsgi_imports_at_import": at_import})
    assert sorted(b["origin"] for b in tr.blockers) == sorted(at_import)
    assert len([w for w in tr.warnings if w["option"] == "import uwsgi"]) == 4
