"""The systemd unit the plugin writes for a site's Gunicorn (managers.unit_text)."""
import pytest

from gunicorn_switch_core import managers, safe_text


class FakeUser(object):
    name, home, owner = "www", "/home/www", (1000, 1001)


REC = {"site": "unit.test", "manager_detail": "gunicorn-unit.test.service",
       "gunicorn_bin": "/v/bin/gunicorn", "gunicorn_conf": "/p/gunicorn_conf.py",
       "project_path": "/p", "user": "www", "graceful_timeout": 30,
       "runtime_dir": "/run/gunicorn_switch/unit.test", "bind": "127.0.0.1:8001"}


@pytest.fixture(autouse=True)
def fake_user(monkeypatch):
    monkeypatch.setattr(managers, "run_user", lambda record: FakeUser())


def test_unit_remakes_the_runtime_dir_as_root_before_gunicorn():
    lines = managers.unit_text(REC).splitlines()
    pre = [x for x in lines if x.startswith("ExecStartPre=")]
    assert pre == ["ExecStartPre=+/usr/bin/install -d -o root -g root -m 0755 /run/gunicorn_switch",
                   "ExecStartPre=+/usr/bin/install -d -o 1000 -g 1001 -m 0700 /run/gunicorn_switch/unit.test"]
    assert lines.index(pre[-1]) < lines.index("ExecStart=/v/bin/gunicorn -c /p/gunicorn_conf.py")
    assert "Description=Gunicorn for unit.test (gunicorn_switch)" in lines
    assert "ExecReload=/bin/kill -HUP $MAINPID" in lines and "User=www" in lines


def test_a_unix_socket_dir_is_traversable_for_nginx():
    text = managers.unit_text(dict(REC, bind="unix:/run/gunicorn_switch/unit.test/g.sock"))
    assert "-m 0711 /run/gunicorn_switch/unit.test\n" in text


def test_unsafe_values_are_refused():
    for bad in (dict(REC, runtime_dir="/run/a b"), dict(REC, site="x%n"), dict(REC, site="a\nb")):
        with pytest.raises(safe_text.UnsafeText):
            managers.unit_text(bad)
