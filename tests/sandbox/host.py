"""The Baota-shaped sandbox host: build it under a prefix, start it, stop it.

Real nginx (Debian's) behind wrappers at Baota's paths, real Django projects in real venvs,
real uWSGI in three shapes (see layout.SITES), real supervisord laid out like the panel's
Supervisor plugin, and the panel's sqlite sites table. Everything listens on 127.0.0.1 and
everything started here is stopped by its PID in stop().
"""
import grp
import json
import os
import pwd
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from . import layout, venvs
from .djangoapp import make_project

REPO = Path(__file__).resolve().parents[2]
DEBIAN_NGINX = "/usr/sbin/nginx"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_www_user():
    """Baota runs sites as `www`; CI and dev machines run as root, so the sandbox may add it."""
    try:
        pwd.getpwnam("www")
    except KeyError:
        subprocess.run(["groupadd", "-f", "www"], check=True)
        subprocess.run(["useradd", "-r", "-g", "www", "-s", "/sbin/nologin", "-M", "www"],
                       check=True)
    # A venv made from a Python under root's 0700 home cannot start as `www`
    # (notes/environment.md): make the home traversable, as the notes advise for the sandbox.
    base = os.path.realpath(venvs.BASE_PYTHON)
    home = os.path.expanduser("~")
    if base.startswith(home + "/"):
        mode = os.stat(home).st_mode
        if not mode & 0o001:
            os.chmod(home, mode | 0o001)


def _chown_www(path):
    uid = pwd.getpwnam("www").pw_uid
    gid = grp.getgrnam("www").gr_gid
    for dirpath, dirnames, filenames in os.walk(path):
        os.lchown(dirpath, uid, gid)
        # lchown: a venv's bin/python links to the base interpreter, which stays root's
        for f in filenames + dirnames:
            os.lchown(os.path.join(dirpath, f), uid, gid)


class _Proc(psutil.Process):
    """A sandbox process whose command line reads as empty once it has exited: the tests
    look at processes that the switch is stopping (an exited uWSGI stays a zombie until
    PID 1 reaps it)."""

    def cmdline(self):
        try:
            return super().cmdline()
        except psutil.Error:
            return []


class Site:
    """One sandbox site: its spec plus where it lives and how it listens."""

    def __init__(self, spec, root, port, sock):
        self.spec = spec
        self.name = spec.name
        self.domain = spec.domain
        self.project = Path(root) / "www/wwwroot" / spec.name
        self.venv = Path(root) / "www/server/pyporject_evn" / (spec.package + "_venv")
        self.port = port  # uWSGI's TCP port (tcp and http shapes)
        self.sock = sock  # uWSGI's unix socket (unix shape)

    def __repr__(self):
        return "Site(%s, %s)" % (self.name, self.spec.shape)


class Sandbox:
    def __init__(self, root=None, specs=layout.SITES, ports=None):
        """ports: {"nginx": port, site name: port} of a sandbox built before (load())."""
        self.root = Path(root or tempfile.mkdtemp(prefix="gsw-", dir="/tmp"))
        os.chmod(self.root, 0o755)
        ports = ports or {}
        self.nginx_port = ports.get("nginx") or free_port()
        self.sites = {}
        for spec in specs:
            sock = str(self.root / "www/wwwroot" / spec.name / "run" / (spec.package + ".sock"))
            port = (ports.get(spec.name) or free_port()) if spec.transport != "unix" else None
            self.sites[spec.name] = Site(spec, self.root, port, sock if port is None else None)
        self.plugin_dir = self.root / "www/server/panel/plugin/gunicorn_switch"
        self.panel_python = self.root / "www/server/panel/pyenv/bin/python3"

    def save(self):
        """Write what load() needs to drive this sandbox from another process."""
        data = {"specs": [s.spec.__dict__ for s in self.sites.values()],
                "ports": dict({"nginx": self.nginx_port},
                              **{s.name: s.port for s in self.sites.values()})}
        (self.root / "sandbox.json").write_text(json.dumps(data))
        return self

    @classmethod
    def load(cls, root):
        data = json.loads((Path(root) / "sandbox.json").read_text())
        sb = cls(root, [layout.SiteSpec(**d) for d in data["specs"]], data["ports"])
        for site in sb.sites.values():
            site.uwsgi_ini = site.project / "uwsgi.ini"
        sb.supervisorctl = [str(sb.p("/www/server/panel/pyenv/bin/supervisorctl")), "-c",
                            str(sb.p("/www/server/panel/plugin/supervisor/supervisord.conf"))]
        return sb

    # ---- paths -------------------------------------------------------------------------
    def p(self, baota_path):
        """The real path of a Baota path under this sandbox's prefix."""
        return self.root / baota_path.lstrip("/")

    def env(self):
        """The environment the plugin runs in on this sandbox: its prefix, and pip pointed at
        the wheelhouse the way a server's environment points pip at a mirror (an environment
        variable, which outranks any pip.conf: this machine's own PIP_FIND_LINKS would
        otherwise win over the venvs' pip.conf)."""
        e = {"GUNICORN_SWITCH_ROOT": str(self.root), "PIP_FIND_LINKS": str(venvs.wheelhouse()),
             "PIP_NO_INDEX": "1"}
        if self.panel_python.exists():
            # the switch and rollback steps run on the panel's own Python (3.7, as BaoTa's)
            e["GUNICORN_SWITCH_RUNNER_PYTHON"] = str(self.panel_python)
        return e

    def activate(self):
        """Put env() into this process's environment; returns the previous values."""
        saved = {k: os.environ.get(k) for k in self.env()}
        os.environ.update(self.env())
        return saved

    @staticmethod
    def deactivate(saved):
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    def _write(self, baota_path, text, mode=0o644):
        p = self.p(baota_path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        os.chmod(p, mode)
        return p

    # ---- build -------------------------------------------------------------------------
    def build(self, link_plugin=True):
        """Lay out the tree and install everything; starts nothing."""
        ensure_www_user()
        r = str(self.root)
        self._build_panel(link_plugin)
        self._build_nginx(r)
        self._build_sites(r)
        self._build_supervisor(r)
        self._build_sites_db(r)
        return self

    def _build_panel(self, link_plugin):
        # The panel's own Python: a venv of the panel's interpreter (3.7.16 as on BaoTa 9-11)
        # holding exactly what the panel ships to plugins, at the panel's versions.
        pyenv = self.p("/www/server/panel/pyenv")
        venvs.make_venv(pyenv, venvs.PANEL_PACKAGES, pip_conf=False,
                        python=venvs.panel_base_python())
        for d in ("/www/server/panel/data", "/www/server/panel/plugin", "/www/server/panel/temp",
                  "/www/wwwlogs/python", "/var/run", "/tmp"):
            self.p(d).mkdir(parents=True, exist_ok=True)
        if link_plugin:
            self.plugin_dir.symlink_to(REPO / "plugin")

    def _build_nginx(self, r):
        n = "/www/server/nginx"
        for d in ("logs", "temp/body", "temp/proxy", "temp/fastcgi", "temp/uwsgi", "temp/scgi"):
            self.p(f"{n}/{d}").mkdir(parents=True, exist_ok=True)
        conf = self.p(f"{n}/conf")
        conf.mkdir(parents=True, exist_ok=True)
        for f in ("mime.types", "uwsgi_params", "fastcgi_params", "proxy_params"):
            shutil.copy(f"/etc/nginx/{f}", conf / f)
        self._write(f"{n}/conf/nginx.conf", layout.nginx_conf(r, self.nginx_port))
        self._write(f"{n}/conf/proxy.conf", layout.proxy_conf(r))
        self._write(f"{n}/conf/enable-php-00.conf", "")
        # Baota's paths for the binary and the init script, in front of Debian's nginx.
        self._write(f"{n}/sbin/nginx",
                    "#!/bin/sh\n"
                    f'case " $* " in *" -c "*) exec {DEBIAN_NGINX} -p {r}{n}/ -e {r}/www/wwwlogs/nginx_error.log "$@";; esac\n'
                    f'exec {DEBIAN_NGINX} -p {r}{n}/ -e {r}/www/wwwlogs/nginx_error.log -c {r}{n}/conf/nginx.conf "$@"\n',
                    0o755)
        self._write("/etc/init.d/nginx",
                    "#!/bin/sh\n"
                    f"NGINX={r}{n}/sbin/nginx\nPIDFILE={r}{n}/logs/nginx.pid\n"
                    'case "$1" in\n'
                    '  start) $NGINX ;;\n'
                    '  stop) $NGINX -s quit ;;\n'
                    '  reload) $NGINX -t -q && $NGINX -s reload ;;\n'
                    '  restart) $NGINX -s quit; sleep 1; $NGINX ;;\n'
                    '  configtest) $NGINX -t ;;\n'
                    '  *) echo "Usage: $0 {start|stop|reload|restart|configtest}"; exit 1 ;;\n'
                    'esac\n', 0o755)

    def _build_sites(self, r):
        for site in self.sites.values():
            spec = site.spec
            make_project(site.project, spec.package)
            (site.project / "static" / "site.webmanifest").write_text('{"name": "%s"}\n' % spec.name)
            (site.project / "run").mkdir(exist_ok=True)
            if spec.shape == "ini_daemon":
                (site.project / "queue_worker.py").write_text(layout.QUEUE_WORKER)
            venvs.make_venv(site.venv, venvs.SITE_PACKAGES)
            if spec.shape != "ini_daemon":
                # As Baota's project manager leaves it: the site's user owns its venv. The
                # daemon site keeps a root-owned venv, the other shape a server has.
                _chown_www(site.venv)
            text = layout.uwsgi_ini(spec, r, site.port, site.sock)
            if spec.shape == "emperor":
                site.uwsgi_ini = self._write(f"{layout.EMPEROR_DIR}/{spec.name}.ini", text)
            elif spec.shape == "systemd":
                site.uwsgi_ini = site.project / "uwsgi.ini"
                site.uwsgi_ini.write_text(text)
                self._write(f"{layout.UNIT_DIR}/{layout.uwsgi_unit_name(spec)}",
                            layout.uwsgi_unit(spec, r, site.venv))
            else:
                ini_name = "uwsgi.ini" if spec.shape != "supervisor" else spec.package + "_uwsgi.ini"
                site.uwsgi_ini = site.project / ini_name
                site.uwsgi_ini.write_text(text)
            for path, text in layout.nginx_files(spec, r, self.nginx_port, site.port, site.sock).items():
                self._write(path, text)
            _chown_www(site.project)
            if spec.shape == "panel_project":
                pp = "/www/server/python_project/vhost"
                self._write(f"{pp}/scripts/{spec.name}_uwsgi.sh",
                            layout.start_script(spec, r, site.venv), 0o755)
                self._write(f"{pp}/env/{spec.name}.env", "")
                self.p(f"{pp}/pids").mkdir(parents=True, exist_ok=True)
                logdir = self.p(f"/www/wwwlogs/python/{spec.name}")
                logdir.mkdir(parents=True, exist_ok=True)

    def _build_supervisor(self, r):
        sp = "/www/server/panel/plugin/supervisor"
        for d in ("profile", "log"):
            self.p(f"{sp}/{d}").mkdir(parents=True, exist_ok=True)
        self._write(f"{sp}/supervisord.conf", layout.supervisord_conf(r))
        self._write(f"{sp}/info.json", json.dumps({
            "name": "supervisor", "title": "进程守护管理器", "versions": "3.0",
        }, ensure_ascii=False))
        pyenv_bin = self.p("/www/server/panel/pyenv/bin")
        programs = []
        for site in self.sites.values():
            if site.spec.shape != "supervisor":
                continue
            name, text = layout.supervisor_program(site.spec, r, site.venv)
            self._write(f"{sp}/profile/{name}.ini", text)
            site.program = name
            programs.append({"program": name, "command": text.split("command=")[1].split("\n")[0],
                             "path": str(site.project), "user": "root", "numprocs": "1",
                             "ps": site.name})
        self._write(f"{sp}/config.json", json.dumps(programs, ensure_ascii=False, indent=2))
        self.supervisorctl = [str(pyenv_bin / "supervisorctl"), "-c", str(self.p(f"{sp}/supervisord.conf"))]

    def _build_sites_db(self, r):
        db = self.p("/www/server/panel/data/db/site.db")
        db.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(str(db))
        con.executescript("""
            CREATE TABLE sites (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, path TEXT,
                status TEXT, `index` TEXT, ps TEXT, addtime TEXT, type_id INTEGER DEFAULT 0,
                edate TEXT DEFAULT '0000-00-00', project_type TEXT DEFAULT 'PHP',
                project_config TEXT DEFAULT '{}', rname TEXT DEFAULT '', stop TEXT DEFAULT '');
            CREATE TABLE domain (id INTEGER PRIMARY KEY AUTOINCREMENT, pid INTEGER, name TEXT,
                port INTEGER, addtime TEXT);
        """)
        now = time.strftime("%Y-%m-%d %H:%M:%S")
        for site in self.sites.values():
            spec = site.spec
            if spec.shape == "panel_project":
                ptype, pconf = "Python", layout.project_config(spec, r, site.port, str(site.venv))
            else:
                ptype, pconf = "PHP", {}
            cur = con.execute(
                "INSERT INTO sites (name, path, status, `index`, ps, addtime, project_type,"
                " project_config) VALUES (?,?,?,?,?,?,?,?)",
                (spec.name, str(site.project), "1", "index.html", spec.name, now, ptype,
                 json.dumps(pconf)))
            con.execute("INSERT INTO domain (pid, name, port, addtime) VALUES (?,?,?,?)",
                        (cur.lastrowid, spec.domain, 80, now))
        con.commit()
        con.close()
        # the panel's 计划任务: its table (v11: a database of its own) and root's crontab dir
        con = sqlite3.connect(str(self.p("/www/server/panel/data/db/crontab.db")))
        con.execute(layout.CRONTAB_TABLE)
        con.commit()
        con.close()
        spool = self.p("/var/spool/cron/crontabs")
        spool.mkdir(parents=True, exist_ok=True)
        os.chmod(spool, 0o1730)

    # ---- run ---------------------------------------------------------------------------
    def start(self):
        self.run([str(self.p("/etc/init.d/nginx")), "start"])
        self.run([str(self.p("/www/server/panel/pyenv/bin/supervisord")), "-c",
                  str(self.p("/www/server/panel/plugin/supervisor/supervisord.conf"))])
        for site in self.sites.values():
            self.start_uwsgi(site)
        for site in self.sites.values():
            self.wait_ok(site)
        return self

    def start_uwsgi(self, site):
        """Start a site's uWSGI the way its shape runs it."""
        shape = site.spec.shape
        if shape == "ini_daemon":
            self.run([str(site.venv / "bin/uwsgi"), "--ini", str(site.uwsgi_ini)], cwd=site.project)
        elif shape == "emperor":
            # One Emperor for the sandbox, run from the vassal's venv (any uWSGI built with
            # the same Python would do: the vassal's `home` picks its packages).
            self.run([str(site.venv / "bin/uwsgi"), "--emperor", str(self.p(layout.EMPEROR_DIR)),
                      "--pidfile", str(self.p("/var/run/uwsgi-emperor.pid")),
                      "--daemonize", str(self.p("/www/wwwlogs/uwsgi-emperor.log"))])
        elif shape == "systemd":
            # as the tutorials have it: enabled for boot, and started (needs the private
            # systemd: run inside its namespace)
            self.run(["systemctl", "daemon-reload"])
            self.run(["systemctl", "enable", "--now", layout.uwsgi_unit_name(site.spec)])
        elif shape == "supervisor":
            # supervisord starts autostart programs itself; make sure it is up.
            self.wait_for(lambda: b"RUNNING" in subprocess.run(
                self.supervisorctl + ["status", site.program], capture_output=True).stdout,
                what="supervisor program %s" % site.program)
        else:
            self.run(["bash", str(self.p(f"/www/server/python_project/vhost/scripts/{site.name}_uwsgi.sh"))])

    def panel_daemon_tick(self):
        """What the panel's project daemon does every 120 s (script/project_daemon.py,
        PythonDaemons): start every auto_run Python project that is not running, the way the
        panel starts it (panel_project.py). Returns the names started."""
        from .panel_project import PanelProjects
        return PanelProjects(self).daemon_tick()

    def run(self, argv, **kw):
        res = subprocess.run(argv, capture_output=True, check=False, **kw)
        if res.returncode != 0:
            raise RuntimeError("sandbox: %s exited %d: %s" % (
                " ".join(map(str, argv)), res.returncode,
                (res.stdout + res.stderr).decode("utf-8", "replace")[-2000:]))
        return res

    def wait_for(self, cond, what, timeout=30.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                if cond():
                    return
            except Exception:
                pass
            time.sleep(0.1)
        raise TimeoutError("sandbox: %s not ready after %ss" % (what, timeout))

    def wait_ok(self, site, path="/"):
        self.wait_for(lambda: self.get(site.name, path)[0] == 200, "site %s" % site.name)

    def get(self, site_name, path="/", timeout=10):
        """(status, body) of a GET through nginx with the site's Host header."""
        import http.client
        site = self.sites[site_name]
        c = http.client.HTTPConnection("127.0.0.1", self.nginx_port, timeout=timeout)
        try:
            c.request("GET", path, headers={"Host": site.domain})
            resp = c.getresponse()
            return resp.status, resp.read()
        finally:
            c.close()

    # ---- stop --------------------------------------------------------------------------
    def pids(self):
        """Every live process this sandbox started: those whose command line, executable or
        working directory lies under the prefix (nginx, supervisord, uWSGI, Gunicorn)."""
        root = str(self.root) + "/"
        found = []
        for proc in psutil.process_iter(["pid", "cmdline", "cwd", "exe"]):
            info = proc.info
            hay = " ".join(info.get("cmdline") or []) + " " + (info.get("cwd") or "") + " " + (info.get("exe") or "")
            if root in hay and proc.pid != os.getpid():
                try:
                    found.append(_Proc(proc.pid))
                except psutil.Error:
                    continue
        return found

    def stop(self):
        """Stop everything, politely first, then by SIGKILL; by PID, never by name."""
        sup_pid = self._read_pid("/var/run/supervisord.pid")
        if sup_pid:
            self._signal(sup_pid, signal.SIGTERM)
        nginx_pid = self._read_pid("/www/server/nginx/logs/nginx.pid")
        if nginx_pid:
            self._signal(nginx_pid, signal.SIGQUIT)
        for proc in self.pids():
            try:
                name = " ".join(proc.cmdline())
            except psutil.Error:
                continue
            # uWSGI stops on INT; gunicorn, nginx and supervisord on TERM.
            self._signal(proc.pid, signal.SIGINT if "uwsgi" in name else signal.SIGTERM)
        procs = self.pids()
        gone, alive = psutil.wait_procs(procs, timeout=10)
        for proc in alive:
            try:
                proc.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(alive, timeout=5)

    def destroy(self):
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def _read_pid(self, baota_path):
        try:
            return int(self.p(baota_path).read_text().strip())
        except (OSError, ValueError):
            return None

    @staticmethod
    def _signal(pid, sig):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def main():
    """`python -m tests.sandbox.host [ROOT]`: build and start a sandbox, print where it is."""
    sb = Sandbox(sys.argv[1] if len(sys.argv) > 1 else None).build().start()
    print(json.dumps({"root": str(sb.root), "nginx_port": sb.nginx_port}))


if __name__ == "__main__":
    main()
