"""The tail of a switched site's Gunicorn logs, for the page.

The path comes from the site's record, never from the page, and must resolve (symlinks
included) inside the record's log directory: a record is a file an attacker with a foothold
could edit, and the panel runs as root. Reading is bounded whatever the log's size.

A site run by systemd also has the journal of its unit (what Gunicorn and the app write to
stdout/stderr, and systemd's own lines about the unit): ``journalctl -u <unit> -n N``, as an
argument list, bounded in lines, bytes and time. A systemd site whose error or access log is
``-`` (stdout/stderr) is read from the journal too.
"""
import os
import re
import subprocess
import threading

from . import host, i18n, records, safe_files

KINDS = ("error", "access", "journal")
MAX_LINES = 2000
MAX_BYTES = 512 * 1024
JOURNAL_TIMEOUT = 10.0
# the units the plugin writes (managers.unit_name); a record is checked against it
_UNIT = re.compile(r"^gunicorn-[A-Za-z0-9_.-]{1,200}\.service$")


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
    if kind == "journal" or (rec.get("manager") == "systemd" and rec.get(kind + "_log") == "-"):
        return read_journal(rec, lines)
    path = rec.get(kind + "_log")
    log_dir = rec.get("log_dir")
    if not path:
        raise LogError(i18n.t("no_log", kind=kind))
    if not log_dir or not os.path.isabs(path) or not inside(path, log_dir):
        raise LogError(i18n.t("log_outside", path=path, dir=log_dir))
    return read_tail(path, lines)


def journal_argv(unit, lines, own=False):
    """The journalctl command for the last ``lines`` entries of ``unit`` (options systemd 219,
    CentOS 7's, already has). ``own``: only what the unit's processes wrote (not systemd's
    lines about the unit), messages alone."""
    if not _UNIT.match(unit or "") or not isinstance(lines, int) or not 1 <= lines <= MAX_LINES:
        raise LogError(i18n.t("journal_failed", unit=str(unit)[:80], error="bad unit or lines"))
    if own:
        return ["journalctl", "_SYSTEMD_UNIT=" + unit, "-n", str(lines), "--no-pager", "-o", "cat"]
    return ["journalctl", "-u", unit, "-n", str(lines), "--no-pager", "-o", "short-iso"]


def bounded_output(argv, max_bytes=MAX_BYTES, timeout=JOURNAL_TIMEOUT):
    """(exit code, the last ``max_bytes`` of stdout, whether earlier bytes were dropped) of
    ``argv`` (a list; never a shell). Killed after ``timeout`` seconds; memory stays within
    twice ``max_bytes`` whatever the command writes."""
    env = {"PATH": host.SAFE_PATH, "LANG": "C.UTF-8", "SYSTEMD_PAGER": "", "PAGER": "cat",
           "SYSTEMD_COLORS": "0"}
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=env, close_fds=True)
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    buf, cut = b"", False
    try:
        while True:
            chunk = proc.stdout.read(65536)
            if not chunk:
                break
            buf += chunk
            if len(buf) > max_bytes:
                buf, cut = buf[-max_bytes:], True
    finally:
        timer.cancel()
        proc.stdout.close()
        rc = proc.wait()
    return rc, buf, cut


def unit_output(unit, lines=15):
    """The last lines the unit's own processes wrote (a Gunicorn that could not start says
    why on stderr, before its error log is open); "" when there is no journal to read."""
    try:
        rc, data, cut = bounded_output(journal_argv(unit, lines, own=True), max_bytes=16384)
    except (OSError, LogError):
        return ""
    return tail_bytes(data, lines, cut) if rc == 0 else ""


def read_journal(rec, lines):
    """The last ``lines`` lines of the journal of a systemd site's unit."""
    if rec.get("manager") != "systemd":
        raise LogError(i18n.t("no_journal", name=rec.get("site")))
    unit = rec.get("manager_detail")
    argv = journal_argv(unit, lines)
    try:
        rc, data, cut = bounded_output(argv)
    except OSError as e:
        raise LogError(i18n.t("journal_failed", unit=unit, error=e.strerror or e))
    text = tail_bytes(data, lines, cut)
    if rc != 0 and not text.strip():
        raise LogError(i18n.t("journal_failed", unit=unit, error="exit %d" % rc))
    return text
