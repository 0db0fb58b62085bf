"""The log rotation and memory guard settings of a switched site, as the 设置 tab shows and
changes them.

The rotation itself runs in the site's Gunicorn master (the collector thread of the hooks in
gunicorn_conf.py, as the site's user); its settings are four lines of that conf, which the
thread re-reads when the file changes. So reading and changing them is reading and rewriting
those lines: no signal, no restart, and a reload keeps them.
"""
import re
import time

from . import control, host, i18n, records

# conf line name -> (API name, factor from the API's unit to the conf's)
FIELDS = (("_LOG_ROTATE_MAX_BYTES", "max_mb", 1048576),
          ("_LOG_ROTATE_KEEP", "keep", 1),
          ("_LOG_ROTATE_MAX_AGE", "max_age_hours", 3600),
          # the memory guard lives in the same thread and is set the same way
          ("_MEMORY_LIMIT_MB", "memory_limit_mb", 1))
LIMITS = {"max_mb": (1, 102400), "keep": (1, 100), "max_age_hours": (0, 24 * 365),
          "memory_limit_mb": (0, 1048576)}
_NOTE = "# set by the 设置 tab"


class RotationError(Exception):
    """A refusal; the message is for the page."""


def _line(name):
    return re.compile(r"^%s = ([0-9.]+)[ \t]*(#[^\n]*)?$" % name, re.M)


def read_settings(text):
    """{max_mb, keep, max_age_hours} from a conf's text; None without the hooks' lines."""
    out = {}
    for name, key, factor in FIELDS:
        found = _line(name).findall(text)
        if len(found) != 1:
            return None
        value = float(found[0][0]) / factor
        out[key] = int(value) if value == int(value) else round(value, 2)
    return out


def set_settings(text, values):
    """``text`` with the lines of ``values`` ({max_mb, keep, max_age_hours}) set."""
    stamp = time.strftime("%Y-%m-%d %H:%M")
    for name, key, factor in FIELDS:
        if key not in values:
            continue
        matches = list(_line(name).finditer(text))
        if len(matches) != 1:
            raise ValueError("expected one '%s = N' line, found %d" % (name, len(matches)))
        m = matches[0]
        text = text[:m.start()] + "%s = %d  %s on %s" % (
            name, int(values[key] * factor), _NOTE, stamp) + text[m.end():]
    return text


def _conf(site):
    rec = records.load(site)
    if rec is None:
        raise RotationError(i18n.t("not_managed", name=site))
    conf = rec.get("gunicorn_conf")
    try:
        data = host.read_bytes(conf)
    except (OSError, TypeError, host.HostError):
        raise RotationError(i18n.t("no_rotation", path=conf)) from None
    return conf, data


def get(site):
    conf, data = _conf(site)
    got = read_settings(data.decode("utf-8", "replace"))
    if got is None:
        raise RotationError(i18n.t("no_rotation", path=conf))
    return dict(got, conf=conf)


def put(site, values):
    conf, data = _conf(site)
    text = data.decode("utf-8")
    if read_settings(text) is None:
        raise RotationError(i18n.t("no_rotation", path=conf))
    backup, _undo = control.rewrite_conf(site, conf, data, set_settings(text, values))
    return dict(read_settings(host.read_bytes(conf).decode("utf-8")), conf=conf, backup=backup)
