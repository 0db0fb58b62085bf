"""The tail of a switched site's Gunicorn logs, for the page.

The path comes from the site's record, never from the page, and must resolve (symlinks
included) inside the record's log directory: a record is a file an attacker with a foothold
could edit, and the panel runs as root. Reading is bounded whatever the log's size.
"""
import os

from . import i18n, records, safe_files

KINDS = ("error", "access")
MAX_LINES = 2000
MAX_BYTES = 512 * 1024


class LogError(Exception):
    """The log cannot be shown; the message is for the page."""


def tail_bytes(data, lines, cut):
    """The last ``lines`` lines of ``data`` (bytes) as text; ``cut``: data starts mid-file,
    so its first line is partial and dropped."""
    text = data.decode("utf-8", "replace")
    parts = text.splitlines()
    if cut and parts:
        parts = parts[1:]
    return "\n".join(parts[-lines:]) + ("\n" if parts else "")


def inside(path, directory):
    """True when ``path`` names a file strictly inside ``directory``, as written and as its
    links resolve now (and read_tail then refuses any link the site's user could plant, so
    the answer cannot change between this check and the read)."""
    for p, d in ((os.path.normpath(path), os.path.normpath(directory)),
                 (os.path.realpath(path), os.path.realpath(directory))):
        if p == d or os.path.commonpath([p, d]) != d:
            return False
    return True


def read_tail(path, lines, max_bytes=MAX_BYTES):
    try:
        data, size = safe_files.read_tail(path, max_bytes)
    except FileNotFoundError:
        return ""  # not written yet
    except OSError as e:
        raise LogError(i18n.t("log_unreadable", path=path, error=e.strerror or e))
    return tail_bytes(data, lines, size > max_bytes)


def get_logs(site, kind="error", lines=200):
    """The last ``lines`` (1..2000) lines of the site's ``kind`` log, as text."""
    if kind not in KINDS:
        raise LogError(i18n.t("bad_kind"))
    if not isinstance(lines, int) or not 1 <= lines <= MAX_LINES:
        raise LogError(i18n.t("bad_lines", max=MAX_LINES))
    rec = records.load(site)
    if rec is None:
        raise LogError(i18n.t("not_managed", name=site))
    path = rec.get(kind + "_log")
    log_dir = rec.get("log_dir")
    if not path:
        raise LogError(i18n.t("no_log", kind=kind))
    if not log_dir or not os.path.isabs(path) or not inside(path, log_dir):
        raise LogError(i18n.t("log_outside", path=path, dir=log_dir))
    return read_tail(path, lines)
