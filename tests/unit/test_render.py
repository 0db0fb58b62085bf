import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "plugin"))

from gunicorn_switch_core import render, stats_layout, uwsgi_config, uwsgi_translate  # noqa: E402
from tests.corpus.uwsgi_cases import CORPUS, conf_of  # noqa: E402


def assignments(text):
    out = {}
    for node in ast.parse(text).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:
                out[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    return out


def test_every_corpus_file_renders_valid_python():
    for p in CORPUS.iterdir():
        if not p.name.startswith("_"):
            assignments(conf_of(p.name))


def test_rendered_values_and_comments():
    text = conf_of("baota_http.ini")
    a = assignments(text)
    assert a["bind"] == ["127.0.0.1:8100"] and a["workers"] == 4 and a["user"] == "www"
    assert a["worker_tmp_dir"] == "/dev/shm" and a["forwarded_allow_ips"] == "127.0.0.1,::1"
    assert a["_STATS_FORMAT"] == stats_layout.FORMAT
    assert "# baota_http.ini:5 processes = 4" in text
    assert a["control_socket"].endswith("/gunicorn.ctl")
    assert "0.0.0.0" not in "".join(x for x in text.splitlines() if not x.startswith("#"))


def test_old_gunicorn_has_no_control_socket():
    a = assignments(conf_of("baota_http.ini", gunicorn_version="23.0.0"))
    assert "control_socket" not in a and "control_socket_disable" not in a


def test_hostile_values_stay_strings(tmp_path):
    p = tmp_path / "evil.ini"
    p.write_text("[uwsgi]\nchdir = /x'\nmodule = a.wsgi\nenv = A=\"\\nimport os\n"
                 "logto = /tmp/x\nharakiri = 5\n")
    tr = uwsgi_translate.translate(uwsgi_config.load(str(p)), {"site": "s\nimport os"})
    a = assignments(render.render(tr))
    assert a["chdir"] == "/x'" and a["proc_name"] == "s\nimport os"
