"""gunicorn_switch core: everything the plugin does, with no panel imports.

Three layers (docs/ARCHITECTURE.md): reading modules look at files and processes and change
nothing; deciding modules (translating, rendering, planning) take text and data and return
data; applying modules (the switch and rollback steps, the managers, control, tasks, nginx_live,
nginx_stage) change the host. They change it through ``host`` and ``safe_files`` or by running a
command as an argument list, never through a shell.

The release's version has one home, the plugin's info.json; the core reads it from there.
"""
import json
import os

_PACKAGE_DIR = os.path.dirname(os.path.realpath(__file__))
PLUGIN_DIR = os.path.dirname(_PACKAGE_DIR)


def _file_stamps():
    """(mtime_ns, size) of every source file of the package as it is imported: the main file
    compares them with the disk to tell a cached core from the one a new release put there."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(_PACKAGE_DIR):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for f in filenames:
            if f.endswith(".py"):
                path = os.path.join(dirpath, f)
                st = os.stat(path)
                out[path] = (st.st_mtime_ns, st.st_size)
    return out


def release_info():
    """The plugin's info.json: beside the main file when installed, one level up in a checkout."""
    for folder in (PLUGIN_DIR, os.path.dirname(PLUGIN_DIR)):
        path = os.path.join(folder, "info.json")
        try:
            with open(path, encoding="utf-8") as fh:
                info = json.load(fh)
        except (OSError, ValueError):
            continue
        if isinstance(info, dict):
            return info
    return {}


SOURCE_STAMPS = _file_stamps()
__version__ = str(release_info().get("versions") or "0")
