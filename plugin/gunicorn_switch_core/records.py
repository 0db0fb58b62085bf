"""What the plugin keeps about each site it switched: ``<PLUGIN_STATE>/sites/<site>.json``.

The switch writes a record when a site moves to Gunicorn; the status page, the controls and
the rollback read it. A record holds paths the plugin later opens and signals it later sends,
so the site name must be safe as a file name and the file is root's alone (0600).
"""
from __future__ import annotations

import json
import os
import re
from typing import TYPE_CHECKING, cast

from . import host, paths

if TYPE_CHECKING:
    from typing import Optional

    from .shapes import SwitchRecord

# The names the panel allows for a site, and nothing that could leave the directory.
SITE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$")
SUFFIX = ".json"


def valid_site(site):
    return isinstance(site, str) and bool(SITE_NAME.match(site))


def user_of(record):
    """The user a switched site's Gunicorn runs as (records from before the plugin kept the
    user: the site user)."""
    return record.get("user") or paths.SITE_USER


def _dir():
    return os.path.join(paths.real(paths.PLUGIN_STATE), "sites")


def _path(site):
    if not valid_site(site):
        raise ValueError("not a safe site name: %r" % (site,))
    return os.path.join(_dir(), site + SUFFIX)


def load(site: str) -> Optional[SwitchRecord]:
    """The record of ``site``, or None when the plugin did not switch it.

    A record that exists but cannot be read raises (ValueError/OSError/HostError): treating it
    as absent could make the switch overwrite what the rollback needs.
    """
    path = _path(site)
    try:
        data = host.read_text(path)
    except FileNotFoundError:
        return None
    rec = json.loads(data)
    if not isinstance(rec, dict) or rec.get("site") != site:
        raise ValueError("%s does not hold the record of %s" % (path, site))
    return cast("SwitchRecord", rec)


def save(record: SwitchRecord) -> None:
    """Write a record (a dict with at least ``site``) atomically, mode 0600."""
    path = _path(record.get("site"))
    os.makedirs(_dir(), mode=0o700, exist_ok=True)
    text = json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    host.write_atomic(path, text, mode=0o600)
    return path


def all_records():
    """Every readable record, sorted by site; unreadable files are skipped."""
    out = []
    try:
        names = sorted(os.listdir(_dir()))
    except OSError:
        return out
    for name in names:
        site = name[:-len(SUFFIX)]
        if not name.endswith(SUFFIX) or not valid_site(site):
            continue
        try:
            rec = load(site)
        except (OSError, ValueError, host.HostError):
            continue
        if rec is not None:
            out.append(rec)
    return out


def delete(site):
    """Remove the record of ``site``; True when there was one."""
    try:
        os.unlink(_path(site))
    except FileNotFoundError:
        return False
    return True
