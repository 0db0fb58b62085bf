"""The few writes the plugin makes to the panel's own records: a panel Python project's
project_config (stype, port, proxy_info) when its server changes, and its pid file.

Inside the panel the panel's ORM is used (``public.M``), as the notes advise; without the
panel (the sandbox, the command line) the sites table is written directly.
"""
import copy
import hashlib
import json
import shlex
import sqlite3

from . import boot, host, paths, records, safe_text, sites_db

PIDS = paths.PYTHON_PROJECT + "/vhost/pids"
SCRIPTS = paths.PYTHON_PROJECT + "/vhost/scripts"


def sid(name):
    """Baota's marker for a panel project's processes: BT_PYTHON_SERVICE_SID=md5(name)."""
    # bandit B324 reviewed: Baota's process marker, not a security hash
    return hashlib.md5(name.encode("utf-8")).hexdigest()  # nosec B324


def pid_file(name):
    return paths.real("%s/%s.pid" % (PIDS, name))


def start_script(name, stype):
    return paths.real("%s/%s_%s.sh" % (SCRIPTS, name, stype))


def get_project_config(name):
    for s in sites_db.read_sites():
        if s["name"] == name and s["project_type"] == "Python":
            return s["project_config"]
    return None


def panel_orm():
    """The panel's ``public`` module (its ORM, public.M) when the plugin runs inside the
    panel on a real server; None in the sandbox and on the command line."""
    try:
        import public  # the panel's module: present only when running inside the panel
    except ImportError:
        return None
    return public if paths.root() == "/" else None


def get_project_config_text(name):
    """project_config as the panel stored it, its text untouched (rollback puts these very
    bytes back), or None."""
    return sites_db.project_config_text(name)


def set_project_config(name, conf):
    # the panel's own encoding (json.dumps with its defaults), so its rows look alike
    set_project_config_text(name, json.dumps(conf))


def set_project_config_text(name, text):
    public = panel_orm()
    if public is not None:
        public.M("sites").where("name=? AND project_type=?", (name, "Python")).setField(
            "project_config", text)
        return
    db = sites_db.db_file()
    con = sqlite3.connect(db, timeout=10)
    try:
        con.execute("UPDATE sites SET project_config=? WHERE name=? AND project_type='Python'",
                    (text, name))
        con.commit()
    finally:
        con.close()


def _port(value):
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _moved(conf, keys_from, keys_to, old_ports, new_port):
    """conf with keys_to's stype/port and every proxy_info entry on one of old_ports moved
    to new_port(entry) (an int, as the panel's add_server_proxy stores it: its nginx rewrite
    compares it with ==)."""
    out = copy.deepcopy(conf)
    for key in ("stype", "port"):
        if key in keys_to:
            out[key] = keys_to[key]
        elif key in keys_from:
            out.pop(key, None)
    for entry in out.get("proxy_info") or []:
        if isinstance(entry, dict) and _port(entry.get("proxy_port")) in old_ports:
            entry["proxy_port"] = new_port(entry)
    return out


def switched_config(conf, uwsgi_ports, port):
    """project_config of a project that now runs Gunicorn on 127.0.0.1:``port``: every field
    the panel derives its nginx vhost, daemon and page from (docs/ARCHITECTURE.md, facts: panel project manager):
    stype (which start script its start/restart/daemon run), port, and the proxy_info entries
    that pointed at uWSGI (a domain edit in the panel re-creates the vhost's proxy locations
    from them). Returns (new conf, the proxy_info paths that were moved)."""
    old = {p for p in [_port(conf.get("port"))] + list(uwsgi_ports) if p}
    new = _moved(conf, conf, {"stype": "gunicorn", "port": port}, old, lambda _e: port)
    moved = [e.get("proxy_path") for e in conf.get("proxy_info") or []
             if isinstance(e, dict) and _port(e.get("proxy_port")) in old]
    return new, moved


def restore_config(name, original_text, switched_text):
    """Put the project's config back as it was before the switch: the original bytes when
    the panel has not changed it since (compared as data: the panel re-dumps it on every
    start), else only the fields the switch changed, keeping what the user did since (a
    domain added in the panel). Returns what was done, for the log."""
    now = get_project_config_text(name)
    if now is None:
        return "the panel no longer has project %s" % name
    try:
        current, switched, original = (json.loads(t) for t in (now, switched_text, original_text))
    except ValueError:
        current = switched = original = None
    if not all(isinstance(x, dict) for x in (current, switched, original)):
        return "project_config of %s is not readable: left as it is" % name
    if current == switched:
        set_project_config_text(name, original_text)
        return "project_config of %s restored byte for byte" % name
    was = {e.get("proxy_path"): e.get("proxy_port") for e in original.get("proxy_info") or []
           if isinstance(e, dict)}
    back = _moved(current, switched, original, {_port(switched.get("port"))},
                  lambda e: was.get(e.get("proxy_path"), original.get("port")))
    set_project_config(name, back)
    return "project_config of %s: stype, port and proxy_info restored; the panel's other " \
        "changes since the switch kept" % name


def gunicorn_script(name, record, more=()):
    """A start script in the shape the panel writes (pythonModel._create_cmd_file), for the
    panel's start/restart buttons and its daemon. The panel runs it as root for stype
    gunicorn, so the script drops to the site's user before anything of the site's runs (the
    panel's own script sources the venv's activate, which the site's user can write); the
    log is opened by that user too. Every path is checked and quoted (safe_text). ``more``:
    bash lines run last, as the site's user through ``drop`` (the carried daemons)."""
    user = host.User(records.user_of(record))
    venv = safe_text.sh(record["venv"], "venv")
    bin_path = safe_text.sh(record["venv"].rstrip("/") + "/bin:" + host.SAFE_PATH, "PATH")
    env = ["env", "-i", "PATH=" + bin_path, "HOME=" + safe_text.sh(user.home, "home"),
           "USER=" + user.name, "LOGNAME=" + user.name, "LANG=C.UTF-8",
           "VIRTUAL_ENV=" + venv, "BT_PYTHON_SERVICE_SID=" + sid(name)]
    pid = safe_text.sh(pid_file(name), "pid_file")
    run = " ".join(env + ["/bin/bash", "-c", shlex.quote('exec "$0" -c "$1" >>"$2" 2>&1'),
                          safe_text.sh(record["gunicorn_bin"], "gunicorn"),
                          safe_text.sh(record["gunicorn_conf"], "gunicorn_conf"),
                          safe_text.sh(record["log_dir"].rstrip("/") + "/gunicorn_error.log",
                                       "log")])
    return "\n".join([
        "#!/bin/bash",
        "# gunicorn_switch: the panel runs this as root; Gunicorn runs as %s." % user.name,
        "PATH=%s" % host.SAFE_PATH,
        "export BT_PYTHON_SERVICE_SID=%s" % sid(name),
        "cd %s || exit 1" % safe_text.sh(record["project_path"], "project_path"),
    ] + _runtime_dir_lines(record, user) + drop_lines(user) + [
        "nohup \"${drop[@]}\" %s </dev/null >/dev/null 2>&1 &" % run,
        # The panel makes its pids dir 0777 on every start: root only unlinks there (rm
        # does not follow a planted link); the site's user writes the pid.
        "rm -f -- %s" % pid,
        "\"${drop[@]}\" /bin/sh -c 'echo \"$1\" > \"$2\"' sh \"$!\" %s" % pid,
    ] + list(more) + [
        "",
    ])


def _runtime_dir_lines(record, user):
    """The panel starts the project at boot (auto_run) with this script, as root: /run was
    emptied by the reboot, and Gunicorn, as the site's user, cannot remake its runtime dir
    in root's /run/gunicorn_switch."""
    if not record.get("runtime_dir"):
        return []
    return boot.dirs_lines(record["runtime_dir"], str(record.get("bind", "")).startswith("unix:"),
                           user.uid, user.gid)


def drop_lines(user):
    """bash lines that set ``drop`` to the command prefix that runs the rest as ``user``
    (a host.User): setpriv where util-linux has it (CentOS 7 and later), runuser otherwise.
    For scripts root runs (the panel's start buttons, its cron) that must run nothing of the
    site's as root."""
    return [
        "drop=(setpriv --reuid=%d --regid=%d --init-groups --)" % (user.uid, user.gid),
        "command -v setpriv >/dev/null 2>&1 || drop=(runuser -u %s --)" % shlex.quote(user.name),
    ]


def write_pid(name, pid):
    host.write_atomic(pid_file(name), "%d\n" % pid)
