"""Which Gunicorn a site gets, and which of its settings that release has."""
import re

NEWEST_GUNICORN = "27.0.1"
# the last release that installs on Python < 3.10
LEGACY_GUNICORN = "23.0.0"
# Gunicorn silently ignores unknown names, so writing a setting an older release lacks would
# pass --check-config and then do nothing: gate them instead.
MIN_VERSION = {
    "control_socket": (25, 1, 0),
    "control_socket_disable": (25, 1, 0),
    "asgi_worker": (24, 0, 0),
}


def parse_version(text):
    nums = re.findall(r"\d+", str(text or ""))
    return tuple(int(n) for n in (nums + ["0", "0", "0"])[:3])


def has_feature(gunicorn_version, feature):
    return parse_version(gunicorn_version) >= MIN_VERSION[feature]


def choose_gunicorn_version(python_version, requested=None):
    """The Gunicorn the venv's Python can run, and a warning when ``requested`` can't be."""
    py = parse_version(python_version)[:2] if python_version else (3, 11)
    if py < (3, 10):
        if requested and parse_version(requested) > parse_version(LEGACY_GUNICORN):
            return LEGACY_GUNICORN, ("Gunicorn %s needs Python >= 3.10; this venv has Python "
                                     "%s.%s, so Gunicorn %s is used" % (
                                         requested, py[0], py[1], LEGACY_GUNICORN))
        return requested or LEGACY_GUNICORN, None
    return requested or NEWEST_GUNICORN, None
