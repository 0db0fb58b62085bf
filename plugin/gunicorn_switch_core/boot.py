"""What starts a site at boot, and what starts it there after the switch. Pure: text in, text
out (boot_apply.py reads and writes the files).

Where a Baota site's uWSGI is started at boot, besides its process manager (which managers.py
handles: a Supervisor program's autostart, a systemd unit, the panel's project autostart, an
Emperor's vassal file):

- an ``@reboot`` line of root's crontab (the panel's 计划任务 file, panel_cron.crontab_file);
- a line of ``/etc/rc.local``;
- an ``@reboot`` line of ``/etc/crontab``, ``/etc/cron.d/*`` or another user's crontab
  (boot_cron.py: which of those cron reads, and whom a line runs as);
- an init.d script, such as the old Python project manager's ``/etc/init.d/<name>_pymanager``
  (notes/baota-internals.md §8), which its systemd file or the rc?.d links run at boot. It
  starts anything at boot only when enabled: an ``S??<name>`` link in ``rc2.d``..``rc5.d``
  (update-rc.d, chkconfig; systemd-sysv-generator reads the same links). One without is
  reported in the plan, not edited.

An entry the switch does not edit carries ``edit: False`` and a ``reason`` (REASONS).

A line or script is the site's when it runs uWSGI (it says ``uwsgi``) and names one of the
site's own paths (its uWSGI config, its project directory), a path only counting as a whole
word (``/www/wwwroot/shop`` is not ``/www/wwwroot/shop.test``).

After the switch each such line is kept, commented out under a header that names the site, so
that the user sees what it was and rollback (or anyone) can put it back; where Gunicorn runs as
a plain daemon a line that runs the plugin's boot script takes its place. An init.d script is
replaced by one that runs the boot script on ``start`` and keeps the original LSB header (its
boot order). Rollback restores the files from their backups, byte for byte, or, when something
else changed them since, undoes only these edits (``undo_lines``).
"""
import os
import re
import shlex

from . import i18n, safe_text

MARK = "gunicorn_switch"
_COMMENT = re.compile(r"^\s*#")


def _path_re(path):
    """A path as a whole word: not followed by more of a file name."""
    return re.compile(re.escape(path.rstrip("/") or "/") + r"(?=$|[/\s'\";&|)<>`])")


def needles(uwsgi_config, project_path, extra=()):
    """The paths that make a boot line the site's: its uWSGI config, its project directory."""
    out = [p for p in [uwsgi_config, project_path] + list(extra) if p and p.startswith("/")
           and p.rstrip("/")]
    return [p.rstrip("/") for p in out]


def starts_site(line, paths_):
    """Does this (shell) line run the site's uWSGI?"""
    if _COMMENT.match(line) or "uwsgi" not in line.lower():
        return False
    return any(_path_re(p).search(line) for p in paths_)


def _lines(text):
    return text.splitlines(True)


def crontab_entries(text, paths_):
    """The ``@reboot`` lines of a crontab that start the site's uWSGI: [{line, text}]
    (line numbers from 1, text without its line ending)."""
    out = []
    for i, raw in enumerate(_lines(text), 1):
        line = raw.rstrip("\r\n")
        words = line.split(None, 1)
        if len(words) == 2 and words[0] == "@reboot" and starts_site(words[1], paths_):
            out.append({"line": i, "text": line})
    return out


def rc_local_entries(text, paths_):
    """The lines of /etc/rc.local (a shell script) that start the site's uWSGI."""
    return [{"line": i, "text": raw.rstrip("\r\n")} for i, raw in enumerate(_lines(text), 1)
            if starts_site(raw.rstrip("\r\n"), paths_)]


def initd_starts_site(text, paths_):
    """Does an init.d script start the site's uWSGI (a non-comment line that does)?"""
    if "# %s:" % MARK in text:
        return False  # one the switch wrote
    return any(starts_site(raw.rstrip("\r\n"), paths_) for raw in _lines(text))


_S_LINK = re.compile(r"^S\d\d(.+)$")
# the runlevels whose S links start a script at boot (multi-user and graphical)
RUNLEVELS = (2, 3, 4, 5)


def initd_enabled(name, links):
    """Is the init.d script ``name`` started at boot? ``links``: [(link name, its target or
    None)] of the rc?.d directories of RUNLEVELS. An ``S<NN>`` link that names the script or
    points at it enables it; ``K`` links stop it, they start nothing."""
    for link, target in links:
        m = _S_LINK.match(link)
        if m and (m.group(1) == name or (target and os.path.basename(target.rstrip("/")) == name)):
            return True
    return False


# why an entry found is not edited -> its words (i18n)
REASONS = {"initd_disabled": "boot_initd_disabled", "other_user": "boot_other_user"}


def split(entries):
    """(the entries the switch edits, the ones it only reports)."""
    return ([e for e in entries if e.get("edit", True)],
            [e for e in entries if not e.get("edit", True)])


def header(site):
    return "# %s %s: uWSGI's boot line, off while the site runs on Gunicorn:" % (MARK, site)


def tag(site):
    return "# %s %s" % (MARK, site)


def replacement_line(kind, script, site):
    """The line that starts Gunicorn at boot where uWSGI's was: for a crontab ``@reboot``,
    for rc.local the script itself (it returns at once: Gunicorn is started in the
    background)."""
    run = shlex.quote(script)
    return ("@reboot %s %s" if kind == "crontab" else "%s %s") % (run, tag(site))


def disable_lines(text, line_numbers, site, replacement=None):
    """``text`` with each of ``line_numbers`` commented out under the site's header, and
    ``replacement`` (a line) once, after the first. Line endings are kept."""
    lines = _lines(text)
    nl = "\r\n" if "\r\n" in text else "\n"
    out = []
    placed = False
    for i, raw in enumerate(lines, 1):
        if i not in line_numbers:
            out.append(raw)
            continue
        body = raw.rstrip("\r\n")
        end = raw[len(body):] or nl
        out.append(header(site) + end)
        out.append("#" + body + end)
        if replacement and not placed:
            out.append(replacement + end)
            placed = True
    return "".join(out)


def undo_lines(text, site):
    """Undo disable_lines: every commented line under the site's header back as it was,
    the replacement lines gone; nothing else changes."""
    lines = _lines(text)
    out = []
    i = 0
    head, t = header(site), tag(site)
    while i < len(lines):
        raw = lines[i]
        body = raw.rstrip("\r\n")
        if body == head and i + 1 < len(lines) and lines[i + 1].startswith("#"):
            out.append(lines[i + 1][1:])
            i += 2
            continue
        if body.endswith(" " + t):
            i += 1
            continue
        out.append(raw)
        i += 1
    return "".join(out)


def has_edits(text, site):
    return header(site) in text or (" " + tag(site)) in text


_LSB = re.compile(r"^### BEGIN INIT INFO.*?^### END INIT INFO[^\n]*\n", re.M | re.S)


def initd_text(original, script, site):
    """The init.d script that replaces one which started uWSGI: the original's LSB header
    (its name and boot order), then ``start`` runs the boot script; the other verbs say
    where the site is run from now."""
    m = _LSB.search(original)
    lsb = m.group(0) if m else ""
    # without a script Gunicorn's manager starts it at boot: start only says so
    start = "exec %s" % shlex.quote(script) if script else \
        'echo "%s: Gunicorn is started at boot by its process manager"; exit 0' % site
    return "".join([
        "#!/bin/sh\n",
        "# %s: %s runs on Gunicorn; uWSGI's script is kept by the switch and put back by "
        "its rollback\n" % (MARK, site),
        lsb,
        'case "$1" in\n',
        "  start) %s ;;\n" % start,
        '  stop|restart|reload|force-reload|status) echo "%s runs on Gunicorn: use the '
        'gunicorn_switch page"; exit 0 ;;\n' % site,
        '  *) echo "Usage: $0 {start|stop|restart|status}"; exit 1 ;;\n',
        "esac\n",
    ])


def dirs_lines(runtime_dir, unix, uid, gid):
    """bash lines that make Gunicorn's runtime directory (pidfile, sockets, stats) in root's
    parent under /run, which a reboot empties, and give it to the site's user (uid, gid):
    for the scripts root runs at boot. Root makes it: the site's user cannot write the
    parent, so nothing there can be swapped."""
    rdir = runtime_dir.rstrip("/")
    return [
        "install -d -o root -g root -m 0755 %s || exit 1" % safe_text.sh(os.path.dirname(rdir), "runtime_dir"),
        "install -d -o %d -g %d -m %s %s || exit 1" % (int(uid), int(gid), "0711" if unix else "0700",
                                                       safe_text.sh(rdir, "runtime_dir")),
    ]


# ---- the plan --------------------------------------------------------------------------------

# Gunicorn's process manager -> what brings it back at boot (the plan's "where")
MANAGER_BOOT = {
    "supervisor": ("进程守护管理器（Supervisor）开机自启（autostart=true）",
                   "the Supervisor plugin (autostart=true)"),
    "systemd": ("systemd 单元（已 enable）", "its systemd unit (enabled)"),
    "panel_project": ("面板 Python 项目的开机自启（auto_run）", "the panel project's autostart (auto_run)"),
}

# uWSGI's manager -> how the switch keeps it from coming back at boot
UWSGI_MANAGER_OFF = {
    "supervisor": "Supervisor program autostart=false",
    "systemd": "systemctl disable",
    "panel_project": "project_config stype=gunicorn (the panel starts Gunicorn)",
    "emperor": "vassal file removed (the Emperor no longer starts it)",
}


# an entry's kind -> where the line that runs the boot script goes (zh, en); another user's
# line is replaced from root's crontab: that user gets nothing that root runs
REPLACED_IN = {
    "crontab": ("计划任务 @reboot", "root's crontab @reboot"),
    "cron_user": ("计划任务 @reboot", "root's crontab @reboot"),
    "cron_system": ("/etc/crontab、/etc/cron.d 的 @reboot", "/etc/crontab, /etc/cron.d @reboot"),
    "rc_local": ("/etc/rc.local", "/etc/rc.local"),
    "initd": ("init.d 脚本", "the init.d script"),
}


def plan(entries, gunicorn_manager, uwsgi_manager, auto_run=None):
    """What the switch does about boot. ``entries``: [{kind: crontab|cron_system|cron_user|
    rc_local|initd, file, line?, text, run_as?, edit?, reason?}] from boot_apply.discover.
    Returns {found, reported, replace, where, where_en, persistent, uwsgi_off}: ``found`` is
    what the switch edits, ``reported`` what it leaves; ``replace`` says whether the boot
    script takes the place of the lines/scripts found (Gunicorn as a plain daemon) or they
    are only turned off (a manager that starts Gunicorn at boot itself)."""
    found, reported = split(entries)
    before = bool(found) or uwsgi_manager in ("supervisor", "systemd", "emperor") or \
        (uwsgi_manager == "panel_project" and auto_run is not False)
    if gunicorn_manager == "daemon":
        replace = bool(found)
        if replace:
            places = sorted(set(REPLACED_IN[f["kind"]] for f in found))
            where, where_en = ("%s → 插件的开机脚本" % "、".join(z for z, _ in places),
                               "%s -> the plugin's boot script" % ", ".join(e for _, e in places))
        else:
            where = where_en = None
        persistent = replace
    else:
        replace = False
        if gunicorn_manager == "panel_project" and auto_run is False:
            where = where_en = None
            persistent = False
        else:
            where, where_en = MANAGER_BOOT.get(gunicorn_manager, (None, None))
            persistent = where is not None
    return {"found": found, "reported": reported, "replace": replace, "where": where, "where_en": where_en,
            "persistent": persistent, "started_at_boot_before": before,
            "uwsgi_off": UWSGI_MANAGER_OFF.get(uwsgi_manager)}


_KIND_OPTION = {"crontab": "@reboot", "cron_system": "@reboot", "cron_user": "@reboot",
                "rc_local": "/etc/rc.local", "initd": "init.d"}


def reason_text(entry, lang):
    return i18n.t(REASONS[entry["reason"]], lang, file=entry["file"], run_as=entry.get("run_as"),
                  user=entry.get("site_user"))


def carried_items(p, lang, none_note):
    """The plan page's rows for boot (kind "boot", as the carried-over items): one per line or
    script found, else one that says what started uWSGI at boot and what starts Gunicorn."""
    en = lang == "en"
    where = (p["where_en"] if en else p["where"]) or none_note
    items = []
    for f in p["found"]:
        if p["replace"]:
            detail = ("commented out in %s; a line that runs the plugin's boot script takes its place"
                      if en else "在 %s 中注释掉，由运行插件开机脚本的一行代替") % f["file"]
            if f["kind"] == "initd":
                detail = ("%s now runs the plugin's boot script on start" if en else
                          "%s 的 start 改为运行插件的开机脚本") % f["file"]
            elif f["kind"] == "cron_user":
                detail = ("commented out in %s; root's crontab runs the plugin's boot script "
                          "instead" if en else "在 %s 中注释掉，改由 root 的计划任务运行插件的开机脚本") % f["file"]
        elif f["kind"] == "initd":
            detail = ("%s no longer starts uWSGI (rollback puts it back)" if en else
                      "%s 不再启动 uWSGI（回滚时恢复）") % f["file"]
        else:
            detail = ("commented out in %s (rollback puts it back)" if en else
                      "在 %s 中注释掉（回滚时恢复）") % f["file"]
        items.append({"kind": "boot", "option": _KIND_OPTION[f["kind"]], "value": f["text"],
                      "origin": f["file"], "where": where, "detail": detail})
    if not items:
        items.append({"kind": "boot", "option": "boot", "value": p["uwsgi_off"] or (
            "nothing started uWSGI at boot" if en else "uWSGI 原本不会开机启动"),
            "origin": None, "where": where, "detail": "" if p["persistent"] else none_note})
    for f in p.get("reported") or []:
        items.append({"kind": "boot_left", "option": _KIND_OPTION[f["kind"]], "value": f["text"],
                      "origin": f["file"], "where": None, "detail": reason_text(f, lang)})
    return items
