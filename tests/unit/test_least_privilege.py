"""The pieces of least privilege that need no sandbox: root's safe file operations, the text
that goes into scripts, configs read with the site user's rights, whom uWSGI comes back as."""
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from gunicorn_switch_core import (host, managers, panel_project, plan, safe_files, safe_text, uwsgi_config,
                                  uwsgi_process)
from gunicorn_switch_core import uwsgi_translate


@pytest.fixture(scope="module")
def www():
    from tests.sandbox.host import ensure_www_user
    ensure_www_user()
    return host.User("www")


@pytest.fixture
def tmp_path(www):
    """A directory www can reach (pytest's own lies under a 0700 one)."""
    d = tempfile.mkdtemp(prefix="gsw-unit-", dir="/tmp")
    os.chmod(d, 0o755)
    yield Path(d)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def site_dir(tmp_path, www):
    """A directory the site's user owns (as a project or log dir is), and a root decoy."""
    os.chmod(tmp_path, 0o755)
    d = tmp_path / "site"
    d.mkdir()
    os.chown(d, www.uid, www.gid)
    decoy = tmp_path / "decoy"
    decoy.write_bytes(b"root only\n")
    os.chmod(decoy, 0o600)
    return d, decoy


def www_runs(argv):
    subprocess.run(argv, user="www", group="www", extra_groups=[], check=True)


# ---- safe_files --------------------------------------------------------------------------

def test_a_link_planted_in_the_site_dir_is_never_read_or_written_through(site_dir):
    d, decoy = site_dir
    www_runs(["ln", "-s", str(decoy), str(d / "conf.py")])
    with pytest.raises(OSError):
        safe_files.read_bytes(str(d / "conf.py"), 100)
    # a write replaces the link itself; the decoy keeps its bytes and mode
    safe_files.write_atomic(str(d / "conf.py"), b"new", mode=0o644)
    assert decoy.read_bytes() == b"root only\n" and stat.S_IMODE(decoy.stat().st_mode) == 0o600
    assert not (d / "conf.py").is_symlink() and (d / "conf.py").read_bytes() == b"new"


def test_a_link_in_the_middle_of_a_path_under_the_site_dir_is_refused(site_dir, tmp_path):
    d, decoy = site_dir
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "f").write_text("x")
    www_runs(["ln", "-s", str(elsewhere), str(d / "sub")])
    with pytest.raises(OSError):
        safe_files.read_bytes(str(d / "sub" / "f"), 100)
    with pytest.raises(OSError):
        safe_files.write_atomic(str(d / "sub" / "f"), b"y")
    assert (elsewhere / "f").read_text() == "x"


def test_a_link_root_made_in_a_root_dir_is_followed(tmp_path):
    os.chmod(tmp_path, 0o755)
    real = tmp_path / "real.conf"
    real.write_text("server {}")
    os.symlink(str(real), str(tmp_path / "link.conf"))
    assert safe_files.read_bytes(str(tmp_path / "link.conf"), 100) == b"server {}"


def test_a_fifo_is_refused_at_once(site_dir):
    d, _ = site_dir
    www_runs(["mkfifo", str(d / "error.log")])
    with pytest.raises(OSError):
        safe_files.read_bytes(str(d / "error.log"), 100)
    with pytest.raises(OSError):
        safe_files.read_tail(str(d / "error.log"), 100)
    with pytest.raises(OSError):
        safe_files.open_append(str(d / "error.log"))


def test_a_hard_link_is_not_appended_to_or_given_away(site_dir, tmp_path, www):
    d, _ = site_dir
    own = d / "mine"
    own.write_text("x")
    os.link(str(own), str(d / "twin"))
    with pytest.raises(OSError):
        safe_files.open_append(str(d / "twin"))
    assert safe_files.give_to(str(d / "twin"), www.owner) is False
    assert own.stat().st_uid == 0


def test_write_sets_mode_and_owner_on_the_descriptor(site_dir, www):
    d, _ = site_dir
    safe_files.write_atomic(str(d / "gunicorn_conf.py"), b"bind = 'x'\n", mode=0o644, owner=www.owner)
    st = os.lstat(str(d / "gunicorn_conf.py"))
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (www.uid, 0o644)
    assert [n for n in os.listdir(str(d)) if n.startswith(".gsw-")] == []


def test_makedirs_refuses_a_link_in_place_of_the_dir(site_dir, tmp_path, www):
    d, _ = site_dir
    target = tmp_path / "target"
    target.mkdir()
    www_runs(["ln", "-s", str(target), str(d / "run")])
    with pytest.raises(OSError):
        safe_files.makedirs(str(d / "run"), mode=0o700, owner=www.owner)
    assert target.stat().st_uid == 0


def test_root_only(tmp_path, site_dir):
    os.chmod(tmp_path, 0o755)
    d, _ = site_dir
    mine = tmp_path / "bin"
    mine.write_text("#!/bin/sh\n")
    os.chmod(mine, 0o755)
    assert safe_files.root_only(str(mine))
    theirs = d / "bin"
    theirs.write_text("#!/bin/sh\n")
    assert not safe_files.root_only(str(theirs))  # root's file in www's dir: www can swap it


# ---- generated text ------------------------------------------------------------------------

@pytest.mark.parametrize("bad", ["/www/wwwroot/$(touch /tmp/x)", "/www/wwwroot/a\nb", "relative/p",
                                 "/www/wwwroot/a`id`", "/www/wwwroot/%(ENV_X)s", "/www/../etc",
                                 "/www/wwwroot/a b", "/www/wwwroot/a;b", "/www/wwwroot/a'b"])
def test_unsafe_paths_are_refused(bad):
    with pytest.raises(safe_text.UnsafeText):
        safe_text.check_path(bad, "project_path")


def test_a_chinese_project_path_is_fine():
    assert safe_text.check_path("/www/wwwroot/我的站点", "p") == "/www/wwwroot/我的站点"


def test_the_start_script_and_program_file_refuse_unsafe_paths(www):
    rec = {"venv": "/www/server/pyporject_evn/v", "gunicorn_bin": "/www/server/pyporject_evn/v/bin/gunicorn",
           "gunicorn_conf": "/www/wwwroot/$(reboot)/gunicorn_conf.py", "project_path": "/www/wwwroot/$(reboot)",
           "log_dir": "/www/wwwlogs/python/x", "user": "www", "manager_detail": "gunicorn_x",
           "site": "x"}
    with pytest.raises(safe_text.UnsafeText):
        panel_project.gunicorn_script("x", rec)
    with pytest.raises(safe_text.UnsafeText):
        managers.program_text(rec)


def test_the_start_script_drops_to_the_site_user_before_anything_of_the_site_runs(www):
    rec = {"venv": "/www/server/pyporject_evn/v", "gunicorn_bin": "/www/server/pyporject_evn/v/bin/gunicorn",
           "gunicorn_conf": "/www/wwwroot/x/gunicorn_conf.py", "project_path": "/www/wwwroot/x",
           "log_dir": "/www/wwwlogs/python/x", "user": "www"}
    text = panel_project.gunicorn_script("x", rec)
    assert "activate" not in text  # the venv's activate is www's to change
    run = [ln for ln in text.splitlines() if ln.startswith("nohup")][0]
    assert run.startswith('nohup "${drop[@]}" env -i ')
    assert "--reuid=%d" % www.uid in text and ">>" not in run.split("bash -c")[0]
    subprocess.run(["bash", "-n"], input=text.encode(), check=True)


def test_digits_is_ascii_only():
    assert safe_text.digits("200") and not safe_text.digits("²") and not safe_text.digits("٣")
    assert not safe_text.digits("") and not safe_text.digits("-1")


# ---- configs read with the site user's rights -----------------------------------------------

def root_only_and_ini(d, secret_text, ini_text):
    """A 0600 root file and an ini naming it (``{}`` in ini_text), in a directory www reaches."""
    secret = d / "secret"
    secret.write_text(secret_text)
    os.chmod(secret, 0o600)
    ini = d / "uwsgi.ini"
    ini.write_text(ini_text.format(secret))
    return secret, ini


def test_at_file_of_a_root_only_file_is_refused(tmp_path, www):
    secret, ini = root_only_and_ini(tmp_path, "hunter2", "[uwsgi]\nenv = DB_PASSWORD=@({})\nprocesses = 2\n")
    cfg = uwsgi_config.load(str(ini), user=www)
    assert "hunter2" not in cfg.value("env")
    assert any("@(" in str(w) and "refused" in str(w) for w in cfg.warnings)
    os.chmod(secret, 0o644)  # readable by www: read as before
    assert uwsgi_config.load(str(ini), user=www).value("env") == "DB_PASSWORD=hunter2"


def test_an_include_www_cannot_read_is_refused(tmp_path, www):
    _inc, ini = root_only_and_ini(tmp_path, "[uwsgi]\nprocesses = 9\n", "[uwsgi]\nini = {}\n")
    with pytest.raises(uwsgi_config.UwsgiConfigError) as e:
        uwsgi_config.load(str(ini), user=www)
    assert "cannot be read by the site's user" in str(e.value)


def test_a_negative_umask_is_refused_not_rendered():
    with tempfile.NamedTemporaryFile("w", suffix=".ini", delete=False) as f:
        f.write("[uwsgi]\nmodule = app:application\numask = -22\n")
    cfg = uwsgi_config.load(f.name)
    os.unlink(f.name)
    tr = uwsgi_translate.translate(cfg, {"site": "x", "project_path": "/www/wwwroot/x"})
    assert "umask" not in tr.settings
    assert any("umask" in w["message"] for w in tr.warnings)


# ---- who runs what ---------------------------------------------------------------------------

def test_uwsgi_comes_back_as_the_user_its_master_ran_as(tmp_path, www):
    assert uwsgi_process.respawn_user({"uid": www.uid, "exe": "/x"}).name == "www"
    os.chmod(tmp_path, 0o755)
    exe = tmp_path / "uwsgi"
    exe.write_text("")
    os.chmod(exe, 0o755)
    assert uwsgi_process.respawn_user({"uid": 0, "exe": str(exe), "site_user": "www"}) is None  # root's
    os.chown(exe, www.uid, www.gid)
    # a root master from a binary www can change comes back as www, never as root
    assert uwsgi_process.respawn_user({"uid": 0, "exe": str(exe), "site_user": "www"}).name == "www"
    assert isinstance(uwsgi_process.respawn_user({"uid": None}), str)


def test_a_master_that_is_not_uwsgi_from_the_venv_is_not_trusted(tmp_path, www):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "uwsgi").write_text("")
    fake = tmp_path / "fake-uwsgi"
    fake.write_text("")
    os.chown(fake, www.uid, www.gid)
    plan.check_master({"uid": www.uid, "exe": str(venv / "bin" / "uwsgi")}, str(venv), www)
    with pytest.raises(plan.PlanError):
        plan.check_master({"uid": www.uid, "exe": str(fake), "pid": 1}, str(venv), www)
    nobody = pwd.getpwnam("nobody").pw_uid
    with pytest.raises(plan.PlanError):
        plan.check_master({"uid": nobody, "exe": str(venv / "bin" / "uwsgi"), "pid": 1}, str(venv), www)


def test_the_plan_never_picks_root(www):
    opts = plan.parse_options({})
    assert opts["user"] is None
    with pytest.raises(plan.PlanError):
        plan.parse_options({"user": "root"})
    user, warning = plan.site_user(opts, None, {"worker_uid": 0})
    assert user.name == "www" and warning
    user, warning = plan.site_user(opts, None, {"worker_uid": www.uid})
    assert user.name == "www" and warning is None
