"""`make dist`, then install the zip exactly as the panel's 导入插件 does (class/panelPlugin.py
update_zip/input_zip, notes/baota-internals.md §5), load the class with the panel's Python and
call get_sites; then `install.sh uninstall` leaves every site running."""
import json
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.sandbox.panel_import import panel_import, relink_repo_plugin

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dist_zip():
    subprocess.run(["python3", "tools/build_dist.py"], cwd=REPO, check=True, capture_output=True)
    return REPO / "dist" / "gunicorn_switch.zip"


def test_zip_holds_one_folder_and_nothing_else(dist_zip):
    with zipfile.ZipFile(dist_zip) as zf:
        names = zf.namelist()
    assert names and all(n.startswith("gunicorn_switch/") for n in names)
    for required in ("info.json", "install.sh", "icon.png", "gunicorn_switch_main.py", "index.html",
                     "gunicorn_switch_core/__init__.py", "gunicorn_switch_core/templates/gunicorn_conf.py.j2"):
        assert "gunicorn_switch/" + required in names, required
    assert any(n.startswith("gunicorn_switch/static/") for n in names)
    for n in names:
        assert "__pycache__" not in n and not n.endswith(".pyc")
        assert "/tests/" not in n and "node_modules" not in n
        top = n.split("/")[1]
        assert top in ("info.json", "install.sh", "icon.png", "gunicorn_switch_main.py",
                       "index.html", "static", "gunicorn_switch_core", "release-files.txt"), n
    with zipfile.ZipFile(dist_zip) as zf:
        listed = zf.read("gunicorn_switch/release-files.txt").decode().split()
    assert sorted(listed) == sorted(n.split("/", 1)[1] for n in names)


def test_icon_is_a_square_png(dist_zip):
    import struct
    data = (REPO / "icon.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = struct.unpack(">II", data[16:24])
    assert w == h and w >= 64


def test_info_json():
    info = json.loads((REPO / "info.json").read_text())
    assert info["name"] == "gunicorn_switch"
    assert info["title"] == "Gunicorn 切换助手"
    assert info["versions"] == "1.0.0" and len(info["versions"].split(".")) >= 2
    for k in ("ps", "author", "home", "checks"):
        assert info[k]


LOAD = """
import json, sys
sys.path.insert(0, sys.argv[1])
import gunicorn_switch_main
class Get(object):
    pass
print(json.dumps(gunicorn_switch_main.gunicorn_switch_main().get_sites(Get())))
"""


def test_panel_import_then_get_sites_then_uninstall(sandbox, dist_zip):
    dest, env, out = panel_import(sandbox, dist_zip)
    try:
        assert out.returncode == 0, out.stderr
        assert "installed" in out.stdout
        assert (dest / "info.json").exists()  # the panel's only success check
        state = sandbox.p("/www/server/panel/data/gunicorn_switch")
        assert state.is_dir() and (state.stat().st_mode & 0o777) == 0o700
        # The panel's own Python (a venv with only what the panel ships) loads the class.
        res = subprocess.run([str(sandbox.panel_python), "-c", LOAD, str(dest)], env=env,
                             capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        data = json.loads(res.stdout)
        assert data["status"] is True
        assert {s["site"] for s in data["data"]} == set(sandbox.sites)
        assert all(s["server"] == "uwsgi" for s in data["data"])

        before = sorted(p.pid for p in sandbox.pids())
        out = subprocess.run(["bash", "install.sh", "uninstall"], cwd=dest, env=env,
                             capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert not state.exists()
        assert sorted(p.pid for p in sandbox.pids()) == before
        for name in sandbox.sites:
            assert sandbox.get(name, "/")[0] == 200
    finally:
        relink_repo_plugin(sandbox, REPO)
