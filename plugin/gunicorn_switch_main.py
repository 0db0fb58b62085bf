# coding: utf-8
"""gunicorn_switch — the panel's entry point (class gunicorn_switch_main).

The panel imports this file and calls ``gunicorn_switch_main().<method>(get)``. This class stays
thin: it hands ``get`` to the core, which returns {status, msg, data} and never raises. The
core is a sibling package, put on sys.path explicitly because newer panels load plugins
through a closed loader that may not do it (notes/baota-internals.md §1).
"""
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from gunicorn_switch_core import api  # noqa: E402


class gunicorn_switch_main(object):  # noqa: N801 - the panel requires this name
    def get_sites(self, get):
        return api.call("get_sites", get)

    def get_status(self, get):
        return api.call("get_status", get)

    def control(self, get):
        return api.call("control", get)

    def get_logs(self, get):
        return api.call("get_logs", get)

    def plan(self, get):
        return api.call("plan", get)

    def switch(self, get):
        return api.call("switch", get)

    def rollback(self, get):
        return api.call("rollback", get)

    def get_task(self, get):
        return api.call("get_task", get)
