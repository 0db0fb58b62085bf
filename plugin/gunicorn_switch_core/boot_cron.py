"""Which crontabs cron reads at boot, and whom their ``@reboot`` lines run as. Pure: names,
stat results and text in, decisions out (boot_apply.py lists and reads the files).

Three kinds of crontab start things at boot (facts: cron(8) of Debian's cron; cronie
src/database.c ``not_a_crontab``/``check_open``):

- root's spool crontab, the panel's 计划任务 file (boot.crontab_entries): lines run as root;
- the system crontabs ``/etc/crontab`` and ``/etc/cron.d/*``: a user field after the schedule
  (``@reboot www /path/...``), the line runs as that user. Cron reads only regular files owned
  by root that group and others cannot write; in cron.d Debian's cron reads only names made
  of letters, digits, ``_`` and ``-`` (run-parts' names: ``uwsgi.cron`` is skipped), cronie
  skips names starting with ``.`` or ``#`` and backup names (``~``, ``.rpmsave``, ``.rpmorig``,
  ``.rpmnew``);
- another user's spool crontab, ``<spool>/<user>`` (``/var/spool/cron/crontabs`` on Debian,
  ``/var/spool/cron`` on the Red Hat family, the panel's choice too: panel_cron.crontab_file):
  no user field, runs as the user the file is named after, read only when that user exists and
  owns the file and group and others cannot write it.

A line is the switch's to turn off only when it runs as root or as the site's user: a line
that runs as someone else cannot have started the uWSGI of the site's user, and that user's
file is not the switch's to edit (it is reported in the plan instead).
"""
import re
import shlex
import stat

from . import boot

DEBIAN, CRONIE = "debian", "cronie"
_RUN_PARTS_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_CRONIE_SKIP_SUFFIXES = ("~", ".rpmsave", ".rpmorig", ".rpmnew")
# a user field: a line without one (its command where the user should be) is one cron
# rejects (unknown user), and so is a name that no user has (boot_apply looks)
_USER_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*\$?$")


def flavor(spool_dir):
    """Debian's cron keeps the spool in ``.../crontabs``, cronie in ``/var/spool/cron``."""
    return DEBIAN if spool_dir.rstrip("/").endswith("/crontabs") else CRONIE


def _cronie_reads(name):
    return not (name.startswith((".", "#")) or name.endswith(_CRONIE_SKIP_SUFFIXES))


def cron_d_name_read(name, flavor_):
    """Does cron read ``/etc/cron.d/<name>``?"""
    if flavor_ == DEBIAN:
        return bool(_RUN_PARTS_NAME.match(name))
    return _cronie_reads(name)


def spool_name_read(name):
    """Is ``<spool>/<name>`` a user's crontab (not a dot file, an editor's or rpm's backup)?
    Cron then reads it only if a user of that name exists (boot_apply looks)."""
    return _cronie_reads(name)


def tab_read(st, owner_uid):
    """Does cron read a crontab with this lstat: a regular file, owned by ``owner_uid`` (root
    for the system crontabs, the named user for a spool crontab), not writable by group or
    others? (A symlink in cron.d is read by Debian's cron when root owns both; the switch does
    not edit through one, so it is not taken.)"""
    return stat.S_ISREG(st.st_mode) and st.st_uid == owner_uid and not st.st_mode & 0o022


def system_entries(text, paths_):
    """The ``@reboot`` lines of a system crontab that start the site's uWSGI:
    [{line, text, run_as}] (line numbers from 1, text without its line ending)."""
    out = []
    for i, raw in enumerate(text.splitlines(True), 1):
        line = raw.rstrip("\r\n")
        words = line.split(None, 2)
        if len(words) == 3 and words[0] == "@reboot" and _USER_FIELD.match(words[1]) and \
                boot.starts_site(words[2], paths_):
            out.append({"line": i, "text": line, "run_as": words[1]})
    return out


def editable(run_as, site_user):
    """May the switch turn off a line that runs as ``run_as``?"""
    return run_as in ("root", site_user)


def replacement_line(script, site):
    """The system crontab's line that runs the plugin's boot script (root's own, 0700): as
    root, which makes the runtime dir and then drops to the site's user."""
    return "@reboot root %s %s" % (shlex.quote(script), boot.tag(site))
