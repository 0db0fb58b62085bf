"""Security pass (issue 8): bandit, modes and owners of every file a switch writes, who the
workers run as, where Gunicorn listens, and what the logs and the journal keep.

`make lint` runs bandit too. Every finding at medium severity or above was reviewed and carries
``# nosec <id>`` with its reason on the line above; a new finding fails test_bandit until it is
fixed or reviewed the same way.
"""
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tests.faults import faultlib as fl
from tests.faults.faultlib import config_snapshot, wait_task

REPO = Path(__file__).resolve().parents[2]

def test_bandit():
    exe = shutil.which("bandit")
    if not exe:
        pytest.skip("bandit is not installed (pip install bandit)")
    out = subprocess.run([exe, "-q", "-r", str(REPO / "plugin"), "-ll", "-f", "json"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False).stdout
    # every reviewed finding carries `# nosec <id>` with its reason on the line above it
    found = ["%s:%d %s %s" % (r["filename"], r["line_number"], r["test_id"], r["issue_text"])
             for r in json.loads(out.decode())["results"]]
    assert found == [], "\n".join(found)


# ---- after a real switch ------------------------------------------------------------------------

CANARY = "gsw-canary-3f9c1e7a-not-a-real-secret"


def _mode(path):
    return stat.S_IMODE(os.lstat(str(path)).st_mode)


def _owner(path):
    return pwd.getpwuid(os.lstat(str(path)).st_uid).pw_name


def _tree_modes(root):
    out = {}
    for dirpath, dirnames, filenames in os.walk(str(root)):
        for name in dirnames + filenames + [""]:
            p = os.path.join(dirpath, name) if name else dirpath
            try:
                out[p] = os.lstat(p)
            except OSError:
                continue
    return out


def _sandbox_files(sandbox):
    """Every path of the sandbox but the venvs (big, and written by pip, not by us)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(str(sandbox.root)):
        dirnames[:] = [d for d in dirnames if d not in ("pyporject_evn", "pyenv", "__pycache__")]
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            try:
                out[p] = os.lstat(p)
            except OSError:
                continue
    return out


def _check_state_dir(sandbox):
    """journal, records, backups, locks, logs, boot scripts: root's, 0700 dirs, 0600 files
    (logs: in a 0700 dir, never world-writable; boot scripts: 0700)."""
    state = fl.state_dir(sandbox)
    bad = []
    for p, s in _tree_modes(state).items():
        mode = stat.S_IMODE(s.st_mode)
        if s.st_uid != 0:
            bad.append((p, "owner uid %d" % s.st_uid))
        if stat.S_ISDIR(s.st_mode):
            if mode != 0o700:
                bad.append((p, oct(mode)))
        elif "/logs/" in p:
            if mode & 0o022:
                bad.append((p, oct(mode)))
        elif "/boot/" in p:  # what root runs at boot for a site: root's alone, executable
            if mode != 0o700:
                bad.append((p, oct(mode)))
        elif mode != 0o600:
            bad.append((p, oct(mode)))
    assert bad == []


@pytest.mark.parametrize("site,opts", [("shop.test", {}), ("blog.test", {"bind": "unix"})])
def test_switch_leaves_safe_files_and_processes(sandbox, plugin, panel_get, monkeypatch, site, opts):
    for s in sandbox.sites:
        fl.ensure_uwsgi(sandbox, plugin, panel_get, s)
    before = config_snapshot(sandbox)
    before_tree = _sandbox_files(sandbox)
    monkeypatch.setenv("GSW_API_TOKEN", CANARY)  # in the panel's environment, as a secret would be
    res = plugin.switch(panel_get(plan_and_apply="1", site=site, **opts))
    assert res["status"], res
    try:
        task = wait_task(plugin, panel_get, res["data"]["task_id"])
        assert task["state"] == "succeeded", task
        rec = fl.record_of(sandbox, site)

        # -- files --------------------------------------------------------------------------
        _check_state_dir(sandbox)
        after_tree = _sandbox_files(sandbox)
        world_writable = [p for p, s in after_tree.items()
                          if not stat.S_ISLNK(s.st_mode) and not stat.S_ISSOCK(s.st_mode)
                          and stat.S_IMODE(s.st_mode) & 0o002 and p not in before_tree]
        assert world_writable == []
        runtime = Path(rec["runtime_dir"])
        for p, s in after_tree.items():  # what existed keeps its mode and owner
            b = before_tree.get(p)
            if b is not None and not stat.S_ISLNK(s.st_mode) and not stat.S_ISSOCK(s.st_mode):
                if p == str(runtime) and opts.get("bind") == "unix":
                    # an earlier TCP switch left it 0700; nginx must now traverse it to the socket
                    assert stat.S_IMODE(s.st_mode) == 0o711 and s.st_uid == b.st_uid, p
                    continue
                assert (stat.S_IMODE(s.st_mode), s.st_uid) == (stat.S_IMODE(b.st_mode), b.st_uid), p
        conf = Path(rec["gunicorn_conf"])
        # read only by the master, which runs as the site's user: that user's file, in its
        # own directory, and nobody else may write it
        assert _owner(conf) == "www" and _mode(conf) & 0o022 == 0, oct(_mode(conf))
        stats = Path(rec["stats_dir"])
        assert _owner(stats) == "www" and _mode(stats) == 0o700
        assert _owner(runtime) == "www" and _mode(runtime) in (0o700, 0o711)
        # the runtime dir's parent is root's: the site's user cannot swap the dir itself
        assert _owner(runtime.parent) == "root" and _mode(runtime.parent) & 0o022 == 0
        if rec.get("control_socket") and os.path.exists(rec["control_socket"]):
            assert _mode(rec["control_socket"]) == 0o600 and _owner(rec["control_socket"]) == "www"

        # -- processes -------------------------------------------------------------------
        master = psutil.Process(int(Path(rec["pidfile"]).read_text().strip()))
        workers = master.children()
        assert master.username() == "www"  # least privilege: nothing of the site runs as root
        assert workers and {w.username() for w in workers} == {"www"}
        bind = rec["bind"]
        assert bind.startswith("127.0.0.1:") or bind.startswith("unix:"), bind
        conns = master.net_connections(kind="inet") if hasattr(master, "net_connections") \
            else master.connections(kind="inet")
        listening = [c.laddr for c in conns if c.status == psutil.CONN_LISTEN]
        assert all(a[0] in ("127.0.0.1", "::1") for a in listening), listening
        conf_text = conf.read_text()
        assert "0.0.0.0" not in conf_text.replace("# ", "#").split("bind", 1)[1].split("\n", 1)[0]
        if bind.startswith("unix:"):
            # nobody but the site's user can replace the socket (its mode follows Gunicorn's
            # umask, as uWSGI's followed chmod-socket = 666 here: local access, as before the
            # switch); nginx's workers may traverse the directory, not list it
            sock_dir = os.stat(os.path.dirname(bind[5:]))
            assert sock_dir.st_uid == pwd.getpwnam("www").pw_uid
            assert stat.S_IMODE(sock_dir.st_mode) == 0o711

        # -- secrets -------------------------------------------------------------------------
        secret_key = "sandbox-only-not-secret-" + sandbox.sites[site].spec.package
        leaks = []
        for root in (fl.state_dir(sandbox), Path(rec["log_dir"])):
            for p in root.rglob("*"):
                if p.is_file():
                    data = p.read_bytes()
                    if CANARY.encode() in data or secret_key.encode() in data:
                        leaks.append(str(p))
                    if p.suffix == ".json" and b'"environ"' in data:
                        env = _environs(json.loads(data.decode()))
                        assert all(set(e) <= KEPT_ENV for e in env), (p, env)
        assert leaks == []
    finally:
        res = plugin.rollback(panel_get(site=site))
        if res["status"]:
            task = wait_task(plugin, panel_get, res["data"]["task_id"])
            assert task["state"] == "succeeded", task
        fl.ensure_uwsgi(sandbox, plugin, panel_get, site)
    _check_state_dir(sandbox)
    fl.assert_on_uwsgi(sandbox, site, before)


sys.path.insert(0, str(REPO / "plugin"))
from gunicorn_switch_core.processes import KEPT_ENV as _KEPT  # noqa: E402

KEPT_ENV = set(_KEPT)


def _environs(obj):
    """Every "environ" mapping anywhere in a JSON document."""
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in ("environ", "uwsgi_environ") and isinstance(v, dict):
                out.append(v)
            else:
                out.extend(_environs(v))
    elif isinstance(obj, list):
        for v in obj:
            out.extend(_environs(v))
    return out
