"""gunicorn_switch core: everything the plugin does, with no panel imports.

Pure modules (parsing, translating, planning) take text and data and return data; the
side effects (files, processes, commands) live in ``host``.
"""

__version__ = "1.0.0"
