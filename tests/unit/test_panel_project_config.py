"""project_config as the switch changes it and rollback puts it back (notes/baota-internals.md
§12): the fields the panel derives nginx and its daemon from, and the text byte for byte."""
import json
import sqlite3

from gunicorn_switch_core import panel_project, plan

ORIGINAL = ('{"pjname": "api", "port": 8001, "stype": "uwsgi", "domains": ["api.test"], '
            '"proxy_info": [{"proxy_path": "/", "proxy_port": 8001, "status": 1}, '
            '{"proxy_path": "/ws/", "proxy_port": 9000, "status": 1}]}')


def make_db(tmp_path, monkeypatch, text):
    db = tmp_path / "www/server/panel/data/db/site.db"
    db.parent.mkdir(parents=True)
    con = sqlite3.connect(str(db))
    con.execute("CREATE TABLE sites (id INTEGER PRIMARY KEY, name TEXT, path TEXT, "
                "project_type TEXT, project_config TEXT)")
    con.execute("CREATE TABLE domain (id INTEGER PRIMARY KEY, pid INTEGER, name TEXT)")
    con.execute("INSERT INTO sites (name, path, project_type, project_config) VALUES "
                "('api', '/x', 'Python', ?)", (text,))
    con.commit()
    con.close()
    monkeypatch.setenv("GUNICORN_SWITCH_ROOT", str(tmp_path))


def test_switched_config_moves_only_uwsgis_entries():
    new, moved = panel_project.switched_config(json.loads(ORIGINAL), [8001], 8123)
    assert new["stype"] == "gunicorn" and new["port"] == 8123
    assert new["proxy_info"] == [{"proxy_path": "/", "proxy_port": 8123, "status": 1},
                                 {"proxy_path": "/ws/", "proxy_port": 9000, "status": 1}]
    assert moved == ["/"]


def test_rollback_restores_the_text_byte_for_byte(tmp_path, monkeypatch):
    make_db(tmp_path, monkeypatch, ORIGINAL)
    new, _ = panel_project.switched_config(json.loads(ORIGINAL), [], 8123)
    switched = json.dumps(new)
    # the panel re-dumps the config on every start: same data, maybe other bytes
    panel_project.set_project_config_text("api", json.dumps(new, indent=1))
    assert "byte for byte" in panel_project.restore_config("api", ORIGINAL, switched)
    assert panel_project.get_project_config_text("api") == ORIGINAL


def test_rollback_keeps_what_the_user_changed_since(tmp_path, monkeypatch):
    make_db(tmp_path, monkeypatch, ORIGINAL)
    new, _ = panel_project.switched_config(json.loads(ORIGINAL), [], 8123)
    switched = json.dumps(new)
    new["domains"].append("www.api.test:80")
    panel_project.set_project_config("api", new)
    panel_project.restore_config("api", ORIGINAL, switched)
    back = json.loads(panel_project.get_project_config_text("api"))
    assert back == dict(json.loads(ORIGINAL), domains=["api.test", "www.api.test:80"])


def test_a_unix_bind_on_a_panel_project_becomes_tcp_with_a_reason():
    kind, why = plan.panel_project_bind({"manager": "panel_project"}, "unix")
    assert kind == "tcp" and why
    assert plan.panel_project_bind({"manager": "supervisor"}, "unix") == ("unix", None)
    assert plan.upstream_ports("api_backend -> 127.0.0.1:8001, unix:/run/x.sock") == [8001]
