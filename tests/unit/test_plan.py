"""plan's decisions with the host layer faked (tests/unit/host_fakes.py): the page's options,
whom Gunicorn runs as, who runs pip in a venv, which uWSGI master is trusted, which manager,
where the runtime lives, and the refusals make_plan makes before it reads anything else."""
import socket
import stat

import pytest

from gunicorn_switch_core import i18n, nginx_tokens, plan
from tests.unit.host_fakes import FakeUser, os_with, stat_result

pytestmark = pytest.mark.usefixtures("english")


# ---- the page's options ---------------------------------------------------------------------

def test_no_options_mean_as_uwsgi_ran_over_tcp():
    assert plan.parse_options({}) == {
        "workers": None, "threads": None, "timeout": None, "worker_class": None,
        "bind": "tcp", "access_log": None, "manager": None, "user": None}


def test_options_are_read_from_the_panels_strings():
    opts = plan.parse_options({"workers": " 4 ", "threads": "2", "timeout": "86400",
                               "worker_class": "gthread", "bind": "unix", "access_log": "off",
                               "manager": "daemon", "workers_extra": "ignored"})
    assert opts == {"workers": 4, "threads": 2, "timeout": 86400, "worker_class": "gthread",
                    "bind": "unix", "access_log": "off", "manager": "daemon", "user": None}
    assert plan.parse_options({"workers": "", "worker_class": ""})["workers"] is None


@pytest.mark.parametrize("options, message", [
    ({"workers": "0"}, "workers must be between 1 and 256"),
    ({"workers": "257"}, "workers must be between 1 and 256"),
    ({"threads": "3.5"}, "threads must be a whole number, not '3.5'"),
    ({"timeout": "86401"}, "timeout must be between 1 and 86400"),
    ({"workers": "9" * 40}, "workers must be between 1 and 256"),
    ({"worker_class": "eventlet"}, "worker_class must be one of: sync, gthread, gevent, asgi, "
                                   "uvicorn_worker.UvicornWorker"),
    ({"bind": "udp"}, "bind must be one of: tcp, unix"),
    ({"access_log": "yes"}, "access_log must be one of: on, off"),
    ({"manager": "cron"}, "manager must be one of: supervisor, panel_project, systemd, daemon"),
])
def test_bad_options_are_refused_saying_which(options, message):
    with pytest.raises(plan.PlanError) as e:
        plan.parse_options(options)
    assert str(e.value) == message


def test_a_long_bad_number_is_quoted_short():
    with pytest.raises(plan.PlanError) as e:
        plan.parse_options({"workers": "x" * 100})
    assert str(e.value) == "workers must be a whole number, not %r" % ("x" * 20)


# ---- whom Gunicorn runs as ------------------------------------------------------------------

@pytest.mark.parametrize("name, message", [
    ("Alice", "Invalid user name: Alice"),
    ("a b", "Invalid user name: a b"),
    ("x" * 40, "Invalid user name: " + "x" * 32),
    ("bob", "User bob does not exist on this server"),
    ("root", "Gunicorn workers must not run as root"),
    ("toor", "Gunicorn workers must not run as root"),  # another name of uid 0
])
def test_check_user_refuses(fake_users, name, message):
    with pytest.raises(plan.PlanError) as e:
        plan.check_user(name)
    assert str(e.value) == message


def test_check_user_gives_the_user(fake_users):
    who = plan.check_user("alice")
    assert (who.name, who.uid) == ("alice", 1001)


class Cfg(object):
    """A uWSGI config as site_user reads it: value(key)."""

    def __init__(self, **values):
        self.values = values

    def value(self, *keys):
        return next((self.values[k] for k in keys if k in self.values), None)


@pytest.mark.parametrize("options, cfg, master, who, warned", [
    ({"user": "alice"}, Cfg(uid="www"), {"worker_uid": 1000}, "alice", False),  # asked for
    ({}, Cfg(uid="alice"), {"worker_uid": 1000}, "alice", False),  # uid= by name wins
    ({}, Cfg(uid="1001"), {"worker_uid": 0}, "alice", False),  # uid= by number
    ({}, Cfg(uid=" 1001 "), {"worker_uid": 0}, "alice", False),
    ({}, Cfg(uid="root"), {"worker_uid": 1001}, "alice", False),  # root: the workers' uid
    ({}, Cfg(uid="nobody-here"), {"worker_uid": 1001}, "alice", False),
    ({}, Cfg(), {"worker_uid": 1001}, "alice", False),
    ({}, None, {"worker_uid": 1000}, "www", False),
    ({}, Cfg(uid="0"), {"worker_uid": 0}, "www", True),  # ran as root: www, and a warning
    ({}, None, {"worker_uid": None}, "www", True),
    ({}, None, {"worker_uid": 4242}, "www", True),  # a uid with no name
])
def test_site_user(fake_users, options, cfg, master, who, warned):
    user, warning = plan.site_user(plan.parse_options(options), cfg, master)
    assert user.name == who
    if warned:
        assert warning == i18n.t("ran_as_root", user="www")
    else:
        assert warning is None


def test_site_user_never_gives_root_by_another_name(fake_users):
    for options, cfg in (({"user": "toor"}, None), ({}, Cfg(uid="toor"))):
        with pytest.raises(plan.PlanError) as e:
            plan.site_user(plan.parse_options(options), cfg, {"worker_uid": 1000})
        assert str(e.value) == "Gunicorn workers must not run as root"


# ---- who runs pip in a venv -----------------------------------------------------------------

@pytest.fixture
def venvs(tmp_path, monkeypatch):
    """A panel venv place and a project under tmp_path; stat answers come from ``owners``
    ({path: stat_result}), root-owned 0755 directories otherwise."""
    places = tmp_path / "pyenvs"
    (places / "v" / "bin").mkdir(parents=True)
    (places / "v" / "lib").mkdir()
    (places / "v" / "bin" / "python").write_text("")
    (tmp_path / "proj" / "venv").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.setattr(plan, "VENV_PLACES", (str(places),))
    owners = {}

    def fake_stat(path, *a, **kw):
        return owners.get(str(path), stat_result())

    monkeypatch.setattr(plan, "os", os_with(stat=fake_stat, lstat=fake_stat))
    return tmp_path, owners


def test_a_venv_outside_the_panels_places_and_the_project_is_refused(venvs, fake_users):
    tmp, _ = venvs
    with pytest.raises(plan.PlanError) as e:
        plan.venv_runner(str(tmp / "elsewhere"), FakeUser("www"), str(tmp / "proj"), True)
    assert str(e.value) == i18n.t("venv_place", venv=str(tmp / "elsewhere"), places=str(tmp / "pyenvs"))


def test_the_site_users_venv_is_run_by_the_site_user(venvs, fake_users):
    tmp, owners = venvs
    owners[str(tmp / "proj" / "venv")] = stat_result(uid=1001)
    assert plan.venv_runner(str(tmp / "proj" / "venv"), FakeUser("alice"), str(tmp / "proj"),
                            True) == "alice"


def test_someone_elses_venv_is_refused(venvs, fake_users):
    tmp, owners = venvs
    owners[str(tmp / "pyenvs" / "v")] = stat_result(uid=1000)
    with pytest.raises(plan.PlanError) as e:
        plan.venv_runner(str(tmp / "pyenvs" / "v"), FakeUser("alice"), str(tmp / "proj"), True)
    assert str(e.value) == i18n.t("venv_owner", venv=str(tmp / "pyenvs" / "v"), owner=1000, user="alice")


def test_a_root_venv_is_run_by_root_when_nobody_else_can_change_it(venvs, fake_users):
    tmp, owners = venvs
    v = tmp / "pyenvs" / "v"
    owners[str(v / "bin" / "python")] = stat_result(mode=0o777, kind=stat.S_IFLNK)  # a link
    assert plan.venv_runner(str(v), FakeUser("www"), str(tmp / "proj"), True) == "root"


@pytest.mark.parametrize("what, st", [
    ("bin/python", stat_result(mode=0o666, kind=stat.S_IFREG)),  # world-writable
    ("lib", stat_result(mode=0o775)),  # group-writable
    ("lib", stat_result(uid=1000)),  # someone else's
    ("", stat_result(mode=0o757)),  # the venv itself
])
def test_a_root_venv_someone_else_can_change_is_refused_for_pip(venvs, fake_users, what, st):
    tmp, owners = venvs
    v = tmp / "pyenvs" / "v"
    bad = str(v / what) if what else str(v)
    owners[bad] = st
    with pytest.raises(plan.PlanError) as e:
        plan.venv_runner(str(v), FakeUser("www"), str(tmp / "proj"), True)
    assert str(e.value) == i18n.t("venv_root_writable", venv=str(v), path=bad)
    # without pip to install nothing is run from it as root: no walk
    assert plan.venv_runner(str(v), FakeUser("www"), str(tmp / "proj"), False) == "root"


def test_a_huge_root_venv_is_not_walked_past_the_limit(tmp_path, monkeypatch):
    for i in range(5):
        (tmp_path / ("f%d" % i)).write_text("")
    monkeypatch.setattr(plan, "os", os_with(lstat=lambda p: stat_result()))
    assert plan._others_can_write(str(tmp_path), limit=3) == \
        str(tmp_path) + " (over 3 files: not checked)"
    assert plan._others_can_write(str(tmp_path)) is None


def test_inside_is_by_path_component():
    assert plan._inside("/www/wwwroot/a", ["/www/wwwroot"])
    assert plan._inside("/www/wwwroot", ["/www/wwwroot"])
    assert plan._inside("/www/wwwroot/a", ["/www/wwwroot/"])
    assert not plan._inside("/www/wwwroot2/a", ["/www/wwwroot"])
    assert not plan._inside("/www", ["/www/wwwroot"])


# ---- which uWSGI master is trusted ----------------------------------------------------------

@pytest.mark.parametrize("uid, exe, root_only, trusted", [
    (1000, "VENV/bin/uwsgi", False, True),  # the site's user, the venv's uwsgi
    (0, "VENV/bin/uwsgi", False, True),  # root, the venv's uwsgi
    (0, "/usr/bin/uwsgi", True, True),  # root, a binary only root can change
    (1000, "/usr/bin/uwsgi", True, True),
    (1000, "/home/www/uwsgi", False, False),  # a binary the site's user could have put there
    (1001, "VENV/bin/uwsgi", False, False),  # someone else
    (1000, "", True, False),  # no executable known
    (None, "/usr/bin/uwsgi", True, False),
])
def test_check_master(tmp_path, monkeypatch, fake_users, uid, exe, root_only, trusted):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "uwsgi").write_text("")
    monkeypatch.setattr(plan.safe_files, "root_only", lambda p: root_only)
    master = {"pid": 77, "uid": uid, "exe": exe.replace("VENV", str(venv)), "username": "x"}
    if trusted:
        plan.check_master(master, str(venv), FakeUser("www"))
    else:
        with pytest.raises(plan.PlanError) as e:
            plan.check_master(master, str(venv), FakeUser("www"))
        assert "77" in str(e.value) and (exe.replace("VENV", str(venv)) or "?") in str(e.value)


# ---- which manager, where, which port -------------------------------------------------------

@pytest.fixture
def prefix(tmp_path, monkeypatch):
    monkeypatch.setenv("GUNICORN_SWITCH_ROOT", str(tmp_path))
    return tmp_path


def supervisor(prefix):
    d = prefix / "www/server/panel/plugin/supervisor"
    d.mkdir(parents=True)
    (d / "info.json").write_text("{}")


@pytest.mark.parametrize("installed, site_manager, requested, chosen", [
    (True, "daemon", None, "supervisor"),
    (False, "daemon", None, "daemon"),
    (False, "emperor", None, "daemon"),
    (True, "supervisor", None, "supervisor"),
    (False, "supervisor", None, "daemon"),  # uWSGI's Supervisor is gone: a daemon
    (True, "panel_project", None, "panel_project"),
    (True, "systemd", None, "systemd"),
    (True, "systemd", "supervisor", "supervisor"),
    (False, "daemon", "daemon", "daemon"),
    (False, "panel_project", "panel_project", "panel_project"),
    (False, "systemd", "systemd", "systemd"),
])
def test_choose_manager(prefix, installed, site_manager, requested, chosen):
    if installed:
        supervisor(prefix)
    assert plan.supervisor_installed() is installed
    assert plan.choose_manager({"manager": site_manager}, requested) == chosen


@pytest.mark.parametrize("site_manager, requested, message", [
    ("daemon", "supervisor", "The Supervisor plugin is not installed"),
    ("supervisor", "panel_project", i18n.MESSAGES["not_project"][1]),
    ("daemon", "systemd", "manager must be one of: supervisor, panel_project, daemon"),
])
def test_choose_manager_refuses(prefix, site_manager, requested, message):
    with pytest.raises(plan.PlanError) as e:
        plan.choose_manager({"manager": site_manager}, requested)
    assert str(e.value) == message


def test_runtime_and_log_dirs_are_under_the_prefix(prefix, monkeypatch):
    assert plan.runtime_dir("shop.test") == str(prefix / "run/gunicorn_switch/shop.test")
    assert plan.log_dir({"site": "shop.test"}) == str(prefix / "www/wwwlogs/python/shop.test")
    monkeypatch.delenv("GUNICORN_SWITCH_ROOT")
    assert plan.runtime_dir("shop.test") == "/run/gunicorn_switch/shop.test"


def test_free_port_is_a_loopback_port_nobody_holds():
    port = plan.free_port()
    assert 1024 <= port <= 65535
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_installed_gunicorn_is_read_from_the_dist_info(tmp_path):
    assert plan.installed_gunicorn(str(tmp_path)) is None
    sp = tmp_path / "lib" / "python3.11" / "site-packages"
    (sp / "gunicorn_extra-1.0.dist-info").mkdir(parents=True)
    assert plan.installed_gunicorn(str(tmp_path)) is None
    (sp / "gunicorn-23.0.0.dist-info").mkdir()
    assert plan.installed_gunicorn(str(tmp_path)) == "23.0.0"


# ---- what plan reads from the site's nginx --------------------------------------------------

def tree(*texts):
    return [("/v%d.conf" % i, nginx_tokens.parse(t.encode())) for i, t in enumerate(texts)]


@pytest.mark.parametrize("texts, seconds", [
    (["server { location / { uwsgi_read_timeout 75; } }"], 75),
    (["server { uwsgi_read_timeout 2m; }"], 120),
    (["server { uwsgi_read_timeout 1h; }", "server { uwsgi_read_timeout 30s; }"], 30),  # last
    (["server { uwsgi_read_timeout 1d; proxy_read_timeout 9; }"], None),
    (["server { listen 80; }"], None),
])
def test_nginx_read_timeout(texts, seconds):
    assert plan.nginx_read_timeout(tree(*texts)) == seconds


@pytest.mark.parametrize("text, addr", [
    ("server { listen 443 ssl; listen 8080; }", "127.0.0.1:8080"),
    ("server { listen [::]:81; }", "127.0.0.1:81"),
    ("server { listen *:82 default_server; }", "127.0.0.1:82"),
    ("server { listen 10.0.0.2:83; }", "10.0.0.2:83"),
    ("server { listen 443 quic; listen unix:/x.sock; }", "127.0.0.1:80"),
    ("server { server_name a; }", "127.0.0.1:80"),
])
def test_nginx_listen(text, addr):
    assert plan.nginx_listen(tree(text)) == addr


@pytest.mark.parametrize("upstream, ports", [
    (None, []), ("", []), ("127.0.0.1:8001", [8001]), ("unix:/run/x.sock", []),
    ("backend -> 127.0.0.1:8001, 127.0.0.1:8002", [8001, 8002]),
])
def test_upstream_ports(upstream, ports):
    assert plan.upstream_ports(upstream) == ports


# ---- refusals before anything is read -------------------------------------------------------

def site(**kw):
    base = {"site": "shop.test", "server": "uwsgi", "pid": 10, "venv": None, "manager": "daemon"}
    base.update(kw)
    return base


@pytest.mark.parametrize("found, message", [
    ((site(server="gunicorn"), None, []), "shop.test already runs on Gunicorn"),
    ((site(server="stopped", pid=None), None, []), "shop.test has no running uWSGI"),
    ((site(), None, []), "shop.test has no running uWSGI"),
    ((site(venv="/nonexistent/venv"), {"pid": 10}, []), "Cannot find the virtualenv of shop.test"),
    ((site(venv="VENV"), {"pid": 10, "uwsgi": None, "problems": ["no such file x.ini"]}, []),
     "Cannot read the uWSGI config of shop.test: no such file x.ini"),
])
def test_make_plan_refuses_early(tmp_path, monkeypatch, found, message):
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "python").write_text("")
    s, master, t = found
    if s["venv"] == "VENV":
        s["venv"] = str(tmp_path)
    monkeypatch.setattr(plan, "site_facts", lambda name, facts=None: (s, master, t))
    with pytest.raises(plan.PlanError) as e:
        plan.make_plan("shop.test", {})
    assert str(e.value).startswith(message)


def test_site_facts_matches_the_site_with_its_master_and_tree(monkeypatch):
    facts = {"masters": [{"pid": 10, "kind": "uwsgi"}, {"pid": 11, "kind": "uwsgi"}],
             "sites": [{"name": "a.test", "tree": ["A"]}, {"name": "b.test", "tree": ["B"]}]}
    monkeypatch.setattr(plan.discover, "build_sites", lambda f: [
        {"site": "a.test", "pid": 10}, {"site": "b.test", "pid": None}])
    monkeypatch.setattr(plan.discover, "gather", lambda: pytest.fail("facts were given"))
    assert plan.site_facts("a.test", facts) == ({"site": "a.test", "pid": 10},
                                                {"pid": 10, "kind": "uwsgi"}, ["A"])
    assert plan.site_facts("b.test", facts) == ({"site": "b.test", "pid": None}, None, ["B"])
    with pytest.raises(plan.PlanError) as e:
        plan.site_facts("c.test", facts)
    assert str(e.value) == "No such Python site in the panel: c.test"
