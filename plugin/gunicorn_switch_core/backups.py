"""Byte-for-byte backups of every file a switch changes, and their restore.

A backup entry is plain data kept in the task's journal: the path, whether it existed and as
what (a regular file or a symlink), its mode, owner and sha256 and where the copy lies, or the
link's target. Restoring puts back exactly those bytes, mode and owner, or the link, or
removes what did not exist before. Files are read and written by descriptor (safe_files):
many of them sit in directories the site's user can write.
"""
import hashlib
import json
import os
import shutil
import stat
import time

from . import host, paths, safe_files

MAX_BACKUP = 8 * 1024 * 1024  # configs, scripts, program files: never near this


def backup_dir(site, task_id):
    return os.path.join(paths.real(paths.PLUGIN_STATE), "backups", site, task_id)


def _manifest(d):
    return os.path.join(d, "manifest.json")


def _read_manifest(d):
    try:
        with open(_manifest(d)) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return {}


def _current(path):
    """(kind, bytes or link target, lstat) of what is at ``path`` now; kind is None when
    nothing is. Only regular files and symlinks are taken: anything else there (a FIFO, a
    device, a directory) is not a config file, and a switch that would replace it stops."""
    st = safe_files.lstat(path)
    if st is None:
        return None, None, None
    if stat.S_ISLNK(st.st_mode):
        return "symlink", safe_files.readlink(path), st
    if not stat.S_ISREG(st.st_mode):
        raise host.HostError("%s is not a regular file: the plugin leaves it alone" % path)
    return "file", host.read_bytes(path, MAX_BACKUP), st


def backup(site, task_id, path):
    """Copy ``path`` aside, by descriptor; returns its entry. The first backup of a path in
    a task wins: a step that runs again after a crash must not back up what the first run
    already changed."""
    d = backup_dir(site, task_id)
    os.makedirs(d, mode=0o700, exist_ok=True)
    # makedirs gives the levels above the last one the default 0755: the backups of a site's
    # configs are root's only, and so are the names of the sites that have some.
    state = paths.real(paths.PLUGIN_STATE)
    for level in (state, os.path.join(state, "backups"), os.path.dirname(d)):
        os.chmod(level, 0o700)
    manifest = _read_manifest(d)
    if path in manifest:
        return manifest[path]
    digest_name = hashlib.sha256(path.encode("utf-8")).hexdigest()[:16]
    copy = os.path.join(d, digest_name + "_" + os.path.basename(path))
    kind, data, st = _current(path)
    entry = {"path": path, "existed": kind is not None, "kind": kind, "backup": None,
             "sha256": None, "mode": None, "uid": None, "gid": None, "link": None}
    if kind == "symlink":
        entry["link"] = data
    elif kind == "file":
        entry["sha256"] = hashlib.sha256(data).hexdigest()
        entry.update(mode=st.st_mode & 0o7777, uid=st.st_uid, gid=st.st_gid)
        host.write_atomic(copy, data, mode=0o600)
        entry["backup"] = copy
    manifest[path] = entry
    host.write_atomic(_manifest(d), json.dumps(manifest), mode=0o600)
    return entry


def entries(site, task_id):
    """Every backup entry of a task, from its manifest on disk. The journal's copy may lack
    the entries of a step whose runner was SIGKILLed before it saved the journal again."""
    return list(_read_manifest(backup_dir(site, task_id)).values())


def _kind(entry):
    if not entry["existed"]:
        return None
    return entry.get("kind") or "file"


def matches(entry):
    """Is the file now exactly what the backup holds (or absent, if it was)?"""
    try:
        kind, data, st = _current(entry["path"])
    except (OSError, host.HostError):
        return False
    if kind != _kind(entry):
        return False
    if kind == "symlink":
        return data == entry["link"]
    if kind == "file":
        return hashlib.sha256(data).hexdigest() == entry["sha256"] and \
            st.st_mode & 0o7777 == entry["mode"] and \
            (entry.get("uid") is None or (st.st_uid, st.st_gid) == (entry["uid"], entry["gid"]))
    return True


def restore(entry):
    """Put a file back as the entry says (bytes, mode and owner; or the link; or nothing);
    returns True when something changed. Never writes through a link."""
    path = entry["path"]
    kind = _kind(entry)
    if kind == "file":
        data = host.read_bytes(entry["backup"], MAX_BACKUP)
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise host.HostError("backup of %s is damaged (checksum mismatch)" % path)
    if matches(entry):
        return False
    if kind is None:
        return safe_files.unlink(path)
    if kind == "symlink":
        safe_files.symlink_atomic(path, entry["link"])
        return True
    owner = (entry["uid"], entry["gid"]) if entry.get("uid") is not None else None
    host.write_atomic(path, data, mode=entry["mode"], owner=owner)
    return True


def discard(site, task_id):
    shutil.rmtree(backup_dir(site, task_id), ignore_errors=True)


# -- a task's backups (r: the tasks.Runner of the step that changes the file) -----------------

def keep(r, path):
    """Back up ``path`` before a step changes it; the entry goes in the task's journal."""
    entry = backup(r.task["site"], r.task["id"], path)
    kept = r.outputs.setdefault("backups", [])
    if all(e["path"] != path for e in kept):
        kept.append(entry)
    return entry


def of_task(r):
    """The task's backup entries: the journal's, completed from the manifest on disk (a
    runner killed in the middle of a step has saved the backups but not yet its journal)."""
    out = {e["path"]: e for e in r.outputs.get("backups", [])}
    for e in entries(r.task["site"], r.task["id"]):
        out.setdefault(e["path"], e)
    return list(out.values())


def entry_for(kept, path):
    """The backup entry of ``path`` among ``kept``, or None."""
    return next((e for e in kept if e["path"] == path), None)


def restore_paths(r, paths_, kept=None):
    """Restore the backups of ``paths_``: this task's, or ``kept`` (a switch's record, read
    by its rollback)."""
    for e in (of_task(r) if kept is None else kept):
        if e["path"] in paths_ and restore(e):
            r.log("restored %s" % e["path"])


# -- the status page's edits of a live conf: the last few copies ------------------------------

KEEP_EDITS = 20
EDIT_PREFIX = "gunicorn_conf.py.workers-"


def keep_edit(site, data):
    """A copy of a conf's bytes before the status page rewrites it; the last KEEP_EDITS stay."""
    d = os.path.join(paths.real(paths.PLUGIN_STATE), "backups", site)
    os.makedirs(d, mode=0o700, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S") + "-%06d" % (time.time() % 1 * 1e6)
    path = os.path.join(d, EDIT_PREFIX + stamp)
    host.write_atomic(path, data, mode=0o600)
    ours = sorted(n for n in os.listdir(d) if n.startswith(EDIT_PREFIX))
    for name in ours[:-KEEP_EDITS]:
        os.unlink(os.path.join(d, name))
    return path
