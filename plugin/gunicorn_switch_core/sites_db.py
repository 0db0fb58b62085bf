"""The panel's sites table, read-only.

BaoTa v11 keeps `sites` in data/db/site.db; BaoTa <= 7.9 and aaPanel 8.x in data/default.db
(docs/ARCHITECTURE.md, facts: panel sites table). Inside the panel `public.M('sites')` would do, but the core must
run without the panel, so it opens the file itself, read-only, and never writes to it.
"""
import json
import sqlite3

from . import paths


def db_file():
    for p in (paths.SITES_DB_V11, paths.SITES_DB_OLD):
        real = paths.real(p)
        try:
            with open(real, "rb"):
                return real
        except OSError:
            continue
    return None


def _connect(db):
    return sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)


def project_config_text(name):
    """The project_config text of the panel Python project ``name``, as stored, or None."""
    db = db_file()
    if not db:
        return None
    con = _connect(db)
    try:
        row = con.execute("SELECT project_config FROM sites WHERE name=? AND project_type='Python'",
                          (name,)).fetchone()
    except sqlite3.Error:
        row = None
    finally:
        con.close()
    return row[0] if row and row[0] is not None else None


def read_sites():
    """Rows of the sites table as dicts with the domains of each; [] when there is no table."""
    db = db_file()
    if not db:
        return []
    con = _connect(db)
    try:
        con.row_factory = sqlite3.Row
        cols = [r[1] for r in con.execute("PRAGMA table_info(sites)")]
        if not cols:
            return []
        rows = [dict(r) for r in con.execute("SELECT * FROM sites")]
        domains = {}
        try:
            for r in con.execute("SELECT pid, name FROM domain"):
                domains.setdefault(r[0], []).append(r[1])
        except sqlite3.Error:
            pass
    finally:
        con.close()
    out = []
    for r in rows:
        try:
            conf = json.loads(r.get("project_config") or "{}")
        except ValueError:
            conf = {}
        out.append({
            "id": r.get("id"),
            "name": r.get("name") or "",
            "path": r.get("path") or "",
            "project_type": r.get("project_type") or "PHP",
            "project_config": conf if isinstance(conf, dict) else {},
            "domains": domains.get(r.get("id"), []),
        })
    return out
