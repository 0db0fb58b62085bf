"""Render a translation as gunicorn_conf.py (jinja2 template ``templates/gunicorn_conf.py.j2``).

The output is Python that Gunicorn executes; values go through ``repr`` (never pasted as
text) so that a path or header from a config file cannot break out of its string.
"""
import os

import jinja2

from . import __version__, saturation, stats_layout

TEMPLATE = "gunicorn_conf.py.j2"
OCTAL_SETTINGS = ("umask", "control_socket_mode")
# Log rotation defaults (the 设置 tab changes them in the conf): 100 MB or a day, keep 7;
# the collector thread looks every 10 s.
LOG_ROTATION = {"max_bytes": 100 * 1048576, "keep": 7, "max_age": 86400, "every": 10.0}


def _py(value, name=None):
    """A Python literal for ``value`` (octal for modes)."""
    if name in OCTAL_SETTINGS and isinstance(value, int) and not isinstance(value, bool):
        return "0o%03o" % value
    if isinstance(value, (list, tuple)):
        return "[%s]" % ", ".join(_py(v) for v in value)
    if isinstance(value, dict):
        return "{%s}" % ", ".join("%s: %s" % (_py(k), _py(v)) for k, v in value.items())
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    raise TypeError("cannot render %r as a Python literal" % (value,))


def _comment(text):
    """One line of comment text: newlines would end the comment and start code."""
    return " ".join(str(text).split())


def _environment():
    # bandit B701 reviewed: renders Python source, not HTML; values go through repr
    env = jinja2.Environment(  # nosec B701
        loader=jinja2.FileSystemLoader(os.path.join(os.path.dirname(__file__), "templates")),
        # The output is Python source, not HTML; values are escaped by _py instead.
        autoescape=False,  # noqa: S701
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["py"] = _py
    env.filters["comment"] = _comment
    return env


def render(translation, stats=True):
    """The text of gunicorn_conf.py for a ``uwsgi_translate.Translation``; ``stats`` False
    leaves out the hooks block (a container export has no status page to feed)."""
    tr = translation
    offsets = {name: [off, fmt] for name, (off, fmt) in stats_layout.OFFSETS.items()}
    spans = {key: list(stats_layout.span(*names)) for key, names in stats_layout.SPANS.items()}
    text = _environment().get_template(TEMPLATE).render(
        site=tr.site,
        plugin_version=__version__,
        gunicorn_version=tr.gunicorn_version,
        warnings=tr.warnings,
        settings=list(tr.settings.values()),
        runtime_dir=tr.runtime_dir,
        hooks=tr.hooks,
        layout=stats_layout,
        diag=saturation.DIAG,
        offsets=offsets,
        spans=spans,
        magic=repr(stats_layout.MAGIC),
        stats=stats,
        log_rotation=dict(LOG_ROTATION, **(getattr(tr, "log_rotation", None) or {})),
    )
    compile(text, "gunicorn_conf.py", "exec")  # a template bug must not reach a server
    return text
