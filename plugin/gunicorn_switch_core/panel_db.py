"""The few writes the plugin makes to the panel's own records: a panel Python project's
project_config (stype and port) when its server changes, and its pid file.

Inside the panel the panel's ORM is used (``public.M``), as the notes advise; without the
panel (the sandbox, the command line) the sites table is written directly.
"""
import hashlib
import json
import sqlite3

from . import host, paths, sites_db

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


def set_project_config(name, conf):
    text = json.dumps(conf, ensure_ascii=False)
    try:
        import public  # the panel's module: present only when running inside the panel
    except ImportError:
        public = None
    if public is not None and paths.root() == "/":
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
    """A start script in the shape the panel writes (pythonModel._create_cmd_file)."""
    venv = record["venv"]
    return "\n".join([
        "#!/bin/bash",
        "PATH=%s/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" % venv,
        "export BT_PYTHON_SERVICE_SID=%s" % sid(name),
        "source %s/bin/activate" % venv,
        "cd %s" % record["project_path"],
        "nohup %s -c %s &>> %s/gunicorn_error.log &" % (record["gunicorn_bin"], record["gunicorn_conf"],
                                                       record["log_dir"]),
        "echo $! > %s" % pid_file(name),
        "",
    ])


def write_pid(name, pid):
    host.write_atomic(pid_file(name), "%d\n" % pid)
