import sys
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "plugin"))

from gunicorn_switch_core.uwsgi_config import (  # noqa: E402
    UwsgiConfigError, atoi, atoi_rest, is_true, load, load_argv)


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text) if isinstance(text, str) else p.write_bytes(text)
    return str(p)


def test_ini_semantics(tmp_path):
    p = write(tmp_path, "u.ini", "[uwsgi]\nchdir = %d\n; c\n# c\nsocket = :8000  # main\n"
              "p = a\np = b\nx = %(p)\nenv = A=\"b\"\n[other]\nprocesses = 9\n[uwsgi]\nmaster\n")
    c = load(p)
    assert c.value("chdir") == str(tmp_path) + "/"
    assert c.value("socket") == ":8000  # main"
    assert c.value("x") == "a"  # placeholders take the first value
    assert c.value("p") == "b"  # scalars: last wins
    assert c.value("env") == 'A="b"'
    assert c.value("master") == "" and not c.has("processes")
    assert c.last("x").line == 8


def test_magic_unknown_is_empty(tmp_path):
    c = load(write(tmp_path, "site.ini", "[uwsgi]\nenv = D=50%off\nn = %n\ne = %e\nq = 100%%\n"))
    assert c.value("env") == "D=50" + str(tmp_path / "site.ini") + "ff"
    assert (c.value("n"), c.value("e"), c.value("q")) == ("site", "ini", "100%")


def test_env_and_logic(tmp_path):
    text = ("[uwsgi]\nenv = X=$(HOME_X)\nif-env = DSM\nenv = DJANGO_SETTINGS_MODULE=%(_)\n"
            "endif\nfor = a b\nstatic-map = /%(_)=/srv/%(_)\nendfor\nundef = $(NOPE)\n")
    c = load(write(tmp_path, "u.ini", text), env={"HOME_X": "1", "DSM": "p.s"})
    assert [o.value for o in c.all("env")] == ["X=1", "DJANGO_SETTINGS_MODULE=p.s"]
    assert [o.value for o in c.all("static-map")] == ["/a=/srv/a", "/b=/srv/b"]
    assert c.value("undef") == "$(NOPE)"
    assert any("NOPE" in w.message for w in c.warnings)


def test_includes_and_sections(tmp_path):
    write(tmp_path, "base.ini", "[uwsgi]\nprocesses = 2\nharakiri = 5\n")
    p = write(tmp_path, "main.ini", "[uwsgi]\nini = :prod\nini = base.ini\nprocesses = 4\n"
              "[prod]\nharakiri = 50\n")
    c = load(p)
    # :prod is read from the last INI loaded: main.ini here (before base.ini is included).
    assert c.value("processes") == "4" and c.value("harakiri") == "5"
    assert [o.value for o in c.all("harakiri")] == ["50", "5"]


def test_xml_json_yaml(tmp_path):
    x = load(write(tmp_path, "a.xml", "<uwsgi><master/><socket>:1</socket>"
                   "<app mountpoint=\"/p\">m:app</app></uwsgi>"))
    assert (x.value("master"), x.value("socket"), x.value("mount")) == ("1", ":1", "/p=m:app")
    j = load(write(tmp_path, "a.json", '{"uwsgi": {"master": true, "env": ["A=1", "B=2"], '
                   '"processes": 4, "lazy": false}}'))
    assert [o.value for o in j.all("env")] == ["A=1", "B=2"]
    assert (j.value("master"), j.value("processes"), j.value("lazy")) == ("1", "4", "0")
    y = load(write(tmp_path, "a.yml", "uwsgi:\n  socket: ':1' # c\n  socket: /s\n"
                   "  key:\n  after: x\n"))
    assert [o.value for o in y.all("socket")] == ["':1'", "/s"]
    assert not y.has("after")


def test_argv_order(tmp_path):
    p = write(tmp_path, "u.ini", "[uwsgi]\npidfile = /ini.pid\n")
    c = load_argv(["uwsgi", "-d", "--ini", p, "--pidfile=/cli.pid", "-M"])
    assert c.value("daemonize") == "--ini"
    assert c.value("pidfile") == "/ini.pid"  # the bare .ini is loaded after the flags
    assert c.value("master") == ""


@pytest.mark.parametrize("name,data,needle", [
    ("empty.ini", "", "empty"),
    ("nosection.ini", "[other]\na=1\n", "section [uwsgi]"),
    ("bom.ini", "\ufeff[uwsgi]\na=1\n", "BOM"),
    ("bin.ini", b"[uwsgi]\n\0\0", "binary"),
    ("big.ini", "[uwsgi]\n" + "a=1\n" * 300000, "limit"),
    ("bad.xml", "<uwsgi><a></uwsgi>", "invalid XML"),
    ("ent.xml", "<!DOCTYPE x [<!ENTITY a 'b'>]><uwsgi><a>&a;</a></uwsgi>", "DOCTYPE"),
    ("bad.json", "{", "invalid JSON"),
    ("loop.ini", "[uwsgi]\nini = loop.ini\n", "loop"),
    ("missing.ini", "[uwsgi]\nini = nowhere.ini\n", "does not exist"),
    ("nested.ini", "[uwsgi]\nfor = a\nif-env = X\nend\n", "recursive"),
    ("inc.ini", "[uwsgi]\ninclude = x.ini:sec\n", "unable to load"),
])
def test_bad_input_raises(tmp_path, name, data, needle):
    p = write(tmp_path, name, data)
    with pytest.raises(UwsgiConfigError) as e:
        load(p)
    assert needle in str(e.value) and name in str(e.value)


def test_is_true():
    assert all(is_true(v) for v in ("", "1", "true", "yes", "banana"))
    assert not any(is_true(v) for v in ("0", "false", "OFF", "No"))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_ini_reader_never_crashes(tmp_path_factory, body):
    d = tmp_path_factory.mktemp("h")
    p = d / "h.ini"
    p.write_text("[uwsgi]\n" + body, encoding="utf-8", errors="surrogatepass")
    try:
        load(str(p))
    except UwsgiConfigError:
        pass


@pytest.mark.parametrize("text,n,rest", [
    ("8  # 设置8个进程", 8, "# 设置8个进程"), ("3 #1 #10, 5", 3, "#1 #10, 5"), ("", 0, ""),
    (" 7x", 7, "x"), ("abc", 0, "abc"), ("0x10", 0, "x10"), ("+4", 4, ""), ("-2", -2, ""),
])
def test_atoi_reads_numbers_as_uwsgi(text, n, rest):
    # The same values were run through uWSGI 2.0.31 (tests/e2e/test_uwsgi_parsing.py).
    assert atoi(text) == n
    assert atoi_rest(text) == rest
