"""Virtual environments for the sandbox and the tests, built fast from a cached wheelhouse.

uWSGI compiles from source (about 45 s), so every wheel is built once into a wheelhouse under
the user's cache directory and every venv installs from there with ``--no-index``. The cache key
is the list of requirements, so a change to it builds a fresh wheelhouse.
"""
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

# The interpreter the sites' venvs are made from. uWSGI embeds the Python it was compiled with,
# so the wheel and the venvs must share it (notes/environment.md).
BASE_PYTHON = os.environ.get("GSW_BASE_PYTHON") or sys.executable

SITE_PACKAGES = ["django>=4.2,<6", "uwsgi==2.0.31", "setproctitle"]
GUNICORN_NEW = "gunicorn==27.0.1"
GUNICORN_OLD = "gunicorn==23.0.0"  # the newest a venv on Python 3.7-3.9 can install
EXTRA = ["uvicorn-worker", "uvicorn", "gevent"]
# What the panel's own Python ships (notes/baota-internals.md), plus its Supervisor plugin.
PANEL_PACKAGES = ["psutil", "jinja2", "requests", "supervisor"]


def cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    d = Path(base) / "gunicorn_switch"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _key(items):
    ver = "%d.%d" % sys.version_info[:2]
    raw = json.dumps([BASE_PYTHON, ver, sorted(items)])
    return hashlib.sha256(raw.encode()).hexdigest()[:12]


class _Lock:
    """An exclusive file lock, so that parallel test processes build a cache entry once."""

    def __init__(self, path):
        self.path = path

    def __enter__(self):
        self.fh = open(self.path, "w")
        fcntl.flock(self.fh, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fh, fcntl.LOCK_UN)
        self.fh.close()


def wheelhouse():
    """A directory of wheels for everything the sandbox venvs may install."""
    items = SITE_PACKAGES + [GUNICORN_NEW, GUNICORN_OLD] + EXTRA + PANEL_PACKAGES
    d = cache_dir() / ("wheels-" + _key(items))
    done = d / ".complete"
    with _Lock(str(cache_dir() / ".wheels.lock")):
        if not done.exists():
            d.mkdir(parents=True, exist_ok=True)
            for spec in items:
                subprocess.run(
                    [BASE_PYTHON, "-m", "pip", "wheel", "-q", "--wheel-dir", str(d), spec],
                    check=True,
                )
            done.write_text("ok\n")
    return d


def make_venv(dest, packages, pip_conf=True):
    """Create a venv at ``dest`` with ``packages`` installed offline from the wheelhouse.

    With ``pip_conf`` the venv gets a pip.conf pointing at the wheelhouse, the way a server's
    pip configuration points at a mirror: the plugin's own pip step then works offline here.
    """
    dest = Path(dest)
    wh = wheelhouse()
    subprocess.run([BASE_PYTHON, "-m", "venv", str(dest)], check=True)
    if packages:
        subprocess.run(
            [str(dest / "bin" / "python"), "-m", "pip", "install", "-q", "--no-index",
             "--disable-pip-version-check", "--find-links", str(wh)] + list(packages),
            check=True,
        )
    if pip_conf:
        (dest / "pip.conf").write_text(
            "[global]\nno-index = true\nfind-links = %s\ndisable-pip-version-check = true\n" % wh
        )
    return dest


def _cached_venv(name, packages):
    d = cache_dir() / ("venv-%s-%s" % (name, _key(packages)))
    with _Lock(str(cache_dir() / (".venv-%s.lock" % name))):
        if not (d / ".complete").exists():
            if d.exists():
                shutil.rmtree(d)
            make_venv(d, packages)
            (d / ".complete").write_text("ok\n")
    return d


def site_venv():
    """A shared, read-only venv: Django, uWSGI, setproctitle and the newest Gunicorn."""
    return _cached_venv("new", SITE_PACKAGES + [GUNICORN_NEW])


def old_gunicorn_venv():
    """The same with Gunicorn 23.0.0, what older Baota servers (Python 3.7-3.9) can run."""
    return _cached_venv("old", SITE_PACKAGES + [GUNICORN_OLD])


if __name__ == "__main__":
    # `python -m tests.sandbox.venvs` warms the cache (CI does it before the tests).
    print(wheelhouse())
    print(site_venv())
    print(old_gunicorn_venv())
