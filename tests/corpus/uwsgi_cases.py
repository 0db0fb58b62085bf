"""The uWSGI corpus (tests/corpus/uwsgi): a corpus file translated and rendered into the
gunicorn_conf.py a switch would write. Used by tests/unit/test_render.py and
tests/unit/test_log_rotation_settings.py.
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "plugin"))

from gunicorn_switch_core import render, uwsgi_config, uwsgi_translate  # noqa: E402

CORPUS = ROOT / "tests" / "corpus" / "uwsgi"


def conf_of(name, **ctx):
    base = {"site": "mysite", "python_version": "3.11", "bind": "127.0.0.1:8100"}
    base.update(ctx)
    tr = uwsgi_translate.translate(uwsgi_config.load(str(CORPUS / name)), base)
    return render.render(tr)
