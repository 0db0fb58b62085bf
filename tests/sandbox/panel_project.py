"""BaoTa 11.7's Python project manager as it acts on a project behind the plugin's back.

An imitation of the parts of class/projectModel/pythonModel.py (aaPanel/BaoTa f9f6845c) that
notes/baota-internals.md §12 lists, for the sandbox's panel projects:

- start/restart (``__start_project``, ``RestartProject``): when any of ``<path>/uwsgi.ini``,
  ``<path>/gunicorn_conf.py`` or the stype's cmd script is missing, ``__prepare_start_conf``
  regenerates them (Baota's own ``gunicorn_conf.py`` template — ``bind = '0.0.0.0:{port}'``,
  no hooks — only where the file is missing, the cmd script wherever its conf or itself is);
  then the pid file is removed, ``chown -R <user>:<user> <path>``, the pids dir made 0777,
  the cmd script 0755 and the run user's, and the script run **as root** for stype
  uwsgi/gunicorn; the config is saved back with ``json.dumps``.
- stop (``__stop_project``): terminate, then kill, the main pid and all its children.
- run state (``get_project_run_state``): the pid file, else the process whose environment
  holds ``BT_PYTHON_SERVICE_SID=md5(name)`` (read from /proc/*/environ), else by command
  line (venv in the exe, stype in exe and command line, the project path in the command
  line); a pid found the second or third way is written to the pid file.
- ``AddProjectDomain``/``RemoveProjectDomain``: the domain row and ``project_config.domains``,
  then ``set_config`` → ``set_nginx_config`` → ``_modify_nginx_config``: server_name from the
  domains, every local ``proxy_pass`` location whose port is not in ``proxy_info`` deleted,
  one location per remaining ``proxy_info`` entry created; ``nginx -t`` (the file put back
  on failure), then a reload.

Where the sandbox differs from a server it says so: ``listen`` stays the sandbox's loopback
port (the panel writes the domains' ports), and the panel's pynginx re-serialisation of the
whole file is not imitated (only the lines it changes are).
"""
import json
import os
import re
import sqlite3
import subprocess
import time

import psutil

from . import layout

PP = "/www/server/python_project/vhost"
LOCAL = ("127.0.0.1", "localhost", "0.0.0.0", "::1")  # nosec B104: compared, never bound

# vhost/template/python_project/gunicorn_conf.conf, as BaoTa 11.7 ships it
GUNICORN_TEMPLATE = """# 项目目录
chdir = '{path}'

# 指定进程数
workers = {processes}

# 指定每个进程开启的线程数
threads = {threads}

#启动用户
user = '{user}'

# 启动模式
worker_class = '{worker_class}'

# 绑定的ip与端口
bind = '0.0.0.0:{port}'

# 设置进程文件目录（用于停止服务和重启服务，请勿删除）
pidfile = '{path}/gunicorn.pid'

# 设置访问日志和错误信息日志路径
accesslog = '{logpath}/gunicorn_acess.log'
errorlog = '{logpath}/gunicorn_error.log'

loglevel = '{loglevel}'
"""

# pynginx LocationTools.add_proxy: the headers the panel's template gives a proxy location
PROXY_LOCATION = ("    location {path} {{\n        proxy_pass http://127.0.0.1:{port};\n"
                  + layout.PROXY_HEADERS.replace("{", "{{").replace("}", "}}")
                  + "        proxy_set_header Remote-Host $remote_addr;\n    }}\n")


class PanelProjects(object):
    def __init__(self, sandbox):
        self.sb = sandbox
        self.db = str(sandbox.p("/www/server/panel/data/db/site.db"))

    # ---- the sites table ---------------------------------------------------------------
    def row(self, name):
        con = sqlite3.connect(self.db)
        try:
            r = con.execute("SELECT id, project_config FROM sites WHERE name=? AND "
                            "project_type='Python'", (name,)).fetchone()
        finally:
            con.close()
        return r[0], json.loads(r[1])

    def config_text(self, name):
        con = sqlite3.connect(self.db)
        try:
            return con.execute("SELECT project_config FROM sites WHERE name=?", (name,)).fetchone()[0]
        finally:
            con.close()

    def _save(self, name, conf):
        con = sqlite3.connect(self.db)
        try:
            con.execute("UPDATE sites SET project_config=? WHERE name=?", (json.dumps(conf), name))
            con.commit()
        finally:
            con.close()

    def names(self):
        con = sqlite3.connect(self.db)
        try:
            return [r[0] for r in con.execute("SELECT name FROM sites WHERE project_type='Python'")]
        finally:
            con.close()

    # ---- files ---------------------------------------------------------------------------
    def pid_file(self, name):
        return self.sb.p("%s/pids/%s.pid" % (PP, name))

    def cmd_file(self, conf):
        return self.sb.p("%s/scripts/%s_%s.sh" % (PP, conf["pjname"], conf["stype"]))

    def prepare_start_conf(self, conf):
        """__prepare_start_conf without force: Baota's gunicorn conf where it is missing, and
        the gunicorn cmd script wherever its conf or itself was missing. (The uWSGI side
        exists from the sandbox's build and is not regenerated here.)"""
        path = conf["path"]
        gconf = os.path.join(path, "gunicorn_conf.py")
        cmd = self.sb.p("%s/scripts/%s_gunicorn.sh" % (PP, conf["pjname"]))
        if os.path.exists(gconf) and cmd.exists():
            return []
        written = []
        if not os.path.exists(gconf):
            with open(gconf, "w") as f:
                f.write(GUNICORN_TEMPLATE.format(
                    path=path, processes=conf.get("processes", 4), threads=conf.get("threads", 2),
                    user=conf.get("user", "root"), port=conf["port"], logpath=conf["logpath"],
                    loglevel=conf.get("loglevel", "info"),
                    worker_class="sync" if conf.get("xsgi") == "wsgi" else "uvicorn.workers.UvicornWorker"))
            written.append(gconf)
        rfile = conf["rfile"]
        app = rfile[len(path) + 1:-3].replace("/", ".") + ":" + (conf.get("call_app") or "application")
        venv_bin = os.path.join(conf["vpath"], "bin")
        cmd.write_text(
            "#!/bin/bash\nPATH=%s:%s:%s\nexport PATH\nexport BT_PYTHON_SERVICE_SID=%s\n"
            "source %s/activate\nsource %s\ncd %s\nnohup %s/gunicorn -c %s/gunicorn_conf.py %s "
            "&>> %s/gunicorn_error.log &\necho $! > %s" % (
                venv_bin, path, layout.PANEL_PATH, layout.sid(conf["pjname"]), venv_bin,
                self.sb.p("%s/env/%s.env" % (PP, conf["pjname"])), path, venv_bin, path, app,
                conf["logpath"], self.pid_file(conf["pjname"])))
        written.append(str(cmd))
        return written

    # ---- run state -----------------------------------------------------------------------
    def run_state(self, name):
        """The project's main pid as get_project_run_state finds it, or None."""
        _id, conf = self.row(name)
        try:
            pid = int(self.pid_file(name).read_text().strip())
            psutil.Process(pid)
            return pid
        except (OSError, ValueError, psutil.Error):
            pass
        pid = self._pid_by_sid(name) or self._pid_by_command(conf)
        if pid:
            self.pid_file(name).write_text(str(pid))
        return pid

    def _ours(self):
        return [p.pid for p in self.sb.pids()]

    @staticmethod
    def _main(pids):
        main = []
        for pid in pids:
            try:
                if psutil.Process(pid).ppid() not in pids:
                    main.append(pid)
            except psutil.Error:
                continue
        return main

    def _pid_by_sid(self, name):
        key = ("BT_PYTHON_SERVICE_SID=%s" % layout.sid(name)).encode()
        found = []
        # The panel scans every process; a server has one panel, this machine may have other
        # sandboxes whose `api` carries the same md5("api"): only this sandbox's count.
        for pid in self._ours():
            try:
                with open("/proc/%d/environ" % pid, "rb") as f:
                    if key in f.read():
                        found.append(pid)
            except OSError:
                continue
        main = self._main(found)
        return main[-1] if main else None

    def _pid_by_command(self, conf):
        stype, found = conf["stype"], []
        for p in self.sb.pids():
            try:
                cmd = " ".join(p.cmdline())
                exe = p.exe()
                if p.status() != psutil.STATUS_ZOMBIE and conf["vpath"] in exe and stype in exe \
                        and conf["path"] in cmd and stype in cmd:
                    found.append(p.pid)
            except psutil.Error:
                continue
        main = found if len(found) == 1 else self._main(found)
        return main[0] if len(main) == 1 else None

    # ---- start / stop --------------------------------------------------------------------
    def start(self, name, timeout=30.0):
        """__start_project; returns the files __prepare_start_conf wrote."""
        if self.run_state(name):
            return []
        _id, conf = self.row(name)
        cmd = self.cmd_file(conf)
        written = []
        if not cmd.exists() or not all(os.path.exists(os.path.join(conf["path"], f))
                                       for f in ("uwsgi.ini", "gunicorn_conf.py")):
            written = self.prepare_start_conf(conf)
        if self.pid_file(name).exists():
            self.pid_file(name).unlink()
        user = conf.get("user") or "root"
        subprocess.run(["chown", "-R", "%s:%s" % (user, user), conf["path"]], check=True)
        os.chmod(cmd, 0o755)
        os.chmod(self.pid_file(name).parent, 0o777)
        subprocess.run(["chown", "%s:%s" % (user, user), str(cmd)], check=True)
        # as root for uwsgi/gunicorn (the config is trusted to drop privileges), with the
        # panel's own environment
        subprocess.run([str(cmd)], env=dict(os.environ), check=False, timeout=60,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = time.monotonic() + timeout
        while not self.run_state(name) and time.monotonic() < end:
            time.sleep(0.2)
        self._save(name, conf)
        return written

    def stop(self, name):
        pid = self.run_state(name)
        if not pid:
            return
        try:
            procs = [psutil.Process(pid)] + psutil.Process(pid).children(recursive=True)
        except psutil.Error:
            procs = []
        procs.sort(key=lambda p: p.pid, reverse=True)
        for sig in ("terminate", "kill"):
            for p in procs:
                try:
                    getattr(p, sig)()
                except psutil.Error:
                    pass
        psutil.wait_procs(procs, timeout=10)
        if self.pid_file(name).exists():
            self.pid_file(name).unlink()

    def restart(self, name):
        self.stop(name)
        return self.start(name)

    def daemon_tick(self):
        """script/project_daemon.py PythonDaemons: start every auto_run project that is not
        running. Returns the names started."""
        started = []
        for name in self.names():
            if self.row(name)[1].get("auto_run") and not self.run_state(name):
                self.start(name)
                started.append(name)
        return started

    # ---- domains and nginx -----------------------------------------------------------------
    def add_domain(self, name, domain):
        pid, conf = self.row(name)
        host, _, port = domain.partition(":")
        port = int(port or 80)
        con = sqlite3.connect(self.db)
        try:
            con.execute("INSERT INTO domain (pid, name, port, addtime) VALUES (?,?,?,?)",
                        (pid, host, port, time.strftime("%Y-%m-%d %H:%M:%S")))
            con.commit()
        finally:
            con.close()
        real = "%s:%d" % (host, port)
        if real not in conf["domains"]:
            conf["domains"].append(real)
        self._save(name, conf)
        self.set_config(name)

    def remove_domain(self, name, domain):
        pid, conf = self.row(name)
        host, _, port = domain.partition(":")
        con = sqlite3.connect(self.db)
        try:
            con.execute("DELETE FROM domain WHERE pid=? AND name=? AND port=?",
                        (pid, host, int(port or 80)))
            con.commit()
        finally:
            con.close()
        for d in (domain, domain + ":80"):
            if d in conf["domains"]:
                conf["domains"].remove(d)
        self._save(name, conf)
        self.set_config(name)

    def vhost(self, name):
        return self.sb.p("/www/server/panel/vhost/nginx/python_%s.conf" % name)

    def set_config(self, name):
        _id, conf = self.row(name)
        if not conf.get("bind_extranet") or not conf.get("domains"):
            return False
        self.set_nginx_config(name, conf)
        self.sb.run([str(self.sb.p("/etc/init.d/nginx")), "reload"])
        return True

    def set_nginx_config(self, name, conf):
        path = self.vhost(name)
        before = path.read_text()
        domains = []
        for d in conf["domains"]:
            host = d.rsplit(":", 1)[0]
            if host not in domains:
                domains.append(host)
        text = re.sub(r"(?m)^(\s*server_name\s+)[^;]*;", lambda m: m.group(1) + " ".join(domains) + ";",
                      before, count=1)
        wanted = {int(p["proxy_port"]): p["proxy_path"] for p in conf.get("proxy_info") or []
                  if str(p.get("proxy_port", "")).isdigit()}
        for start, end, _args, port in reversed(locations(text)):
            if port is None:
                continue
            if port not in wanted:
                text = text[:start] + text[end:]
            else:
                wanted.pop(port)
        close = text.rstrip().rfind("}")
        text = text[:close] + "".join(PROXY_LOCATION.format(path=p, port=port)
                                      for port, p in wanted.items()) + text[close:]
        path.write_text(text)
        rc = subprocess.run([str(self.sb.p("/www/server/nginx/sbin/nginx")), "-t"],
                            capture_output=True).returncode
        if rc != 0:
            path.write_text(before)
            raise ValueError("Nginx配置文件有错误")


def locations(text):
    """[(start, end, location args, local proxy_pass port or None)] of the server block's
    top-level location blocks, start..end being their whole lines."""
    out = []
    depth, i, n = 0, 0, len(text)
    head = None
    while i < n:
        c = text[i]
        if c == "#":
            i = text.find("\n", i)
            i = n if i < 0 else i
            continue
        if c == "{":
            depth += 1
            if depth == 2:
                line_start = text.rfind("\n", 0, i) + 1
                m = re.match(r"\s*location\s+([^{]*?)\s*$", text[line_start:i])
                head = (line_start, m.group(1)) if m else None
        elif c == "}":
            depth -= 1
            if depth == 1 and head:
                end = text.find("\n", i)
                end = n if end < 0 else end + 1
                body = text[head[0]:end]
                m = re.search(r"proxy_pass\s+http://([^/:;\s]+)(?::(\d+))?", body)
                port = int(m.group(2) or 80) if m and m.group(1) in LOCAL else None
                out.append((head[0], end, head[1], port))
                head = None
        i += 1
    return out
