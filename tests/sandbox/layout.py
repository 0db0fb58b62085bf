"""The text of every file the sandbox writes, as Baota would have it on a real server.

Each site is described once in SITES; the templates below turn a site and the sandbox's ports
and prefix into its uWSGI config, nginx vhost, start script or Supervisor program. Paths in the
files are real paths (prefix included): the processes that read them know nothing of the prefix.
"""
import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class SiteSpec:
    name: str         # the site's name in the panel (sites.name)
    domain: str       # its server_name / Host header
    package: str      # the Django project package
    shape: str        # "ini_daemon" | "supervisor" | "panel_project" | "emperor" | "systemd"
    transport: str    # "tcp" | "unix" | "http"


SITES = (
    # A site made from Baota's PHP template, uWSGI started by hand (`uwsgi --ini`), daemonized,
    # `uwsgi_pass` put in the rewrite file (伪静态) and static files left to uWSGI's static-map.
    SiteSpec("shop.test", "shop.test", "shop", "ini_daemon", "tcp"),
    # A Supervisor program of the panel's 进程守护管理器, a unix socket behind an upstream block.
    SiteSpec("blog.test", "blog.test", "blog", "supervisor", "unix"),
    # A panel Python project (网站 → Python项目) in the default `http=` mode behind proxy_pass.
    SiteSpec("api", "api.test", "api", "panel_project", "http"),
    # A vassal of a uWSGI Emperor (the uWSGI docs' way to run many sites), `uwsgi_pass` in
    # the vhost itself.
    SiteSpec("vassal.test", "vassal.test", "vassal", "emperor", "tcp"),
)
EMPEROR_DIR = "/etc/uwsgi/vassals"
# uWSGI as an enabled systemd unit (the tutorials' shape). Not in SITES: it only runs under a
# private systemd (tests/sandbox/systemd_ns.py), with a sandbox of its own.
SYSTEMD_SITE = SiteSpec("unit.test", "unit.test", "unitapp", "systemd", "tcp")
UNIT_DIR = "/etc/systemd/system"


def uwsgi_unit_name(site):
    return "uwsgi-%s.service" % site.package


def uwsgi_unit(site, r, venv):
    """The unit the tutorials give for a Django site's uWSGI."""
    root = f"{r}/www/wwwroot/{site.name}"
    return f"""[Unit]
Description=uWSGI instance to serve {site.name}
After=network.target

[Service]
User=www
Group=www
WorkingDirectory={root}
ExecStart={venv}/bin/uwsgi --ini {root}/uwsgi.ini
Restart=always
KillSignal=SIGQUIT

[Install]
WantedBy=multi-user.target
"""

# The headers every proxy location the panel writes for a Python project has
PROXY_HEADERS = "".join("        proxy_set_header %s;\n" % h for h in (
    "Host $http_host", "X-Real-IP $remote_addr", "X-Real-Port $remote_port",
    "X-Forwarded-For $proxy_add_x_forwarded_for", "X-Forwarded-Proto $scheme",
    "X-Forwarded-Host $host", "X-Forwarded-Port $server_port"))

PANEL_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def sid(name):
    """Baota's marker for a panel project's processes: BT_PYTHON_SERVICE_SID=md5(name)."""
    return hashlib.md5(name.encode()).hexdigest()


def nginx_conf(r, port):
    """Baota's nginx.conf, reduced: user www, loopback only, vhosts included from the panel."""
    return f"""user  www www;
worker_processes 2;
error_log  {r}/www/wwwlogs/nginx_error.log  crit;
pid        {r}/www/server/nginx/logs/nginx.pid;
worker_rlimit_nofile 51200;

events
    {{
        use epoll;
        worker_connections 51200;
        multi_accept on;
    }}

http
    {{
        include       mime.types;
        include proxy.conf;
        default_type  application/octet-stream;

        client_body_temp_path {r}/www/server/nginx/temp/body;
        fastcgi_temp_path {r}/www/server/nginx/temp/fastcgi;
        uwsgi_temp_path {r}/www/server/nginx/temp/uwsgi;
        scgi_temp_path {r}/www/server/nginx/temp/scgi;

        server_names_hash_bucket_size 512;
        client_header_buffer_size 32k;
        large_client_header_buffers 4 32k;
        client_max_body_size 50m;

        sendfile   on;
        tcp_nopush on;
        keepalive_timeout 60;
        tcp_nodelay on;

        map $http_upgrade $connection_upgrade {{
            default upgrade;
            ''      close;
        }}

        server_tokens off;
        access_log off;

server
    {{
        listen 127.0.0.1:{port} default_server;
        server_name _;
        return 404;
    }}
include {r}/www/server/panel/vhost/nginx/*.conf;
}}
"""


def proxy_conf(r):
    return f"""proxy_temp_path {r}/www/server/nginx/temp/proxy;
proxy_connect_timeout 30;
proxy_send_timeout 60;
proxy_read_timeout 60;
proxy_buffer_size 32k;
proxy_buffers 4 64k;
"""


def uwsgi_ini(site, r, port, sock):
    """The uWSGI config of each shape, in the styles users and Baota write them."""
    root = f"{r}/www/wwwroot/{site.name}"
    venv = f"{r}/www/server/pyporject_evn/{site.package}_venv"
    if site.shape == "ini_daemon":
        return f"""[uwsgi]
# 商城站点：手动启动 uwsgi --ini uwsgi.ini
project = {site.package}
base = {root}

chdir = %(base)
home = {venv}
module = %(project).wsgi:application
env = DJANGO_SETTINGS_MODULE=%(project).settings

master = true
processes = 2
threads = 2
enable-threads = true
socket = 127.0.0.1:{port}
static-map = /static=%(base)/static
harakiri = 60
max-requests = 5000
buffer-size = 32768
uid = www
gid = www
pidfile = %(base)/uwsgi.pid
daemonize = {r}/www/wwwlogs/{site.name}.uwsgi.log
# 队列消费进程随 uWSGI 启停
attach-daemon = {venv}/bin/python queue_worker.py
# 每小时清理一次会话（uWSGI 自带的定时任务）
cron = 7 -1 -1 -1 -1 id -un > run/cron_ran.txt && pwd >> run/cron_ran.txt && printenv DJANGO_SETTINGS_MODULE >> run/cron_ran.txt
"""
    if site.shape == "supervisor":
        return f"""[uwsgi]
chdir = {root}
wsgi-file = {site.package}/wsgi.py
virtualenv = {venv}
master = true
processes = 2
socket = {sock}
chmod-socket = 666
vacuum = true
die-on-term = true
harakiri = 30
uid = www
gid = www
env = DJANGO_SETTINGS_MODULE={site.package}.settings
"""
    if site.shape == "systemd":
        # in the foreground, as systemd wants it; the unit's User= sets the user
        return f"""[uwsgi]
chdir = {root}
home = {venv}
module = {site.package}.wsgi:application
env = DJANGO_SETTINGS_MODULE={site.package}.settings
master = true
processes = 2
threads = 2
socket = 127.0.0.1:{port}
die-on-term = true
vacuum = true
# a worker beside the app: its quotes, backquotes and $$ reach /bin/sh as written
attach-daemon = /bin/sh -c 'echo "`id -un` $$ in `pwd`" >> run/daemon.out; exec sleep 86400'
"""
    if site.shape == "emperor":
        return f"""[uwsgi]
chdir = {root}
home = {venv}
module = {site.package}.wsgi
master = true
processes = 2
socket = 127.0.0.1:{port}
harakiri = 120
uid = www
gid = www
env = DJANGO_SETTINGS_MODULE={site.package}.settings
"""
    # Baota's python_project template (vhost/template/python_project/uwsgi_conf.conf), with
    # the router on loopback: the sandbox never listens on a public address.
    return f"""[uwsgi]
chdir={root}
wsgi-file={root}/{site.package}/wsgi.py
callable=application
processes=2
threads=2
http=127.0.0.1:{port}
uid=www
gid=www
master=true
buffer-size = 32768
daemonize = {r}/www/wwwlogs/python/{site.name}/uwsgi.log
"""


def _baota_server(site, r, nginx_port, body):
    """Baota's site vhost template (class/panelSite.py), as a PHP site would have it."""
    return f"""server
{{
    listen 127.0.0.1:{nginx_port};
    server_name {site.domain};
    index index.php index.html index.htm default.php default.htm default.html;
    root {r}/www/wwwroot/{site.name};
    #CERT-APPLY-CHECK--START
    # 用于SSL证书申请时的文件验证相关配置 -- 请勿删除
    include {r}/www/server/panel/vhost/nginx/well-known/{site.name}.conf;
    #CERT-APPLY-CHECK--END

    #SSL-START SSL相关配置，请勿删除或修改下一行带注释的404规则
    #error_page 404/404.html;
    #SSL-END

    #ERROR-PAGE-START  错误页配置，可以注释、删除或修改
    #error_page 404 /404.html;
    #error_page 502 /502.html;
    #ERROR-PAGE-END

    #PHP-INFO-START  PHP引用配置，可以注释或修改
    include enable-php-00.conf;
    #PHP-INFO-END
{body}
    #禁止访问的文件或目录
    location ~ ^/(\\.user.ini|\\.htaccess|\\.git|\\.env|\\.svn|\\.project|LICENSE|README.md)
    {{
        return 404;
    }}

    location ~ .*\\.(gif|jpg|jpeg|png|bmp|swf)$
    {{
        expires      30d;
        error_log /dev/null;
        access_log /dev/null;
    }}

    location ~ .*\\.(js|css)?$
    {{
        expires      12h;
        error_log /dev/null;
        access_log /dev/null;
    }}
    access_log  {r}/www/wwwlogs/{site.name}.log;
    error_log  {r}/www/wwwlogs/{site.name}.error.log;
}}
"""


def nginx_files(site, r, nginx_port, port, sock):
    """{unprefixed path: text} of the nginx files this site's shape uses."""
    vhost = "/www/server/panel/vhost"
    if site.shape == "ini_daemon":
        body = f"""
    #REWRITE-START URL重写规则引用,修改后将导致面板设置的伪静态规则失效
    include {r}{vhost}/rewrite/{site.name}.conf;
    #REWRITE-END
"""
        rewrite = f"""location / {{
    include uwsgi_params;
    uwsgi_pass 127.0.0.1:{port};
    uwsgi_read_timeout 60;
}}
"""
        return {
            f"{vhost}/nginx/{site.name}.conf": _baota_server(site, r, nginx_port, body),
            f"{vhost}/rewrite/{site.name}.conf": rewrite,
            f"{vhost}/nginx/well-known/{site.name}.conf": "",
        }
    if site.shape == "supervisor":
        up = f"{site.package}_backend"
        body = f"""
    #REWRITE-START URL重写规则引用,修改后将导致面板设置的伪静态规则失效
    include {r}{vhost}/rewrite/{site.name}.conf;
    #REWRITE-END

    location /static/ {{
        alias {r}/www/wwwroot/{site.name}/static/;
        expires 7d;
    }}

    location / {{
        uwsgi_pass {up};
        include uwsgi_params;
        uwsgi_param UWSGI_SCHEME $scheme;
    }}
"""
        upstream = f"upstream {up} {{\n    server unix:{sock};\n}}\n\n"
        return {
            f"{vhost}/nginx/{site.name}.conf": upstream + _baota_server(site, r, nginx_port, body),
            f"{vhost}/rewrite/{site.name}.conf": "",
            f"{vhost}/nginx/well-known/{site.name}.conf": "",
        }
    if site.shape in ("emperor", "systemd"):
        body = f"""
    #REWRITE-START URL重写规则引用,修改后将导致面板设置的伪静态规则失效
    include {r}{vhost}/rewrite/{site.name}.conf;
    #REWRITE-END

    location /static/ {{
        alias {r}/www/wwwroot/{site.name}/static/;
    }}

    location / {{
        include uwsgi_params;
        uwsgi_pass 127.0.0.1:{port};
        uwsgi_read_timeout 120;
        uwsgi_connect_timeout 30s;
    }}
"""
        return {
            f"{vhost}/nginx/{site.name}.conf": _baota_server(site, r, nginx_port, body),
            f"{vhost}/rewrite/{site.name}.conf": "",
            f"{vhost}/nginx/well-known/{site.name}.conf": "",
        }
    # BaoTa v11 python_<name>.conf (vhost/template/nginx/python_http.conf + set_nginx_config)
    conf = f"""server
{{
    listen 127.0.0.1:{nginx_port};
    server_name {site.domain};
    index index.html index.htm default.htm default.html;

    #SSL-START SSL相关配置
    #error_page 404/404.html;
    #SSL-END

    #ERROR-PAGE-START  错误页相关配置
    #error_page 404 /404.html;
    #error_page 502 /502.html;
    #ERROR-PAGE-END

    #REWRITE-START 伪静态相关配置
    include {r}{vhost}/rewrite/python_{site.name}.conf;
    #REWRITE-END

    location ~ ^/(\\.user.ini|\\.htaccess|\\.git|\\.svn|\\.project|LICENSE|README.md|package.json|package-lock.json|\\.env) {{
        return 404;
    }}

    location /static/ {{
        alias {r}/www/wwwroot/{site.name}/static/;
    }}

    # 项目反向代理
    location / {{
        proxy_pass http://127.0.0.1:{port};
{PROXY_HEADERS}        proxy_set_header REMOTE-HOST $remote_addr;
        proxy_connect_timeout 60s;
        proxy_send_timeout 600s;
        proxy_read_timeout 600s;
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $connection_upgrade;
    }}

    access_log  {r}/www/wwwlogs/{site.name}.log;
    error_log  {r}/www/wwwlogs/{site.name}.error.log;
}}
"""
    return {
        f"{vhost}/nginx/python_{site.name}.conf": conf,
        f"{vhost}/rewrite/python_{site.name}.conf": "",
    }


# shop.test's queue consumer, run by uWSGI's attach-daemon the way a site runs a Celery worker:
# takes run/queue/*.job by renaming it (of two consumers one wins the rename), records each
# in run/done.log with its pid, and appends a heartbeat to run/heartbeats.log every 0.2 s. On
# SIGTERM it finishes the item in hand and exits.
QUEUE_WORKER = """import os
import signal
import time

QUEUE, CLAIMED = "run/queue", "run/claimed"
stop = []
signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
os.makedirs(QUEUE, exist_ok=True)
os.makedirs(CLAIMED, exist_ok=True)
pid = os.getpid()
beat = 0.0
while not stop:
    now = time.time()
    if now - beat >= 0.2:
        with open("run/heartbeats.log", "a") as f:
            f.write("%.3f %d\\n" % (now, pid))
        beat = now
    for name in sorted(os.listdir(QUEUE)):
        if stop:
            break
        if not name.endswith(".job"):
            continue
        mine = os.path.join(CLAIMED, "%s.%d" % (name, pid))
        try:
            os.rename(os.path.join(QUEUE, name), mine)
        except FileNotFoundError:
            continue
        with open("run/done.log", "a") as f:
            f.write("%s %d\\n" % (name[:-4], pid))
        os.unlink(mine)
    time.sleep(0.05)
"""


# The panel's crontab table as BaoTa 11.7 creates it (aaPanel/BaoTa@f9f6845c
# config/databases.json, "crontab").
CRONTAB_TABLE = """CREATE TABLE "crontab" ("id" INTEGER PRIMARY KEY AUTOINCREMENT, "name" TEXT,
    "type" TEXT, "where1" TEXT, "where_hour" INTEGER, "where_minute" INTEGER, "echo" TEXT,
    "addtime" TEXT, "status" INTEGER DEFAULT 1, "save" INTEGER DEFAULT 3, "backupTo" TEXT
    DEFAULT off, "sName" TEXT, "sBody" TEXT, "sType" TEXT, "urladdress" TEXT, "save_local"
    INTEGER DEFAULT 0, "notice" INTEGER DEFAULT 0, "notice_channel" TEXT DEFAULT '',
    `db_type` TEXT DEFAULT '', `split_type` TEXT DEFAULT '', `split_value` INTEGER DEFAULT 0,
    `rname` TEXT DEFAULT '', `type_id` INTEGER, `backup_mode` TEXT, `db_backup_path` TEXT,
    `time_type` TEXT, `special_time` TEXT, `flock` INTEGER DEFAULT 0, `post_param` TEXT,
    `log_cut_path` TEXT, `user_agent` TEXT, `version` TEXT, `table_list` TEXT, `time_set` TEXT,
    `keyword` TEXT, `result` INTEGER DEFAULT 1, `second` TEXT, `stop_site` TEXT)"""


def supervisord_conf(r):
    """The Supervisor plugin's supervisord.conf (newer layout, inside the plugin's folder)."""
    p = f"{r}/www/server/panel/plugin/supervisor"
    return f"""[unix_http_server]
file={r}/var/run/supervisor.sock
chmod=0700

[supervisord]
logfile={p}/log/supervisord.log
pidfile={r}/var/run/supervisord.pid
nodaemon=false
minfds=1024
minprocs=200

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{r}/var/run/supervisor.sock

[include]
files = {p}/profile/*.ini
"""


def supervisor_program(site, r, venv):
    """A program file as the Supervisor plugin's AddProcess writes it."""
    name = f"{site.package}_uwsgi"
    log = f"{r}/www/server/panel/plugin/supervisor/log"
    return name, f"""[program:{name}]
command={venv}/bin/uwsgi --ini {r}/www/wwwroot/{site.name}/{site.package}_uwsgi.ini
directory={r}/www/wwwroot/{site.name}
autorestart=true
startsecs=3
startretries=3
stdout_logfile={log}/{name}.out.log
stderr_logfile={log}/{name}.err.log
stdout_logfile_maxbytes=2MB
stderr_logfile_maxbytes=2MB
user=root
priority=999
numprocs=1
process_name=%(program_name)s
"""


def start_script(site, r, venv):
    """A panel project's start script (pythonModel._create_cmd_file), for stype uwsgi."""
    pp = f"{r}/www/server/python_project/vhost"
    return f"""#!/bin/bash
PATH={venv}/bin:{PANEL_PATH}
export BT_PYTHON_SERVICE_SID={sid(site.name)}
source {venv}/bin/activate
source {pp}/env/{site.name}.env
cd {r}/www/wwwroot/{site.name}
nohup {venv}/bin/uwsgi --ini {r}/www/wwwroot/{site.name}/uwsgi.ini --pidfile={pp}/pids/{site.name}.pid &>> {r}/www/wwwlogs/python/{site.name}/uwsgi.log &
"""


def project_config(site, r, port, venv):
    """sites.project_config of a panel Python project (pythonModel.CreateProject)."""
    return {
        "pjname": site.name,
        "port": port,
        "stype": "uwsgi",
        "path": f"{r}/www/wwwroot/{site.name}",
        "user": "www",
        "requirement_path": "",
        "env_list": [],
        "env_file": "",
        "framework": "django",
        "vpath": venv,
        "version": "3.11",
        "python_bin": f"{venv}/bin/python3",
        "project_cmd": "",
        "xsgi": "wsgi",
        "rfile": f"{r}/www/wwwroot/{site.name}/{site.package}/wsgi.py",
        "call_app": "application",
        "auto_run": True,
        "logpath": f"{r}/www/wwwlogs/python/{site.name}",
        "is_pypy": False,
        "domains": [site.domain],
        # mapped to the outside (BindExtranet): nginx's proxy locations come from proxy_info
        "bind_extranet": 1,
        "proxy_info": [{"proxy_path": "/", "proxy_port": port, "status": 1}],
        "processes": 2,
        "threads": 2,
        "loglevel": "info",
        "is_http": "is_http",
    }
