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
import warnings
from pathlib import Path

# The interpreter the sites' venvs are made from. uWSGI embeds the Python it was compiled with,
# so the wheel and the venvs must share it (notes/environment.md).
BASE_PYTHON = os.environ.get("GSW_BASE_PYTHON") or sys.executable

SITE_PACKAGES = ["django>=4.2,<6", "uwsgi==2.0.31", "setproctitle"]
GUNICORN_NEW = "gunicorn==27.0.1"
GUNICORN_OLD = "gunicorn==23.0.0"  # the newest a venv on Python 3.7-3.9 can install
EXTRA = ["uvicorn-worker", "uvicorn", "gevent"]
# What the panel's own Python ships (notes/baota-internals.md §3, §11), plus its Supervisor
# plugin (supervisor 4.2.5 is the last release that still runs on Python 3.7).
PANEL_PACKAGES = ["psutil==5.9.4", "Jinja2==3.1.2", "requests==2.28.1", "supervisor==4.2.5"]
# The panel's interpreter: BaoTa 9-11 run plugins on Python 3.7 (3.7.16 on the servers
# checked), aaPanel 8 on 3.12. GSW_PANEL_PYTHON picks another one (e.g. 3.12 for aaPanel).
PANEL_PYTHON_VERSION = os.environ.get("GSW_PANEL_PYTHON_VERSION") or "3.7.16"


def pyenv_python(version):
    """pyenv's python<major.minor> of ``version``, or None when pyenv has not got it."""
    roots = []
    try:
        roots.append(subprocess.run(["pyenv", "root"], capture_output=True, text=True,
                                    check=True).stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        pass
    roots += [os.environ.get("PYENV_ROOT") or "", os.path.expanduser("~/.pyenv")]
    short = ".".join(version.split(".")[:2])
    for root in roots:
        exe = Path(root) / "versions" / version / "bin" / ("python" + short)
        if root and exe.is_file():
            return str(exe)
    return None


def panel_base_python():
    """The interpreter the sandbox's /www/server/panel/pyenv venv is made from."""
    chosen = os.environ.get("GSW_PANEL_PYTHON") or pyenv_python(PANEL_PYTHON_VERSION)
    if chosen:
        return chosen
    warnings.warn("Python %s is not installed (pyenv install %s; tools/setup.sh tries): the "
                  "sandbox's panel runs on %s instead, NOT the panel's own Python"
                  % (PANEL_PYTHON_VERSION, PANEL_PYTHON_VERSION, sys.version.split()[0]),
                  stacklevel=2)
    sys.stderr.write("\n*** sandbox: panel Python %s missing, falling back to %s ***\n\n"
                     % (PANEL_PYTHON_VERSION, sys.executable))
    return sys.executable


def cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    d = Path(base) / "gunicorn_switch"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _version_of(python):
    return subprocess.run([python, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                          capture_output=True, text=True, check=True).stdout.strip()


def _key(items, python=None):
    python = python or BASE_PYTHON
    ver = "%d.%d" % sys.version_info[:2] if python == BASE_PYTHON else _version_of(python)
    raw = json.dumps([python, ver, sorted(items)])
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


def wheelhouse(python=None, items=None):
    """A directory of wheels for everything the sandbox venvs may install, one per
    interpreter: wheels for another Python (the panel's 3.7) come from PyPI once."""
    python = python or BASE_PYTHON
    if items is None:
        items = SITE_PACKAGES + [GUNICORN_NEW, GUNICORN_OLD] + EXTRA + PANEL_PACKAGES
    d = cache_dir() / ("wheels-" + _key(items, python))
    done = d / ".complete"
    with _Lock(str(cache_dir() / ".wheels.lock")):
        if not done.exists():
            d.mkdir(parents=True, exist_ok=True)
            for spec in items:
                subprocess.run(
                    [python, "-m", "pip", "wheel", "-q", "--disable-pip-version-check",
                     "--wheel-dir", str(d), spec],
                    check=True,
                )
            done.write_text("ok\n")
    return d


def panel_wheelhouse():
    return wheelhouse(panel_base_python(), PANEL_PACKAGES)


def make_venv(dest, packages, pip_conf=True, python=None):
    """Create a venv at ``dest`` with ``packages`` installed offline from the wheelhouse of
    ``python`` (default: the sites' interpreter).

    With ``pip_conf`` the venv gets a pip.conf pointing at the wheelhouse, the way a server's
    pip configuration points at a mirror: the plugin's own pip step then works offline here.
    """
    dest = Path(dest)
    python = python or BASE_PYTHON
    wh = wheelhouse() if python == BASE_PYTHON else wheelhouse(python, PANEL_PACKAGES)
    subprocess.run([python, "-m", "venv", str(dest)], check=True)
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
    print(panel_wheelhouse())
    print(site_venv())
    print(old_gunicorn_venv())
