"""uWSGI's crons as entries of the panel's 计划任务, made the way the panel makes a Shell-script
task (aaPanel/BaoTa@f9f6845c class/crontab.py AddCrontab, l.1168-1210), so that the panel's
page lists them, runs them ("执行") and shows their log:

- a script ``/www/server/cron/<echo>`` (GetShell, l.1518: bash, PATH, then the task's sBody),
  its output appended to ``<echo>.log``;
- a line in root's crontab (WriteShell / get_cron_file, l.1746-1830:
  /var/spool/cron/crontabs/root where apt-get is, /var/spool/cron/root otherwise):
  ``<schedule> <script> >> <script>.log 2>&1``, or with 不重复执行 (flock=1)
  ``<schedule> flock -xn <script>.lock -c <script> >> <log> 2>&1`` (_build_cron_config);
- a row of the ``crontab`` table (data/db/crontab.db on BaoTa v11, data/default.db before and
  on aaPanel; columns from config/databases.json), keyed by ``echo``.

Root's cron runs the script, so the script runs nothing of the site's as root: it drops to the
site's user first (panel_project.drop_lines). The panel rewrites the script from ``sBody`` when the
task is edited or toggled (sync_to_crond -> GetShell), so sBody holds the drop as well.
"""
import hashlib
import os
import shlex
import sqlite3
import time

from . import host, panel_project, paths, safe_files, safe_text

CRONTAB_DB_V11 = paths.PANEL_DATA + "/db/crontab.db"


def crontab_file():
    """Root's crontab file, where the panel writes it."""
    for p in paths.ROOT_CRONTABS:
        if os.path.exists(paths.real(p)):
            return paths.real(p)
    debian = os.path.exists("/usr/bin/apt-get") or os.path.isdir(paths.real(os.path.dirname(paths.ROOT_CRONTABS[0])))
    return paths.real(paths.ROOT_CRONTABS[0] if debian else paths.ROOT_CRONTABS[1])


def echo_name(site, task_id, n):
    """The task's file name in the panel's cron dir: 32 hex digits like the panel's own
    (md5 of md5(time)), derived from the switch so that a resumed step finds its files."""
    # bandit B324 reviewed: a file name, not a security hash
    return hashlib.md5(("gunicorn_switch:%s:%s:%d" % (site, task_id, n)).encode("utf-8")).hexdigest()  # nosec B324


def script_path(echo):
    return paths.real("%s/%s" % (paths.PANEL_CRON, echo))


def body(job, user):
    """The task's sBody: go to uWSGI's working directory, become the site's user with a clean
    environment plus the config's env=, and run the command through /bin/sh -c as uWSGI did,
    killed after cron-harakiri seconds if uWSGI would have killed it."""
    env = ["env", "-i", "PATH=" + host.SAFE_PATH, "HOME=" + safe_text.sh(user.home, "home"),
           "USER=" + shlex.quote(user.name), "LOGNAME=" + shlex.quote(user.name),
           "LANG=C.UTF-8"]
    env += [shlex.quote("%s=%s" % (k, v)) for k, v in job["env"]]
    limit = ["timeout", "-s", "KILL", str(int(job["harakiri"]))] if job.get("harakiri") else []
    lines = ["# gunicorn_switch: %s, run as %s" % (job["name"], user.name)]
    if job.get("cwd"):
        lines.append("cd %s || exit 1" % safe_text.sh(job["cwd"], "chdir"))
    lines += panel_project.drop_lines(user)
    lines.append('"${drop[@]}" %s' % " ".join(env + limit + ["/bin/sh", "-c", shlex.quote(job["command"])]))
    return "\n".join(lines) + "\n"


def script_text(sbody):
    return "#!/bin/bash\nPATH=%s\nexport PATH\n%s" % (host.SAFE_PATH, sbody)


def crontab_line(job, echo):
    script = safe_text.check_path(script_path(echo), "cron script")
    if job.get("unique"):
        return "%s flock -xn %s.lock -c %s >> %s.log 2>&1" % (job["schedule"], script, script, script)
    return "%s %s >> %s.log 2>&1" % (job["schedule"], script, script)


def remove_lines(text, echoes):
    """``text`` without the lines that run one of the ``echoes`` scripts."""
    keep = [ln for ln in text.splitlines(True) if not any(e in ln for e in echoes)]
    return "".join(keep)


# ---- the crontab table -----------------------------------------------------------------------

def db_file():
    for p in (CRONTAB_DB_V11, paths.SITES_DB_OLD):
        real = paths.real(p)
        if os.path.exists(real):
            con = sqlite3.connect("file:%s?mode=ro" % real, uri=True, timeout=5)
            try:
                if con.execute("PRAGMA table_info(crontab)").fetchall():
                    return real
            finally:
                con.close()
    return None


def row(job, echo, sbody):
    cycle = job.get("cycle") or {"type": "", "where1": "", "where_hour": 0, "where_minute": 0}
    out = {"name": job["name"], "echo": echo, "addtime": time.strftime("%Y-%m-%d %H:%M:%S"),
           "status": 1, "save": "", "backupTo": "", "sType": "toShell", "sName": "",
           "sBody": sbody, "urladdress": "", "flock": 1 if job.get("unique") else 0,
           "rname": job["name"]}
    out.update(cycle)
    return out


def add_rows(rows):
    public = panel_project.panel_orm()
    if public is not None:
        for r in rows:
            keys = sorted(r)
            public.M("crontab").add(",".join(keys), tuple(r[k] for k in keys))
        return
    db = db_file()
    if db is None:
        raise host.HostError("the panel's crontab table was not found")
    con = sqlite3.connect(db, timeout=10)
    try:
        cols = {c[1] for c in con.execute("PRAGMA table_info(crontab)")}
        for r in rows:
            # older panels lack some columns (flock, rname): what they cannot hold is left out
            keys = [k for k in sorted(r) if k in cols]
            # bandit B608 reviewed: the column names are row()'s own keys, the values bound
            con.execute("INSERT INTO crontab (%s) VALUES (%s)" % (  # nosec B608
                ",".join('"%s"' % k for k in keys), ",".join("?" * len(keys))),
                [r[k] for k in keys])
        con.commit()
    finally:
        con.close()


def delete_rows(echoes):
    public = panel_project.panel_orm()
    if public is not None:
        for e in echoes:
            public.M("crontab").where("echo=?", (e,)).delete()
        return
    db = db_file()
    if db is None:
        return
    con = sqlite3.connect(db, timeout=10)
    try:
        con.executemany("DELETE FROM crontab WHERE echo=?", [(e,) for e in echoes])
        con.commit()
    finally:
        con.close()


def rows_for(echoes):
    """The panel's rows of these tasks (name, echo), for the status and the tests."""
    db = db_file()
    if db is None:
        return []
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)
    try:
        return [{"name": n, "echo": e} for echo in echoes for n, e in con.execute(
            "SELECT name, echo FROM crontab WHERE echo=?", (echo,))]
    finally:
        con.close()


# ---- adding and removing --------------------------------------------------------------------

def read_text(path):
    """A root file's text (surrogates kept: written back byte for byte), None if unreadable."""
    try:
        return host.read_bytes(path).decode("utf-8", "surrogateescape")
    except (OSError, host.HostError):
        return None


def text_sha256(text):
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def write_crontab(path, text):
    """Root's crontab, replaced in one rename (cron re-reads a spool file whose mtime
    changed: no reload needed), keeping its mode and owner (0600, root:crontab on Debian)."""
    st = safe_files.lstat(path)
    mode = st.st_mode & 0o7777 if st else 0o600
    owner = (st.st_uid, st.st_gid) if st else None
    host.write_atomic(path, text.encode("utf-8", "surrogateescape"), mode=mode, owner=owner)


def add(jobs, site, task_id, user, backup):
    """Write the scripts, the crontab lines and the rows of ``jobs``; ``backup(path)`` is
    called on every file before it changes. Returns {file, echoes, sha256 of what was
    written}: what removal needs."""
    path = crontab_file()
    backup(path)
    text = read_text(path) or ""
    echoes, rows, lines = [], [], []
    for job in jobs:
        echo = echo_name(site, task_id, job["n"])
        sbody = body(job, user)
        backup(script_path(echo))
        host.write_atomic(script_path(echo), script_text(sbody), mode=0o750)
        echoes.append(echo)
        rows.append(row(job, echo, sbody))
        lines.append(crontab_line(job, echo))
    text = remove_lines(text, echoes)
    if text and not text.endswith("\n"):
        text += "\n"
    text += "".join(ln + "\n" for ln in lines)
    write_crontab(path, text)
    delete_rows(echoes)  # a resumed step: no second row
    add_rows(rows)
    return {"file": path, "echoes": echoes,
            "sha256": text_sha256(text)}


def remove(crons, restore):
    """Undo add(): the crontab file back byte for byte when nobody changed it since
    (``restore(path)``), else only its lines of these tasks; the rows and scripts gone."""
    path, echoes = crons["file"], crons["echoes"]
    now = read_text(path)
    if now is not None and text_sha256(now) == crons["sha256"]:
        restore(path)
    elif now is not None:
        write_crontab(path, remove_lines(now, echoes))
    delete_rows(echoes)
    for e in echoes:
        restore(script_path(e))
        for extra in (".lock", ".log"):
            safe_files.unlink(script_path(e) + extra)
