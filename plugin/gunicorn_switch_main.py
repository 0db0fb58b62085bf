# coding: utf-8
"""gunicorn_switch — the panel's entry point (class gunicorn_switch_main).

The panel imports this file and calls ``gunicorn_switch_main().<method>(get)``. This class stays
thin: it hands ``get`` to the core, which returns {status, msg, data} and never raises.

How the real loader treats this file (docs/ARCHITECTURE.md, facts: panel loader) shapes the code below: the
panel process lives for weeks, re-executes this file only when its mtime changes, and keeps
every module it imported in ``sys.modules``. So each time this file runs it first throws away a
cached core that is not the one on disk now (another release, or edited files); otherwise an
upgrade would keep the old core answering under the new entry point until the panel restarts.
"""
import importlib
import json
import os
import sys

_HERE = os.path.dirname(os.path.realpath(__file__))
# First on sys.path, as the real loader does: a core package elsewhere on the path (another
# copy of the plugin) must not win over the one beside this file.
if _HERE in sys.path:
    sys.path.remove(_HERE)
sys.path.insert(0, _HERE)

CORE = "gunicorn_switch_core"
_CORE_DIR = os.path.join(_HERE, CORE)


def _shipped_version():
    """``versions`` of the info.json beside this file (a checkout keeps it one level up)."""
    for folder in (_HERE, os.path.dirname(_HERE)):
        try:
            with open(os.path.join(folder, "info.json"), encoding="utf-8") as fh:
                return str(json.load(fh)["versions"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return None


def _stamp(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def _cached_core():
    return {name: mod for name, mod in list(sys.modules.items())
            if name == CORE or name.startswith(CORE + ".")}


def _is_current(modules):
    """True when every cached core module is the file on disk now, of this release."""
    pkg = modules.get(CORE)
    if pkg is None or getattr(pkg, "__version__", None) != _shipped_version():
        return False
    # Stamps the package took of its own files when it was imported (by us, a test or the
    # task runner's ``-m``); a package without them predates this check: reload it.
    stamps = getattr(pkg, "SOURCE_STAMPS", None) or {}
    for mod in modules.values():
        path = os.path.realpath(getattr(mod, "__file__", None) or "/")
        if not path.startswith(_CORE_DIR + os.sep) or stamps.get(path) != _stamp(path):
            return False
    return True


def _load_core():
    modules = _cached_core()
    if modules and not _is_current(modules):
        for name in modules:
            sys.modules.pop(name, None)
        importlib.invalidate_caches()  # a new release may add files in a directory seen before
    return importlib.import_module(CORE + ".api")


api = _load_core()


class gunicorn_switch_main(object):  # noqa: N801 - the panel requires this name
    def get_info(self, get):
        return api.call("get_info", get)

    def get_sites(self, get):
        return api.call("get_sites", get)

    def get_status(self, get):
        return api.call("get_status", get)

    def control(self, get):
        return api.call("control", get)

    def get_logs(self, get):
        return api.call("get_logs", get)

    def get_history(self, get):
        return api.call("get_history", get)

    def get_log_rotation(self, get):
        return api.call("get_log_rotation", get)

    def set_log_rotation(self, get):
        return api.call("set_log_rotation", get)

    def plan(self, get):
        return api.call("plan", get)

    def switch(self, get):
        return api.call("switch", get)

    def rollback(self, get):
        return api.call("rollback", get)

    def get_task(self, get):
        return api.call("get_task", get)

    def uninstall_check(self, get):
        # The panel calls this before `install.sh uninstall`; its answer is not the usual
        # envelope: status True means "refuse", with msg shown to the user (facts: panel envelope).
        return api.uninstall_check()
