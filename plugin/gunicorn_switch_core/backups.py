"""Byte-for-byte backups of every file a switch changes, and their restore.

A backup entry is plain data kept in the task's journal: the path, whether it existed, its
mode, its sha256 and where the copy lies. Restoring puts back exactly those bytes and mode,
or removes a file that did not exist before.
"""
import hashlib
import json
import os
import shutil

from . import host, paths


def backup_dir(site, task_id):
    return os.path.join(paths.host(paths.PLUGIN_STATE), "backups", site, task_id)


def _manifest(d):
    return os.path.join(d, "manifest.json")


def _read_manifest(d):
    try:
        with open(_manifest(d)) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return {}


def backup(site, task_id, path):
    """Copy ``path`` aside; returns its entry. The first backup of a path in a task wins: a
    step that runs again after a crash must not back up what the first run already changed."""
    d = backup_dir(site, task_id)
    os.makedirs(d, mode=0o700, exist_ok=True)
    # makedirs gives the levels above the last one the default 0755: the backups of a site's
    # configs are root's only, and so are the names of the sites that have some.
    state = paths.host(paths.PLUGIN_STATE)
    for level in (state, os.path.join(state, "backups"), os.path.dirname(d)):
        os.chmod(level, 0o700)
    manifest = _read_manifest(d)
    if path in manifest:
        return manifest[path]
    digest_name = hashlib.sha256(path.encode("utf-8")).hexdigest()[:16]
    copy = os.path.join(d, digest_name + "_" + os.path.basename(path))
    entry = {"path": path, "existed": os.path.lexists(path), "backup": None, "sha256": None,
             "mode": None}
    if entry["existed"]:
        with open(path, "rb") as fh:
            data = fh.read()
        entry["sha256"] = hashlib.sha256(data).hexdigest()
        entry["mode"] = os.stat(path).st_mode & 0o7777
        host.write_atomic(copy, data, mode=0o600)
        entry["backup"] = copy
    manifest[path] = entry
    host.write_atomic(_manifest(d), json.dumps(manifest), mode=0o600)
    return entry


def entries(site, task_id):
    """Every backup entry of a task, from its manifest on disk. The journal's copy may lack
    the entries of a step whose runner was SIGKILLed before it saved the journal again."""
    return list(_read_manifest(backup_dir(site, task_id)).values())


def restore(entry):
    """Put a file back as the entry says; returns True when something changed."""
    path = entry["path"]
    if not entry["existed"]:
        if os.path.lexists(path):
            os.unlink(path)
            return True
        return False
    with open(entry["backup"], "rb") as fh:
        data = fh.read()
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise host.HostError("backup of %s is damaged (checksum mismatch)" % path)
    try:
        with open(path, "rb") as fh:
            if fh.read() == data and (os.stat(path).st_mode & 0o7777) == entry["mode"]:
                return False
    except OSError:
        pass
    host.write_atomic(path, data, mode=entry["mode"])
    return True


def matches(entry):
    """Is the file now exactly what the backup holds (or absent, if it was)?"""
    path = entry["path"]
    if not entry["existed"]:
        return not os.path.lexists(path)
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest() == entry["sha256"]
    except OSError:
        return False


def discard(site, task_id):
    shutil.rmtree(backup_dir(site, task_id), ignore_errors=True)
