"""Every config the corpus produces passes `gunicorn --check-config` against a real Django
project, with the newest Gunicorn and with 23.0.0 (what Python 3.7-3.9 venvs get)."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "plugin"), str(ROOT)]

from gunicorn_switch_core import render, uwsgi_config, uwsgi_translate  # noqa: E402
from tests.sandbox import djangoapp, venvs  # noqa: E402

CORPUS = ROOT / "tests" / "corpus" / "uwsgi"
CONFIGS = sorted(p for p in CORPUS.iterdir()
                 if p.suffix in (".ini", ".xml", ".json", ".yaml", ".yml")
                 and not p.name.startswith("_"))


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return djangoapp.make_project(tmp_path_factory.mktemp("site") / "mysite", "mysite")


# 23.0.0 (slow: `make test` runs it) differs from the newest in version-gated settings, which
# the unit tests of the translation and the render check per version
@pytest.mark.parametrize("flavour", ["new", pytest.param("old", marks=pytest.mark.slow)])
@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_check_config(path, flavour, project, tmp_path):
    venv = venvs.site_venv() if flavour == "new" else venvs.old_gunicorn_venv()
    config = uwsgi_config.load(str(path), env={"DJANGO_SETTINGS_MODULE": "mysite.settings"})
    tr = uwsgi_translate.translate(config, {
        "site": "mysite", "project_path": str(project), "python_version": "3.11",
        "gunicorn_version": "27.0.1" if flavour == "new" else "23.0.0",
        "log_dir": str(tmp_path), "runtime_dir": str(tmp_path / "run"), "user": "root",
        "bind": "127.0.0.1:18999", "worker_class": _worker_class(tr_probe(config, project))})
    # The corpus paths point at servers that do not exist here: run the real project.
    tr.settings["chdir"].value = str(project)
    tr.settings["wsgi_app"].value = "mysite.wsgi:application"
    tr.settings.pop("pythonpath", None)
    tr.settings["raw_env"] = uwsgi_translate.Setting(
        "raw_env", ["DJANGO_SETTINGS_MODULE=mysite.settings"], "test")
    conf = tmp_path / "gunicorn_conf.py"
    conf.write_text(render.render(tr))
    res = subprocess.run([str(venv / "bin" / "gunicorn"), "--check-config", "-c", str(conf)],
                         cwd=str(project), capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr


def tr_probe(config, project):
    return uwsgi_translate.translate(config, {"project_path": str(project)})


def _worker_class(probe):
    # gevent is not installed in the sandbox venvs: check those configs as sync.
    wc = probe.settings["worker_class"].value
    return "sync" if wc == "gevent" else None
