"""Boot persistence on the host: find what starts a site's uWSGI at boot (read-only), put
Gunicorn in its place, and undo that on rollback. The decisions are boot.py's.

Every file changed here is backed up (``backup(path)``) before it changes. They are root's
(root's crontab, /etc/crontab, /etc/cron.d, /etc/rc.local, an init.d script) except another
user's spool crontab, which cron runs as that user: it is read and replaced by descriptor
(safe_files, in the spool directory that only root and cron's group can write), keeps its
owner and mode, and only ever loses lines: the line that starts Gunicorn instead goes into
root's crontab, so that user gets nothing that root runs. The boot script lives in the
plugin's own 0700 state directory, so root executes nothing at boot that the site's user could
change: the script drops to that user before it runs anything of the site's
(panel_project.drop_lines).
"""
import os
import pwd
import shlex
import stat

from . import (boot, boot_cron, daemons, host, i18n, panel_cron, panel_project, paths, records,
               safe_files, safe_text, supervisor_programs)

RC_LOCAL = "/etc/rc.local"
INITD = "/etc/init.d"
SYSTEM_CRONTAB = "/etc/crontab"
CRON_D = "/etc/cron.d"
# where update-rc.d (Debian) and chkconfig (the Red Hat family, /etc/rc?.d being links to
# these) put the S/K links of init.d scripts
RC_DIRS = tuple("/etc/rc%d.d" % n for n in boot.RUNLEVELS) + \
    tuple("/etc/rc.d/rc%d.d" % n for n in boot.RUNLEVELS)
# init.d scripts that are not a site's, never read
INITD_SKIP = ("nginx", "bt", "README", "skeleton", "rc", "rcS", "functions")


def rc_local():
    return paths.real(RC_LOCAL)


def initd_dir():
    return paths.real(INITD)


def script_path(site):
    return os.path.join(paths.real(paths.PLUGIN_STATE), "boot", site + ".sh")


_read = panel_cron.read_text
_sha = panel_cron.text_sha256


def _initd_scripts():
    try:
        names = sorted(safe_files.listdir(initd_dir()))
    except OSError:
        return []
    out = []
    for name in names:
        if name in INITD_SKIP or name.startswith("."):
            continue
        path = os.path.join(initd_dir(), name)
        st = safe_files.lstat(path)
        if st is not None and stat.S_ISREG(st.st_mode) and st.st_size < host.MAX_READ:
            out.append(path)
    return out


def _names(directory):
    try:
        return sorted(safe_files.listdir(directory))
    except OSError:
        return []


def _user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def crontabs():
    """[(path, kind, run_as)] of the crontabs cron reads (boot_cron): root's (the panel's
    file), the system ones (run_as None: each line names its user), the other users'."""
    root = panel_cron.crontab_file()
    out = [(root, "crontab", "root")]
    flavor = boot_cron.flavor(os.path.dirname(root))
    cron_d = paths.real(CRON_D)
    for path in [paths.real(SYSTEM_CRONTAB)] + [os.path.join(cron_d, n) for n in _names(cron_d)
                                                if boot_cron.cron_d_name_read(n, flavor)]:
        st = safe_files.lstat(path)
        if st is not None and boot_cron.tab_read(st, 0):
            out.append((path, "cron_system", None))
    spool = os.path.dirname(root)
    for name in _names(spool):
        if name == "root" or not boot_cron.spool_name_read(name):
            continue
        if not _user_exists(name):
            continue  # cron skips a crontab whose user does not exist
        uid = pwd.getpwnam(name).pw_uid
        path = os.path.join(spool, name)
        st = safe_files.lstat(path)
        if st is not None and boot_cron.tab_read(st, uid):
            out.append((path, "cron_user", name))
    return out


def _rc_links():
    """[(link name, target or None)] in the rc?.d directories of the boot runlevels."""
    out = []
    for d in RC_DIRS:
        real = paths.real(d)
        for name in _names(real):
            st = safe_files.lstat(os.path.join(real, name))
            target = safe_files.readlink(os.path.join(real, name)) if st is not None and \
                stat.S_ISLNK(st.st_mode) else None
            out.append((name, target))
    return out


def discover(uwsgi_config, project_path, site_user):
    """[{kind, file, line?, text, run_as?, edit?, reason?}]: what starts the site's uWSGI at
    boot besides its manager; an entry the switch leaves as it is says why (boot.REASONS).
    ``site_user``: the user the site's uWSGI ran as. Reads only."""
    needles = boot.needles(uwsgi_config, project_path)
    if not needles:
        return []
    found = []
    for path, kind, run_as in crontabs():
        text = _read(path) or ""
        if kind == "cron_system":
            entries = boot_cron.system_entries(text, needles)
        else:
            entries = [dict(e, run_as=run_as) for e in boot.crontab_entries(text, needles)]
        for e in entries:
            if not _user_exists(e["run_as"]):
                continue  # cron does not run a line of a user that does not exist
            f = dict(e, kind=kind, file=path)
            if not boot_cron.editable(e["run_as"], site_user):
                f.update(edit=False, reason="other_user", site_user=site_user)
            found.append(f)
    text = _read(rc_local())
    for e in boot.rc_local_entries(text or "", needles):
        found.append(dict(e, kind="rc_local", file=rc_local()))
    links = None
    for path in _initd_scripts():
        text = _read(path)
        if text and boot.initd_starts_site(text, needles):
            name = os.path.basename(path)
            f = {"kind": "initd", "file": path, "text": name}
            links = _rc_links() if links is None else links
            if not boot.initd_enabled(name, links):
                f.update(edit=False, reason="initd_disabled")
            found.append(f)
    return found


def dirs_lines(record, user):
    return boot.dirs_lines(record["runtime_dir"], str(record.get("bind", "")).startswith("unix:"),
                           user.uid, user.gid)


def dirs_script_path(site):
    return os.path.join(paths.real(paths.PLUGIN_STATE), "boot", site + ".dirs.sh")


def dirs_script_text(record):
    user = host.User(records.user_of(record))
    return "\n".join([
        "#!/bin/bash",
        "# %s: makes %s's Gunicorn runtime directory at boot, before Supervisor starts "
        "Gunicorn (written by the switch, removed by its rollback)" % (boot.MARK, record["site"]),
        "PATH=%s" % host.SAFE_PATH,
    ] + dirs_lines(record, user) + ["exit 0", ""])


def prep_program(site):
    return supervisor_programs.program_name(site) + "_boot"


def prep_program_text(prog, script):
    """A root Supervisor program that runs once when supervisord starts (at boot), before
    the site's Gunicorn program (priority 1 against 999): Gunicorn, started as the site's
    user, cannot make its runtime directory under root's /run/gunicorn_switch itself, and
    retries (startretries) if it comes up first."""
    log = os.path.join(paths.real(paths.SUPERVISOR_PLUGIN), "log")
    return "\n".join([
        "[program:%s]" % prog,
        "command=/bin/bash %s" % safe_text.check_path(script, "boot script"),
        "directory=/",
        "autostart=true",
        "autorestart=false",
        "startsecs=0",
        "startretries=0",
        "exitcodes=0",
        # root, and only for root's own script (0700, in root's 0700 state dir): it runs
        # nothing of the site's, and the dir it makes sits in root's 0755 /run/gunicorn_switch
        "user=root",
        "priority=1",
        "stdout_logfile=%s/%s.out.log" % (log, prog),
        "stderr_logfile=%s/%s.err.log" % (log, prog),
        "stdout_logfile_maxbytes=1MB",
        "stderr_logfile_maxbytes=1MB",
        "",
    ])


def script_text(record):
    """The boot script: run by root at boot (cron's @reboot, rc.local, an init.d script). It
    makes Gunicorn's runtime directory (under /run, which a reboot empties) in root's parent
    and gives it to the site's user, then starts Gunicorn as that user in the background; the
    log is opened by that user. Then uWSGI's daemons the plugin runs itself (record's
    ``daemons``), as that user too. Every path is checked and quoted (safe_text)."""
    user = host.User(records.user_of(record))
    venv = safe_text.sh(record["venv"], "venv")
    env = ["env", "-i", "PATH=" + safe_text.sh(record["venv"].rstrip("/") + "/bin:" + host.SAFE_PATH, "PATH"),
           "HOME=" + safe_text.sh(user.home, "home"), "USER=" + shlex.quote(user.name),
           "LOGNAME=" + shlex.quote(user.name), "LANG=C.UTF-8", "VIRTUAL_ENV=" + venv]
    log = os.path.join(record["log_dir"], "gunicorn_stdout.log")
    run = " ".join(env + ["/bin/sh", "-c", shlex.quote('exec "$0" -c "$1" >>"$2" 2>&1'),
                          safe_text.sh(record["gunicorn_bin"], "gunicorn"),
                          safe_text.sh(record["gunicorn_conf"], "gunicorn_conf"),
                          safe_text.sh(log, "log")])
    return "\n".join([
        "#!/bin/bash",
        "# %s: starts %s's Gunicorn at boot, as %s (written by the switch, removed by its "
        "rollback)" % (boot.MARK, record["site"], user.name),
        "PATH=%s" % host.SAFE_PATH,
    ] + dirs_lines(record, user) + [
        "cd %s || exit 1" % safe_text.sh(record["project_path"], "project_path"),
    ] + panel_project.drop_lines(user) + [
        "nohup \"${drop[@]}\" %s </dev/null >/dev/null 2>&1 &" % run,
    ] + daemons.boot_lines(record) + [
        "exit 0",
        "",
    ])


def plan_for(site, uwsgi_config, project_path, gunicorn_manager, uwsgi_manager, site_user):
    """boot.plan for a site, from the host (reads only)."""
    auto_run = None
    if uwsgi_manager == "panel_project":
        conf = panel_project.get_project_config(site) or {}
        auto_run = bool(conf.get("auto_run")) if "auto_run" in conf else None
    p = boot.plan(discover(uwsgi_config, project_path, site_user), gunicorn_manager, uwsgi_manager,
                  auto_run)
    p["gunicorn_manager"] = gunicorn_manager
    p["script"] = script_path(site) if gunicorn_manager == "daemon" else None
    return p


def enable(record):
    """开机自启 for a site Gunicorn runs as a plain daemon that nothing starts at boot: an
    ``@reboot`` line in root's crontab runs the boot script. Kept in the record, so that
    rollback takes it away again. Returns (changed, message); the caller saves the record."""
    site = record["site"]
    b = dict(record.get("boot") or {})
    if b.get("persistent"):
        return False, "already started at boot: %s" % (b.get("where_en") or "-")
    if record.get("manager") != "daemon":
        return False, "Gunicorn's manager (%s) decides whether it starts at boot" % record.get("manager")
    script = script_path(site)
    safe_files.makedirs(os.path.dirname(script), mode=0o700)
    host.write_atomic(script, script_text(record), mode=0o700)
    # no backup: rollback takes the line away by its tag (undo_lines)
    entry = _add_root_reboot_line(script, site, lambda path: None)
    files = [f for f in b.get("files") or [] if f["path"] != entry["path"]]
    files.append(entry)
    b.update(files=files, script=script, persistent=True, where="计划任务 @reboot → 插件的开机脚本",
             where_en="root's crontab @reboot -> the plugin's boot script")
    record["boot"] = b
    return True, "%s: %s" % (entry["path"], boot.replacement_line("crontab", script, site))


def status_of(record):
    """The status page's boot field of a switched site: {persistent, where, note}."""
    b = record.get("boot")
    if not b:
        return {"persistent": None, "where": None, "note": None}  # switched before this existed
    en = i18n.lang() == "en"
    where = b.get("where_en") if en else b.get("where")
    note = None
    if not b.get("persistent"):
        note = i18n.t("boot_none", site=record["site"], script=b.get("script") or script_path(record["site"]))
    return {"persistent": bool(b.get("persistent")), "where": where, "note": note}


def _write_like(path, text):
    """Replace a file by descriptor, keeping its mode and owner (rc.local and init.d scripts
    stay executable; a spool crontab stays 0600 and its user's, as cron wants it)."""
    if path == panel_cron.crontab_file():
        panel_cron.write_crontab(path, text)
        return
    st = safe_files.lstat(path)
    mode = st.st_mode & 0o7777 if st else 0o755
    owner = (st.st_uid, st.st_gid) if st else None
    host.write_atomic(path, text.encode("utf-8", "surrogateescape"), mode=mode, owner=owner)


def apply(plan, record, backup):
    """Carry out boot.plan's ``plan`` for the switched ``record``; ``backup(path)`` before a
    file changes. Returns what restore() needs: {script, files: [{path, kind, sha256}]}."""
    site = record["site"]
    done = {"script": None, "files": [], "where": plan.get("where"), "where_en": plan.get("where_en"),
            "persistent": plan.get("persistent")}
    found = boot.split(plan.get("found") or [])[0]
    script = None
    # Gunicorn as a plain daemon: the boot script is written even with nothing to replace, so
    # that the note on the status page can name it (开机自启: enable)
    if plan.get("replace") or plan.get("gunicorn_manager") == "daemon":
        script = script_path(site)
        backup(script)
        safe_files.makedirs(os.path.dirname(script), mode=0o700)
        host.write_atomic(script, script_text(record), mode=0o700)
        done["script"] = script
    if plan.get("gunicorn_manager") == "supervisor":
        dscript, prog = dirs_script_path(site), prep_program(site)
        pfile = supervisor_programs.program_file(prog)
        backup(dscript)
        backup(pfile)
        safe_files.makedirs(os.path.dirname(dscript), mode=0o700)
        host.write_atomic(dscript, dirs_script_text(record), mode=0o700)
        host.write_atomic(pfile, prep_program_text(prog, dscript))
        done["prep"] = {"program": prog, "file": pfile, "script": dscript}
    by_file = {}
    for f in found:
        by_file.setdefault(f["file"], []).append(f)
    placed = False  # a line or script that runs the boot script at boot
    for path, entries in sorted(by_file.items()):
        now = _read(path)
        if now is None:
            continue
        backup(path)
        kind = entries[0]["kind"]
        if kind == "initd":
            new = boot.initd_text(now, script, site)
        else:
            # the lines as they are now (the plan's numbers may have moved)
            wanted = set(e["text"] for e in entries)
            numbers = [i for i, ln in enumerate(now.splitlines(), 1) if ln.rstrip("\r") in wanted]
            if not numbers:
                continue
            new = boot.disable_lines(now, set(numbers), site, _replacement(kind, script, site))
        _write_like(path, new)
        placed = placed or (script is not None and kind != "cron_user")
        done["files"].append({"path": path, "kind": kind, "sha256": _sha(new)})
    if script and not placed and any(f["kind"] == "cron_user" for f in done["files"]):
        done["files"].append(_add_root_reboot_line(script, site, backup))
    # a step resumed after its runner died finds its own edits, not uWSGI's lines: they are
    # recorded all the same, or rollback would not put uWSGI's lines back
    for path, kind in edited_files(site):
        if all(f["path"] != path for f in done["files"]):
            done["files"].append({"path": path, "kind": kind, "sha256": _sha(_read(path) or "")})
    return done


def _replacement(kind, script, site):
    """The line that runs the boot script in place of uWSGI's, in a file of ``kind``; None
    in another user's crontab (cron would run it as that user: root's crontab gets it)."""
    if script is None or kind == "cron_user":
        return None
    if kind == "cron_system":
        return boot_cron.replacement_line(script, site)
    return boot.replacement_line(kind, script, site)


def _add_root_reboot_line(script, site, backup):
    """The boot script's ``@reboot`` line at the end of root's crontab (for a line turned off
    in another user's crontab); the crontab's entry for done["files"]."""
    path = panel_cron.crontab_file()
    backup(path)
    now = _read(path) or ""
    line = boot.replacement_line("crontab", script, site)
    if line not in now.splitlines():
        now += ("\n" if now and not now.endswith("\n") else "") + line + "\n"
        panel_cron.write_crontab(path, now)
    return {"path": path, "kind": "crontab", "sha256": _sha(now)}


def edited_files(site):
    """[(path, kind)] of the files that hold this site's boot edits."""
    out = []
    for path, kind in [(p, k) for p, k, _ in crontabs()] + [(rc_local(), "rc_local")]:
        text = _read(path)
        if text and boot.has_edits(text, site):
            out.append((path, kind))
    mark = "# %s: %s runs on Gunicorn" % (boot.MARK, site)
    for path in _initd_scripts():
        if mark in (_read(path) or ""):
            out.append((path, "initd"))
    return out


def restore(done, site, entry_for, log=lambda m: None):
    """Undo apply(): each file back byte for byte (``entry_for(path)``: its backup entry)
    when undoing the switch's edits gives the original back, else only the edits undone;
    the boot script gone."""
    from . import backups
    for f in (done or {}).get("files") or []:
        path, entry = f["path"], entry_for(f["path"])
        now = _read(path)
        if now is None:
            if entry is not None:
                backups.restore(entry)
                log("restored %s" % path)
            continue
        if f["kind"] == "initd":
            undone = None if _sha(now) == f["sha256"] else now
        else:
            undone = boot.undo_lines(now, site)
        if entry is not None and (undone is None or
                                  (entry.get("sha256") and _sha(undone) == entry["sha256"]) or
                                  (not entry.get("existed") and not undone)):
            backups.restore(entry)
            log("restored %s byte for byte" % path)
        elif undone is not None and undone != now:
            _write_like(path, undone)
            log("%s: the switch's lines put back (the file changed since)" % path)
        else:
            log("%s changed since the switch: left as it is" % path)
    prep = (done or {}).get("prep")
    if prep:
        for path in (prep["file"], prep["script"]):
            entry = entry_for(path)
            if entry is not None:
                backups.restore(entry)
            else:
                safe_files.unlink(path)
        supervisor_programs.supervisorctl("update")
    script = (done or {}).get("script")
    if script:
        entry = entry_for(script)
        if entry is not None:
            backups.restore(entry)
        else:
            safe_files.unlink(script)
