"""Plans the user was shown, kept so that the switch applies exactly the plan confirmed.

A plan is stored under an id with a digest of every input it was made from: the bytes of the
uWSGI config files and the nginx files it read, the uWSGI master it relied on (pid, start
time, command line), the Gunicorn already in the venv, and the panel project's record. The
switch re-reads those inputs and refuses when anything changed: the confirmed nginx diff (and
the port in it) is then the one applied, byte for byte.
"""
import hashlib
import json
import os
import secrets
import time

import psutil

from . import host, paths

KEEP_SECONDS = 3600  # a plan older than this is planned again
KEEP_PER_SITE = 5
_ID_CHARS = frozenset("0123456789abcdef")


def _dir():
    return os.path.join(paths.real(paths.PLUGIN_STATE), "plans")


def _file_digest(path):
    try:
        return hashlib.sha256(host.read_bytes(path, 8 * 1024 * 1024)).hexdigest()
    except (OSError, host.HostError):
        return None


def _master_facts(pid):
    try:
        p = psutil.Process(pid)
        return [pid, round(p.create_time(), 2), p.cmdline()]
    except (psutil.Error, TypeError, ValueError):
        return [pid, None, None]


def digest(inputs):
    """The digest of a plan's inputs as they are now (``inputs``: what make_plan read)."""
    from . import panel_project, plan as planning  # plan.py imports this module
    now = {
        "files": [[p, _file_digest(p)] for p in sorted(set(inputs.get("files") or []))],
        "master": _master_facts(inputs.get("master_pid")),
        "gunicorn_installed": planning.installed_gunicorn(inputs.get("venv") or "/nonexistent"),
        "project_config": panel_project.get_project_config(inputs.get("site") or ""),
    }
    raw = json.dumps(now, sort_keys=True, ensure_ascii=True, default=str)
    return hashlib.sha256(raw.encode("ascii")).hexdigest()


def valid_id(plan_id):
    return isinstance(plan_id, str) and len(plan_id) == 32 and set(plan_id) <= _ID_CHARS


def save(plan):
    """Store a plan (with its inputs' digest); returns its id."""
    plan_id = secrets.token_hex(16)
    d = _dir()
    os.makedirs(d, mode=0o700, exist_ok=True)
    os.chmod(d, 0o700)
    body = dict(plan, plan_id=plan_id, planned_at=time.time())
    host.write_atomic(os.path.join(d, plan_id + ".json"), json.dumps(body), mode=0o600)
    _prune(plan["site"])
    return plan_id


def load(plan_id):
    """The stored plan, or None when the id is unknown or the plan is too old."""
    if not valid_id(plan_id):
        return None
    try:
        body = json.loads(host.read_text(os.path.join(_dir(), plan_id + ".json"), limit=16 * 1024 * 1024))
    except (OSError, ValueError, host.HostError):
        return None
    if not isinstance(body, dict) or time.time() - body.get("planned_at", 0) > KEEP_SECONDS:
        return None
    return body


def discard(plan_id):
    if valid_id(plan_id):
        try:
            os.unlink(os.path.join(_dir(), plan_id + ".json"))
        except OSError:
            pass


def _prune(site):
    """Keep the newest few plans of a site and nothing older than KEEP_SECONDS."""
    d = _dir()
    mine = []
    for name in os.listdir(d):
        path = os.path.join(d, name)
        try:
            body = json.loads(host.read_text(path, limit=16 * 1024 * 1024))
        except (OSError, ValueError, host.HostError):
            continue
        if time.time() - body.get("planned_at", 0) > KEEP_SECONDS:
            os.unlink(path)
        elif body.get("site") == site:
            mine.append((body.get("planned_at", 0), path))
    for _, path in sorted(mine)[:-KEEP_PER_SITE]:
        os.unlink(path)

