"""discover with the host layer faked: running masters matched to the panel's sites through
their nginx files (addresses, upstream names, the panel's process marker), how each master
is run, where its project and venv are, and what gather() reads under the prefix."""
import psutil
import pytest

from gunicorn_switch_core import discover, nginx_tokens, nginx_view, panel_project
from tests.unit.host_fakes import FakeProc


class Cfg(object):
    """A uWSGI config as discovery reads it: its files and value(*keys)."""

    def __init__(self, files=(), **values):
        self.files = list(files)
        self.values = values

    def value(self, *keys):
        return next((self.values[k] for k in keys if k in self.values), None)


def site(name, nginx=None, project_type="PHP", project_config=None, path=None):
    """A row of the panel's sites table as gather() leaves it (vhost and tree added)."""
    vhost = "/vhost/%s.conf" % name if nginx else None
    return {"id": 1, "name": name, "path": path or "/www/wwwroot/" + name,
            "project_type": project_type, "project_config": project_config or {},
            "domains": [name], "vhost": vhost, "nginx_problems": [],
            "tree": [(vhost, nginx_tokens.parse(nginx.encode()))] if nginx else []}


def master(pid, listen=(), kind="uwsgi", environ=None, parent=None, unit=None, exe="", cfg=None):
    return {"pid": pid, "kind": kind, "listen": list(listen), "environ": environ or {},
            "parent": parent, "unit": unit, "exe": exe, "uwsgi": cfg, "cmdline": ["uwsgi"]}


def facts(sites, masters, managed=None, extra_trees=()):
    return {"sites": sites, "masters": masters, "managed": managed or {},
            "upstreams": nginx_view.upstreams([s["tree"] for s in sites] + list(extra_trees))}


def by_site(out):
    return {s["site"]: s for s in out}


# ---- matching masters to sites --------------------------------------------------------------

def test_a_uwsgi_pass_finds_the_master_listening_there():
    shop = site("shop.test", "server { location / { uwsgi_pass 127.0.0.1:8001; include uwsgi_params; } }")
    other = master(20, ["127.0.0.1:9000"])
    uw = master(21, ["0.0.0.0:8001"], cfg=Cfg(["/www/wwwroot/shop/uwsgi.ini"], chdir="/www/wwwroot/shop/"))
    [s] = discover.build_sites(facts([shop], [other, uw]))
    assert (s["site"], s["server"], s["pid"], s["listen"]) == ("shop.test", "uwsgi", 21, ["0.0.0.0:8001"])
    assert (s["upstream"], s["pass_directive"]) == ("127.0.0.1:8001", "uwsgi_pass")
    assert (s["uwsgi_config"], s["project_path"]) == ("/www/wwwroot/shop/uwsgi.ini", "/www/wwwroot/shop")
    assert s["nginx_conf"] == "/vhost/shop.test.conf" and s["nginx_files"] == ["/vhost/shop.test.conf"]
    assert (s["manager"], s["manager_detail"], s["managed_by_plugin"]) == ("daemon", None, False)


def test_an_upstream_name_stands_for_its_servers():
    blog = site("blog.test", "server { location / { uwsgi_pass blog_up; } }")
    http = [("/nginx.conf", nginx_tokens.parse(
        b"upstream blog_up { server 127.0.0.1:8101; server localhost:8102; }"))]
    uw = master(30, ["127.0.0.1:8102"])
    [s] = discover.build_sites(facts([blog], [uw], extra_trees=[http]))
    assert s["pid"] == 30
    assert s["upstream"] == "blog_up -> 127.0.0.1:8101, 127.0.0.1:8102"


def test_a_unix_socket_matches_only_the_same_path():
    api = site("api.test", "server { location / { uwsgi_pass unix:/tmp/api.sock; } }")
    masters = [master(40, ["unix:/tmp/other.sock"]), master(41, ["unix:/tmp/api.sock"])]
    assert discover.build_sites(facts([api], masters))[0]["pid"] == 41
    assert discover.build_sites(facts([api], masters[:1]))[0]["server"] == "stopped"


def test_a_loopback_master_does_not_answer_another_address():
    s = site("x.test", "server { location / { uwsgi_pass 10.0.0.5:8001; } }")
    [out] = discover.build_sites(facts([s], [master(50, ["127.0.0.1:8001"])]))
    assert (out["server"], out["pid"], out["listen"]) == ("stopped", None, [])


def test_a_panel_project_is_found_by_the_panels_marker_without_nginx():
    proj = site("proj", project_type="Python", project_config={"path": "/www/wwwroot/proj",
                                                               "vpath": "/www/server/pyporject_evn/proj_venv"})
    uw = master(60, ["127.0.0.1:8200"], environ={"BT_PYTHON_SERVICE_SID": panel_project.sid("proj")},
                cfg=Cfg(["/www/wwwroot/proj/uwsgi.ini"], home="/elsewhere/venv"))
    [s] = discover.build_sites(facts([proj], [master(61, ["127.0.0.1:8200"]), uw]))
    assert s["pid"] == 60  # the marker, not the first master on the port
    assert (s["manager"], s["manager_detail"]) == ("panel_project", "proj")
    # the panel's record of the venv outranks home= of a config the site's user can write
    assert s["venv"] == "/www/server/pyporject_evn/proj_venv"
    assert s["upstream"] is None and s["pass_directive"] is None


def test_php_and_static_sites_are_left_out():
    php = site("php.test", "server { location ~ \\.php$ { fastcgi_pass unix:/tmp/php.sock; } }")
    plain = site("static.test", "server { root /www/wwwroot/static; }")
    node = site("node.test", "server { location / { proxy_pass http://127.0.0.1:3000; } }")
    assert discover.build_sites(facts([php, plain, node], [master(70, ["127.0.0.1:9999"])])) == []


def test_a_proxy_pass_to_a_running_gunicorn_is_found():
    s = site("g.test", "server { location / { proxy_pass http://127.0.0.1:8300/; } }")
    [out] = discover.build_sites(facts([s], [master(80, ["127.0.0.1:8300"], kind="gunicorn")]))
    assert (out["server"], out["pass_directive"], out["upstream"]) == \
        ("gunicorn", "proxy_pass", "http://127.0.0.1:8300/")


def test_a_stopped_site_the_plugin_switched_keeps_its_recorded_venv_and_manager():
    s = site("gone.test", "server { location / { proxy_pass http://127.0.0.1:8400; } }")
    managed = {"gone.test": {"venv": "/www/wwwroot/gone/venv", "manager": "supervisor"}}
    [out] = discover.build_sites(facts([s], [], managed=managed))
    assert (out["server"], out["venv"], out["manager"], out["managed_by_plugin"]) == \
        ("stopped", "/www/wwwroot/gone/venv", "supervisor", True)


def test_a_stopped_panel_project_reads_its_uwsgi_ini():
    s = site("p2", project_type="Python")
    s["stopped_uwsgi"] = Cfg(["/www/wwwroot/p2/conf/uwsgi.ini"], virtualenv="/www/wwwroot/p2/venv/")
    [out] = discover.build_sites(facts([s], []))
    assert (out["server"], out["manager"], out["manager_detail"]) == ("stopped", "panel_project", "p2")
    assert (out["uwsgi_config"], out["project_path"], out["venv"]) == \
        ("/www/wwwroot/p2/conf/uwsgi.ini", "/www/wwwroot/p2/conf", "/www/wwwroot/p2/venv")


def test_the_venv_comes_from_the_masters_environment_or_its_executable(tmp_path):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\nversion = 3.11.2\n")
    s = site("v.test", "server { location / { uwsgi_pass 127.0.0.1:8500; } }")
    by_env = master(90, ["127.0.0.1:8500"], environ={"VIRTUAL_ENV": str(venv)}, exe="/usr/bin/uwsgi")
    by_exe = master(91, ["127.0.0.1:8500"], exe=str(venv / "bin" / "uwsgi"))
    nothing = master(92, ["127.0.0.1:8500"], exe="/usr/bin/uwsgi")
    for m, want, python in ((by_env, str(venv), "3.11.2"), (by_exe, str(venv), "3.11.2"),
                            (nothing, None, None)):
        [out] = discover.build_sites(facts([s], [m]))
        assert (out["venv"], out["python"]) == (want, python)


def test_problems_of_nginx_and_of_the_master_are_reported():
    s = site("bad.test", "server { location / { uwsgi_pass 127.0.0.1:8600; } }")
    s["nginx_problems"] = [("/vhost/inc.conf", "unexpected }")]
    m = master(95, ["127.0.0.1:8600"])
    m["problems"] = ["cannot read /x.ini"]
    assert discover.build_sites(facts([s], [m]))[0]["problems"] == ["unexpected }", "cannot read /x.ini"]


# ---- how a master is run --------------------------------------------------------------------

@pytest.mark.parametrize("m, project_type, managed_by", [
    (master(1, parent={"cmdline": ["/usr/bin/python3", "/usr/bin/supervisord", "-c", "x"]}), "PHP",
     ("supervisor", None)),
    (master(1, environ={"SUPERVISOR_PROCESS_NAME": "shop"}), "PHP", ("supervisor", "shop")),
    (master(1, environ={"BT_PYTHON_SERVICE_SID": "abc"}), "PHP", ("panel_project", "s")),
    (master(1), "Python", ("panel_project", "s")),
    (master(1, environ={"UWSGI_EMPEROR_FD": "3"}, unit="uwsgi-emperor.service",
            parent={"cmdline": ["uwsgi", "--emperor", "/etc/uwsgi/vassals"]}), "PHP",
     ("emperor", "uwsgi --emperor /etc/uwsgi/vassals")),
    (master(1, unit="shop-uwsgi.service"), "PHP", ("systemd", "shop-uwsgi.service")),
    (master(1, parent={"cmdline": ["/sbin/init"]}), "PHP", ("daemon", None)),
])
def test_how_a_master_is_run(m, project_type, managed_by):
    assert discover._manager(m, {"name": "s", "project_type": project_type}) == managed_by


# ---- where the project and venv are ---------------------------------------------------------

@pytest.mark.parametrize("cfg, project_config, want", [
    (None, {}, (None, "/www/wwwroot/s", None)),
    (None, {"path": "/p", "vpath": "/p/venv"}, (None, "/p", "/p/venv")),
    (Cfg(["<cmdline>", "/etc/u/s.ini"]), {}, ("/etc/u/s.ini", "/etc/u", None)),
    (Cfg(["/etc/u/s.ini"], chdir="/srv/app/", venv="/srv/venv/"), {}, ("/etc/u/s.ini", "/srv/app", "/srv/venv")),
    (Cfg([], chdir="/"), {}, (None, "/", None)),
    (Cfg(["/etc/u/s.ini"], pyhome="/srv/v"), {"vpath": "/panel/v"}, ("/etc/u/s.ini", "/etc/u", "/panel/v")),
])
def test_config_facts(cfg, project_config, want):
    out = discover._config_facts(cfg, {"project_config": project_config, "path": "/www/wwwroot/s"})
    assert (out["uwsgi_config"], out["project_path"], out["venv"]) == want


def test_read_venv(tmp_path):
    assert discover.read_venv(None) == {}
    assert discover.read_venv(str(tmp_path)) == {}  # no pyvenv.cfg: not a venv
    (tmp_path / "pyvenv.cfg").write_text("home = /usr/bin\nversion_info = 3.12.1.final.0\n")
    assert discover.read_venv(str(tmp_path)) == {"python_bin": str(tmp_path / "bin" / "python"),
                                                 "python": "3.12.1.final.0"}


def test_vhost_candidates_in_the_panels_order(tmp_path, monkeypatch):
    monkeypatch.setenv("GUNICORN_SWITCH_ROOT", str(tmp_path))
    base = str(tmp_path / "www/server/panel/vhost/nginx")
    assert discover.vhost_candidates({"name": "a", "project_type": "PHP"}) == \
        [base + "/a.conf", base + "/python_a.conf"]
    assert discover.vhost_candidates({"name": "a", "project_type": "Python"}) == \
        [base + "/python_a.conf", base + "/a.conf"]


@pytest.mark.parametrize("argv, cwd, want", [
    (["uwsgi", "--emperor", "vassals"], "/etc/uwsgi", "/etc/uwsgi/vassals"),
    (["uwsgi", "--emperor", "/srv/vassals"], "/", "/srv/vassals"),
    (["uwsgi", "--emperor", "/srv/vassals/*.ini"], "/", None),
    (["uwsgi", "--emperor", "zmq://127.0.0.1:5250"], "/", None),
    (["uwsgi", "--master"], "/", None),
])
def test_emperor_dir(argv, cwd, want):
    assert discover.emperor_dir({"parent": {"cmdline": argv, "cwd": cwd}}) == want
    assert discover.is_vassal({"environ": {"UWSGI_EMPEROR_FD": "3"}})
    assert not discover.is_vassal({"environ": None})


def test_a_config_is_read_with_the_rights_of_the_workers_user(fake_users, monkeypatch):
    assert discover.reader_user({"worker_uid": 1001}).name == "alice"
    assert discover.reader_user({"worker_uid": 0}).name == "www"  # root's: www, never root
    assert discover.reader_user({"worker_uid": 4242}).name == "www"  # no such user

    def no_www(name):
        raise KeyError(name)
    monkeypatch.setattr(discover.host, "User", no_www)
    assert discover.reader_user({"worker_uid": None}) is None


# ---- under a prefix only the prefix's processes count ---------------------------------------

def test_under_root(monkeypatch):
    monkeypatch.delenv("GUNICORN_SWITCH_ROOT", raising=False)
    assert discover._under_root(FakeProc(1, ["uwsgi"], exe="/usr/bin/uwsgi"))
    monkeypatch.setenv("GUNICORN_SWITCH_ROOT", "/tmp/gsw-x")
    assert discover._under_root(FakeProc(1, ["uwsgi", "--ini", "/tmp/gsw-x/www/a.ini"]))
    assert discover._under_root(FakeProc(1, ["gunicorn: master [a]"], exe="/tmp/gsw-x/venv/bin/python"))
    assert discover._under_root(FakeProc(1, ["uwsgi"], exe="/usr/bin/uwsgi", cwd="/tmp/gsw-x/www"))
    assert not discover._under_root(FakeProc(1, ["uwsgi", "/tmp/gsw-xy/a.ini"], exe="/usr/bin/uwsgi"))

    class Denied(FakeProc):
        def exe(self):
            raise psutil.AccessDenied(1)
    assert not discover._under_root(Denied(1, ["uwsgi"]))


# ---- gather: what is read, from where -------------------------------------------------------

def test_gather_reads_sites_nginx_and_masters_under_the_prefix(tmp_path, monkeypatch):
    monkeypatch.setenv("GUNICORN_SWITCH_ROOT", str(tmp_path))
    conf = tmp_path / "www/server/nginx/conf"
    vhosts = tmp_path / "www/server/panel/vhost/nginx"
    conf.mkdir(parents=True)
    vhosts.mkdir(parents=True)
    (conf / "nginx.conf").write_text("http { upstream up { server 127.0.0.1:8700; } }\n")
    (vhosts / "shop.test.conf").write_text("server { location / { uwsgi_pass up; } }\n")
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "uwsgi.ini").write_text("[uwsgi]\nchdir = %s\n" % proj)
    rows = [{"id": 1, "name": "shop.test", "path": "/w/shop", "project_type": "PHP",
             "project_config": {}, "domains": ["shop.test"]},
            {"id": 2, "name": "proj", "path": str(proj), "project_type": "Python",
             "project_config": {}, "domains": []}]
    uw = {"pid": 5, "kind": "uwsgi", "listen": ["127.0.0.1:8700"], "environ": {}, "cmdline": ["uwsgi"]}
    scanned = []
    monkeypatch.setattr(discover.processes, "scan", lambda keep=None: scanned.append(keep) or [uw])
    monkeypatch.setattr(discover.sites_db, "read_sites", lambda: rows)
    monkeypatch.setattr(discover.records, "all_records", lambda: [{"site": "old.test"}])
    monkeypatch.setattr(discover, "read_uwsgi", lambda m: Cfg(["/w/shop/uwsgi.ini"]))

    got = discover.gather()
    assert scanned == [discover._under_root]
    assert got["masters"] == [uw] and isinstance(uw["uwsgi"], Cfg)
    assert list(got["managed"]) == ["old.test"]
    assert got["upstreams"]["up"]["servers"] == ["127.0.0.1:8700"]
    shop, p = got["sites"]
    assert shop["vhost"] == str(vhosts / "shop.test.conf")
    assert [path for path, _ in shop["tree"]] == [shop["vhost"]] and shop["nginx_problems"] == []
    assert p["vhost"] is None and p["tree"] == []
    assert p["stopped_uwsgi"].value("chdir") == str(proj)  # a stopped panel project's own ini
    [s] = [x for x in discover.build_sites(got) if x["site"] == "shop.test"]
    assert (s["pid"], s["upstream"]) == (5, "up -> 127.0.0.1:8700")
