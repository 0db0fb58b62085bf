"""The page's files (plugin/static/*.js): each loaded by index.html with the release's ?v=,
in the order the core names, stamped only in index.html, carried by the zip; and what the
backend knows (the version, the worker classes) is taken from its answers, not written again
in the page."""
import re
import zipfile
from pathlib import Path

from gunicorn_switch_core import api, plan as planning
from tools import build_dist

REPO = Path(__file__).resolve().parents[2]
STATIC = REPO / "plugin" / "static"
TOKEN = "__GSWITCH_VERSION__"
SCRIPT = re.compile(r'<script type="text/javascript" src="/gunicorn_switch/static/([\w.]+\.js)\?v=([^"]+)">')


def page_scripts(html):
    return SCRIPT.findall(html)


def test_index_loads_every_file_once_with_the_version_query():
    html = (REPO / "plugin" / "index.html").read_text(encoding="utf-8")
    loaded = page_scripts(html)
    names = [name for name, _v in loaded]
    assert sorted(names) == sorted(p.name for p in STATIC.glob("*.js"))
    assert all(v == TOKEN for _name, v in loaded)
    # the core first (it makes `gswitch`), the words next; init() once everything is in
    assert names[:2] == ["gunicorn_switch.js", "gunicorn_switch.i18n.js"]
    assert html.rindex("gswitch.init()") > html.rindex(names[-1])
    # the core's comment lists the parts in the same order
    core = (STATIC / "gunicorn_switch.js").read_text(encoding="utf-8")
    listed = re.findall(r"^ \*   (gunicorn_switch[\w.]*\.js)", core, flags=re.M)
    assert listed == names


def test_the_page_writes_down_nothing_the_backend_says():
    for path in STATIC.glob("*.js"):
        text = path.read_text(encoding="utf-8")
        assert TOKEN not in text, path.name  # the release: index.html's data-version, get_info
        assert "uvicorn_worker" not in text, path.name  # the worker classes: the plan's answer


def test_the_zip_stamps_index_html_and_carries_every_file(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    out = build_dist.build(tmp_path / "gunicorn_switch.zip")
    version = build_dist.json.loads((REPO / "info.json").read_text())["versions"]
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        html = zf.read("gunicorn_switch/index.html").decode("utf-8")
        listed = zf.read("gunicorn_switch/release-files.txt").decode().split()
    for path in STATIC.glob("*.js"):
        assert "gunicorn_switch/static/" + path.name in names
        assert "static/" + path.name in listed  # install.sh's prune keeps it
    assert TOKEN not in html and 'data-version="%s"' % version in html
    assert {v for _name, v in page_scripts(html)} == {version}


def test_plan_answer_carries_the_worker_classes(monkeypatch):
    site = {"site": "a.test"}
    monkeypatch.setattr(api.discover, "gather", lambda: {})
    monkeypatch.setattr(api.discover, "get_sites", lambda facts=None: [site])
    monkeypatch.setattr(api.planning, "make_plan", lambda name, args, facts=None: {"site": name})
    monkeypatch.setattr(api.plans, "save", lambda p: "0" * 32)
    answer = api.plan({"site": "a.test"})
    assert answer["worker_classes"] == list(planning.WORKER_CLASSES)
    assert answer["plan_id"] == "0" * 32
