"""records: one JSON file per switched site, 0600, atomic, safe names only."""
import os
import stat

import pytest

from gunicorn_switch_core import records


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("GUNICORN_SWITCH_ROOT", str(tmp_path))
    return tmp_path


def test_round_trip_and_mode(root):
    rec = {"site": "a.test", "pidfile": "/run/x.pid", "note": "中文"}
    path = records.save(rec)
    assert path == str(root / "www/server/panel/data/gunicorn_switch/sites/a.test.json")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert records.load("a.test") == rec
    assert records.load("b.test") is None


def test_all_records_and_delete(root):
    records.save({"site": "b.test"})
    records.save({"site": "a.test"})
    d = root / "www/server/panel/data/gunicorn_switch/sites"
    (d / "junk.json").write_text("{not json")
    (d / "notes.txt").write_text("x")
    assert [r["site"] for r in records.all_records()] == ["a.test", "b.test"]
    assert records.delete("a.test") is True
    assert records.delete("a.test") is False
    assert [r["site"] for r in records.all_records()] == ["b.test"]


@pytest.mark.parametrize("name", ["", "../etc", "a/b", ".hidden", "a b", None, "x" * 300])
def test_unsafe_names_are_refused(root, name):
    with pytest.raises(ValueError):
        records.load(name)
    with pytest.raises(ValueError):
        records.save({"site": name})
    with pytest.raises(ValueError):
        records.delete(name)


def test_a_record_for_another_site_is_an_error(root):
    records.save({"site": "a.test"})
    d = root / "www/server/panel/data/gunicorn_switch/sites"
    os.rename(str(d / "a.test.json"), str(d / "b.test.json"))
    with pytest.raises(ValueError):
        records.load("b.test")
