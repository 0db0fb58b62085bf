"""The few writes the plugin makes to the panel's own records: a panel Python project's
project_config (stype and port) when its server changes, and its pid file.

Inside the panel the panel's ORM is used (``public.M``), as the notes advise; without the
panel (the sandbox, the command line) the sites table is written directly.
"""
import hashlib
import json
import shlex
import sqlite3

from . import host, paths, safe_text, sites_db

PIDS = paths.PYTHON_PROJECT + "/vhost/pids"
SCRIPTS = paths.PYTHON_PROJECT + "/vhost/scripts"


def sid(name):
    """Baota's marker for a panel project's processes: BT_PYTHON_SERVICE_SID=md5(name)."""
    # bandit B324 reviewed: Baota's process marker, not a security hash
    return hashlib.md5(name.encode("utf-8")).hexdigest()  # nosec B324


def pid_file(name):
    return paths.host("%s/%s.pid" % (PIDS, name))


def start_script(name, stype):
    return paths.host("%s/%s_%s.sh" % (SCRIPTS, name, stype))


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


def set_project_config(name, conf):
    text = json.dumps(conf, ensure_ascii=False)
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


def gunicorn_script(name, record):
    """A start script in the shape the panel writes (pythonModel._create_cmd_file), for the
    panel's start/restart buttons and its daemon. The panel runs it as root for stype
    gunicorn, so the script drops to the site's user before anything of the site's runs (the
    panel's own script sources the venv's activate, which the site's user can write); the
    log is opened by that user too. Every path is checked and quoted (safe_text)."""
    user = host.User(record.get("user") or "www")
    venv = safe_text.sh(record["venv"], "venv")
    bin_path = safe_text.sh(record["venv"].rstrip("/") + "/bin:" + host.SAFE_PATH, "PATH")
    env = ["env", "-i", "PATH=" + bin_path, "HOME=" + safe_text.sh(user.home, "home"),
           "USER=" + user.name, "LOGNAME=" + user.name, "LANG=C.UTF-8",
           "VIRTUAL_ENV=" + venv, "BT_PYTHON_SERVICE_SID=" + sid(name)]
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
    ] + drop_lines(user) + [
        "nohup \"${drop[@]}\" %s </dev/null >/dev/null 2>&1 &" % run,
        "echo $! > %s" % safe_text.sh(pid_file(name), "pid_file"),
        "",
    ])


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
