"""uWSGI option values read as uWSGI reads them: integers with C's ``atoi`` and switches with
``uwsgi_opt_true``, so that a value with a trailing comment means what it meant to uWSGI."""
import re

FALSE_WORDS = ("false", "off", "no")
_ATOI = re.compile(r"^[ \t\n\r\f\v]*([+-]?[0-9]+)")


def atoi(text):
    """C ``atoi``, which uWSGI uses for every integer option: the leading digits, the rest
    ignored, 0 when there are none (``processes = 8  # 8个进程`` runs 8 workers)."""
    m = _ATOI.match(text or "")
    return int(m.group(1)) if m else 0


def atoi_rest(text):
    """What ``atoi`` ignored in ``text`` (stripped), to tell the user about it."""
    m = _ATOI.match(text or "")
    return (text[m.end():] if m else (text or "")).strip()


def is_true(value):
    """uWSGI's ``uwsgi_opt_true``: only false/off/no (any case) or exactly ``0`` are false."""
    if value is None:
        return False
    return not (value.lower() in FALSE_WORDS or value == "0")
