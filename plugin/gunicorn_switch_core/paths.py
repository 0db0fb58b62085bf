"""Every Baota path the plugin touches, behind one prefix.

On a server ``GUNICORN_SWITCH_ROOT`` is unset and the prefix is ``/``; the sandbox sets it to
a temporary directory so that the same code runs against a Baota-shaped tree.
"""
import os

PANEL = "/www/server/panel"
PLUGIN_NAME = "gunicorn_switch"


def root():
    """The prefix, read on every call so that tests may change it."""
    return os.environ.get("GUNICORN_SWITCH_ROOT") or "/"


def real(path):
    """The real location of an absolute Baota path (``/www/...``) under the prefix."""
    if not path.startswith("/"):
        raise ValueError("not an absolute path: %r" % (path,))
    r = root()
    if r == "/":
        return path
    return os.path.join(r, path.lstrip("/"))


def baota(real_path):
    """The Baota path of a real location under the prefix (inverse of ``real``)."""
    r = root().rstrip("/")
    if r and (real_path == r or real_path.startswith(r + "/")):
        return real_path[len(r):] or "/"
    return real_path


# The user Baota runs sites as: the site user when nothing names another.
SITE_USER = "www"

# Well-known Baota locations (unprefixed); call real() on them before use.
NGINX_BIN = "/www/server/nginx/sbin/nginx"
NGINX_CONF = "/www/server/nginx/conf/nginx.conf"
NGINX_PID = "/www/server/nginx/logs/nginx.pid"
VHOST_NGINX = PANEL + "/vhost/nginx"
PANEL_DATA = PANEL + "/data"
SITES_DB_V11 = PANEL_DATA + "/db/site.db"
SITES_DB_OLD = PANEL_DATA + "/default.db"
WWWROOT = "/www/wwwroot"
WWWLOGS = "/www/wwwlogs"
PYENVS = "/www/server/pyporject_evn"
PYTHON_PROJECT = "/www/server/python_project"
SUPERVISOR_PLUGIN = PANEL + "/plugin/supervisor"
# What the plugin keeps about itself (journal, backups, managed sites, its log).
PLUGIN_STATE = PANEL_DATA + "/" + PLUGIN_NAME
# Gunicorn's runtime dirs: root's parent, one per site inside it (pidfile, sockets, stats).
# The translation writes these two as the server has them when the plan gives no dir.
GUNICORN_RUNTIME = "/run/gunicorn_switch"
# Gunicorn's logs, one dir per site.
PYTHON_LOGS = WWWLOGS + "/python"
# bandit B108 reviewed: Gunicorn's documented tmpfs for the workers' heartbeat files
SHM = "/dev/shm"  # nosec B108
PYTHON_MANAGER = "/www/server/python_manager"
# The panel's 计划任务: one script per task here, run from root's crontab (Debian's, else
# the Red Hat family's).
PANEL_CRON = "/www/server/cron"
ROOT_CRONTABS = ("/var/spool/cron/crontabs/root", "/var/spool/cron/root")
# Debian's supervisord, when the Supervisor plugin's own is not the one running.
SUPERVISORD_CONF = "/etc/supervisor/supervisord.conf"
# The admin's systemd units (daemon-reload reads them; the package's /lib/systemd/system is not ours).
SYSTEMD_UNITS = "/etc/systemd/system"
