"""The command line's pure parts: --set parsing, the log follower's overlap, the status text."""
import pytest

from gunicorn_switch_core import cli, cli_base, cli_status


@pytest.fixture(autouse=True)
def english(monkeypatch, tmp_path):
    monkeypatch.setenv("GUNICORN_SWITCH_LANG", "en")
    monkeypatch.setenv("GUNICORN_SWITCH_ROOT", str(tmp_path))


@pytest.mark.parametrize("pairs", [["workers"], ["evil=1"], ["workers=abc"], ["bind=0.0.0.0"],
                                   ["user=root"], ["worker_class=x;y"]])
def test_bad_set_is_bad_input(pairs):
    with pytest.raises(cli_base.Exit) as e:
        cli._options(pairs)
    assert e.value.code == cli_base.BAD and e.value.message


def test_set_accepts_dashes_and_spaces():
    assert cli._options(["worker-class = gthread", "threads=4"]) == {"worker_class": "gthread",
                                                                    "threads": "4"}


@pytest.mark.parametrize("previous,lines,new", [
    ([], ["a", "b"], ["a", "b"]),
    (["a", "b"], ["a", "b"], []),
    (["a", "b"], ["a", "b", "c"], ["c"]),
    (["a", "b", "c"], ["b", "c", "d", "e"], ["d", "e"]),   # the window moved on
    (["a", "x", "b", "x"], ["b", "x", "y"], ["y"]),         # a line seen twice: the latest match
    (["a", "b"], ["p", "q"], ["p", "q"]),                   # rotated: all of the new file
])
def test_new_lines(previous, lines, new):
    assert cli_status.new_lines(previous, lines) == new


def test_lang_is_read_before_parsing():
    assert cli._lang_from(["status", "x", "--lang", "zh"]) == "zh"
    assert cli._lang_from(["--lang=en", "sites"]) == "en"
    assert cli._lang_from(["sites"]) is None


STATUS = {
    "site": "shop.test", "running": True, "managed": True,
    "master": {"pid": 10, "age": 3700, "rss": 2 << 20, "cpu": 0.5, "version": "27.0.1",
               "bind": "127.0.0.1:9000"},
    "workers": [
        {"pid": 11, "age": 65, "rss": 1 << 20, "cpu": 1.0, "requests": 7, "rps": 2.5, "avg_ms": 3.1,
         "busy": True, "current": {"method": "GET", "path": "/slow/", "seconds": 1.25}},
        {"pid": 12, "age": 65, "rss": 1 << 20, "cpu": 0.0, "requests": None, "rps": None,
         "avg_ms": None, "busy": None, "current": None},
    ],
    "recent_exits": [{"pid": 9, "time": 0, "cause": "timeout", "detail": "WORKER TIMEOUT"}],
    "totals": {"workers": 2, "requests": 7, "rps": 2.5, "rss": 4 << 20, "busy": 1},
    "hints": ["a hint"],
}


def test_status_text_has_one_line_per_worker():
    lines = cli_status.render(STATUS)
    rows = [line for line in lines if line.split()[:1] in (["11"], ["12"])]
    assert len(rows) == 2
    assert "busy" in rows[0] and "GET /slow/ 1.25s" in rows[0] and "1h01m" in lines[0]
    assert rows[1].split()[4:8] == ["-", "-", "-", "-"]
    assert any("timeout" in line for line in lines) and lines[-1] == "! a hint"


def test_status_text_of_a_stopped_site():
    lines = cli_status.render({"site": "x", "running": False, "master": None, "workers": [],
                               "recent_exits": [], "hints": []})
    assert lines == ["x  Gunicorn is not running"]


def test_a_frame_clears_and_fits_the_width():
    f = cli_status.frame(STATUS, 30)
    assert f.startswith(cli_status.CLEAR)
    assert all(len(line) <= 30 for line in f[len(cli_status.CLEAR):].split("\r\n"))
