"""Dev panel: serves the plugin page the way the Baota panel does, on 127.0.0.1.

    python tools/devpanel/server.py [--plugin-dir DIR] [--root ROOT] [--port N]

Routes (the panel's, baota-internals.md §3-§4, §11):

    GET  /[?lang=en][&theme=dark]            a panel-like shell with the 软件商店 entry
    GET  /bt11[?lang=en]                     BaoTa 11's shell: the plugin inside <iframe src=/software>
    GET  /software?name=NAME                 the iframe's document (lang="en", title 插件管理)
    GET  /static/...                         shell assets; jQuery 2.2.4, layer and echarts from npm
    GET  /static/img/soft_ico/ico-NAME.png   the plugin's icon
    POST /plugin?action=getConfigHtml&name=NAME         index.html as it is on disk
    POST /plugin?action=a&name=NAME&s=METHOD            the loader: NAME_main().METHOD(get)
    POST /plugin?action=uninstall_plugin&sName=NAME     uninstall_check, then install.sh uninstall
    GET  /NAME/static/PATH                   the plugin's static/ folder

The loader is the real one's observable behaviour (§11): the main file is executed under its
full path as module name, with the plugin folder first on sys.path, again only when its mtime
changes; the class is instantiated on every call; `_names` are callable; a raise or a failed
import is an HTML 500; a return value json cannot encode, a method without a `get` parameter
and an unknown method are 200 JSON messages in the panel's words.

From tests: ``server, url, token = start(plugin_dir, root)`` … ``stop(server)``.
"""
import argparse
import html
import importlib.util
import inspect
import json
import mimetypes
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import traceback
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from dict_obj import build_get  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
NAME = "gunicorn_switch"
STATIC = os.path.join(HERE, "static")
NODE = os.path.join(HERE, "node_modules")
# Where the panel itself keeps the libraries (aaPanel: /static/layer/layer.js).
LIBS = {
    "/static/js/jquery-2.2.4.min.js": os.path.join(NODE, "jquery", "dist", "jquery.min.js"),
    "/static/layer/": os.path.join(NODE, "layer-src", "dist") + "/",
    # Loaded by the shell only when a plugin page's HTML contains `echarts.init` (bt.js).
    "/static/js/echarts.min.js": os.path.join(NODE, "echarts", "dist", "echarts.min.js"),
}
# Unverified wording of the panel's INIT_CSRF_ERR message; the shape is ReturnJson(False, …).
CSRF_ERROR = {"status": False, "msg": "CSRF校验失败，请重新登录面板！"}
ERROR_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>500 Internal Server Error
</title></head><body><h1>糟糕，出错了！</h1><p>500 Internal Server Error</p>
<pre>%s</pre></body></html>"""


def default_plugin_dir(root=None):
    root = root or os.environ.get("GUNICORN_SWITCH_ROOT") or ""
    installed = os.path.join(root, "www/server/panel/plugin", NAME) if root else ""
    if installed and os.path.isdir(installed):
        return installed
    return os.path.join(REPO, "plugin")


class LoadError(Exception):
    """The main file could not be loaded; the panel answers with its 500 page."""


class Loader(object):
    """The panel's plugin loader as observed on BaoTa 11.7 / aaPanel 8 (§11)."""

    def __init__(self, plugin_dir):
        self.plugin_dir = os.path.abspath(plugin_dir)
        self.main_path = os.path.join(self.plugin_dir, NAME + "_main.py")
        self.module = None
        self.mtime = None
        self.executions = 0  # how often the main file ran: the tests watch it
        self.lock = threading.Lock()

    def main_module(self):
        with self.lock:
            try:
                mtime = os.stat(self.main_path).st_mtime
                with open(self.main_path, "rb") as fh:
                    source = fh.read()
            except OSError as e:
                raise LoadError("插件主文件不存在: %s" % e)
            if self.module is not None and mtime == self.mtime:
                return self.module
            if b"import" not in source:
                # the real loader takes such a file for an encrypted one and fetches it again
                raise LoadError("插件文件已加密或损坏: %s" % self.main_path)
            if self.plugin_dir in sys.path:
                sys.path.remove(self.plugin_dir)
            sys.path.insert(0, self.plugin_dir)
            spec = importlib.util.spec_from_file_location(self.main_path, self.main_path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[self.main_path] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                sys.modules.pop(self.main_path, None)
                raise
            self.module, self.mtime = module, mtime
            self.executions += 1
            return module

    def plugin_class(self):
        return getattr(self.main_module(), NAME + "_main")


def safe_join(base, rel):
    """``base/rel`` if it stays inside ``base``, else None."""
    base = os.path.realpath(base)
    path = os.path.realpath(os.path.join(base, rel.lstrip("/")))
    return path if path == base or path.startswith(base + os.sep) else None


class Handler(BaseHTTPRequestHandler):
    server_version = "devpanel/1.0"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet unless asked
        if self.server.verbose:
            sys.stderr.write("devpanel: " + (fmt % args) + "\n")

    # -- responses ---------------------------------------------------------------------
    def send(self, code, body, ctype):
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, obj, code=200):
        self.send(code, json.dumps(obj, ensure_ascii=False), "application/json; charset=utf-8")

    def send_file(self, path):
        if not path or not os.path.isfile(path):
            return self.send(404, "404 Not Found", "text/plain; charset=utf-8")
        ctype = mimetypes.guess_type(path)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype.endswith("javascript"):
            ctype += "; charset=utf-8"
        with open(path, "rb") as f:
            self.send(200, f.read(), ctype)

    # -- routing -----------------------------------------------------------------------
    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        url = urlsplit(self.path)
        path = url.path
        if path in ("/", "/soft"):
            return self.shell()
        if path == "/bt11":
            return self.page("bt11.html")
        if path == "/software":
            return self.page("software.html")
        if path == "/plugin":
            return self.plugin(url)
        if path in (f"/static/img/soft_ico/ico-{NAME}.png", "/favicon.ico"):
            return self.send_file(self.server.icon())
        for prefix, target in LIBS.items():
            if path == prefix or (prefix.endswith("/") and path.startswith(prefix)):
                rel = path[len(prefix):]
                return self.send_file(safe_join(target, rel) if rel else target)
        if path.startswith("/static/"):
            return self.send_file(safe_join(STATIC, path[len("/static/"):]))
        plugin_static = f"/{NAME}/static/"
        if path.startswith(plugin_static):
            base = os.path.join(self.server.plugin_dir, "static")
            return self.send_file(safe_join(base, path[len(plugin_static):]))
        self.send(404, "404 Not Found", "text/plain; charset=utf-8")

    def do_POST(self):
        url = urlsplit(self.path)
        if url.path == "/plugin":
            return self.plugin(url)
        self.send(404, "404 Not Found", "text/plain; charset=utf-8")

    def shell(self):
        with open(os.path.join(HERE, "shell.html"), encoding="utf-8") as f:
            page = f.read()
        query = dict(parse_qsl(urlsplit(self.path).query))
        lang = "en" if query.get("lang") == "en" else "zh"
        dark = query.get("theme") == "dark"
        words = {
            "zh": {"LANG": "zh-CN", "TITLE": "宝塔面板 (dev)", "BRAND": "宝塔面板"},
            "en": {"LANG": "en", "TITLE": "aaPanel (dev)", "BRAND": "aaPanel"},
        }[lang]
        words.update(TOKEN=self.server.token, NAME=NAME, BODY_CLASS="dark" if dark else "",
                     QS=("?theme=dark&lang=" if dark else "?lang="))
        for key, value in words.items():
            page = page.replace(f"{{{{{key}}}}}", value)
        self.send(200, page, "text/html; charset=utf-8")

    def page(self, filename):
        """BaoTa 11's outer page or its /software iframe document (tokens filled in)."""
        with open(os.path.join(HERE, filename), encoding="utf-8") as f:
            text = f.read()
        query = urlsplit(self.path).query
        lang = dict(parse_qsl(query)).get("lang")
        words = {"TOKEN": self.server.token, "NAME": NAME,
                 "LANG_QS": "&lang=" + lang if lang in ("zh", "en") else ""}
        for key, value in words.items():
            text = text.replace("{{%s}}" % key, value)
        self.send(200, text, "text/html; charset=utf-8")

    def read_form(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        ctype = self.headers.get("Content-Type", "")
        if body and "application/x-www-form-urlencoded" in ctype:
            return parse_qsl(body, keep_blank_values=True)
        return []

    def plugin(self, url):
        args = parse_qsl(url.query, keep_blank_values=True)
        query = dict(args)
        form = self.read_form()
        action = query.get("action", "")
        name = query.get("name") or dict(form).get("name", "") or query.get("sName", "")
        if self.headers.get("x-http-token") != self.server.token:
            return self.send_json(CSRF_ERROR)
        if name != NAME:
            return self.send_json({"status": False, "msg": "指定插件不存在!"})
        if action == "getConfigHtml":
            index = os.path.join(self.server.plugin_dir, "index.html")
            if not os.path.isfile(index):
                return self.send_json({"status": False, "msg": "插件模板不存在!"})
            with open(index, encoding="utf-8") as f:
                return self.send(200, f.read(), "text/html; charset=utf-8")
        if action == "uninstall_plugin":
            return self.uninstall(query.get("sName") or dict(form).get("sName") or name)
        if action != "a":
            return self.send_json({"status": False, "msg": "错误的参数!"})
        s = query.get("s") or dict(form).get("s")
        if not s:
            return self.send_json({"status": True, "msg": "权限正常！"})
        get = build_get(args, form, NAME, s, aapanel=self.server.aapanel)
        return self.call(s, get)

    def error_page(self, what):
        tb = traceback.format_exc()
        sys.stderr.write(f"devpanel: {what}\n{tb}")
        return self.send(500, ERROR_PAGE % html.escape(tb), "text/html; charset=utf-8")

    def call(self, s, get):
        try:
            instance = self.server.plugin_class()()
        except Exception:  # noqa: BLE001 - a failed import: the panel's 500 page
            return self.error_page("loading the plugin failed")
        method = getattr(instance, s, None)
        if not callable(method):
            return self.send_json({"status": False, "msg": f"在[{NAME}]插件中找不到[{s}]方法"})
        try:
            inspect.signature(method).bind(get)
        except TypeError as e:
            return self.send_json({"status": False, "msg": f"加载失败: {e}"})
        except ValueError:  # no signature to read (a builtin): let the call say
            pass
        try:
            result = method(get)
        except Exception:  # noqa: BLE001 - the panel's get_error_object: an HTML 500 page
            return self.error_page(f"{s} raised")
        if isinstance(result, dict) and result.get("status") is False and \
                str(result.get("msg", "")).startswith("Traceback"):
            return self.send(500, ERROR_PAGE % html.escape(result["msg"]), "text/html; charset=utf-8")
        try:
            body = json.dumps(result, ensure_ascii=False)
        except (TypeError, ValueError) as e:  # public.GetJson's answer
            return self.send_json({"status": False, "msg": f"错误的响应: {e}"})
        self.send(200, body, "application/json; charset=utf-8")

    def uninstall(self, name):
        """As panelPlugin's uninstall: uninstall_check first, then `bash install.sh uninstall`
        with the panel folder as cwd, then the plugin folder goes."""
        if name != NAME:
            return self.send_json({"status": False, "msg": "指定插件不存在!"})
        try:
            instance = self.server.plugin_class()()
        except Exception:  # noqa: BLE001
            return self.error_page("loading the plugin failed")
        check = getattr(instance, "uninstall_check", None)
        if callable(check):
            verdict = check(build_get([], [], NAME, None, action="uninstall_plugin",
                                      aapanel=self.server.aapanel))
            if isinstance(verdict, dict) and verdict.get("status"):
                return self.send_json(verdict)
        root = os.environ.get("GUNICORN_SWITCH_ROOT") or "/"
        panel = os.path.join(root, "www/server/panel")
        script = os.path.join(self.server.plugin_dir, "install.sh")
        if not os.path.isfile(script):
            return self.send_json({"status": False, "msg": "install.sh 不存在"})
        out = subprocess.run(["/bin/bash", script, "uninstall"], cwd=panel, capture_output=True,
                             text=True, timeout=120)
        sys.stderr.write(out.stdout + out.stderr)
        if root != "/":  # never remove a real server's plugin from a dev tool
            plugin_dir = self.server.plugin_dir
            if os.path.islink(plugin_dir):
                os.unlink(plugin_dir)
            elif os.path.isdir(plugin_dir):
                shutil.rmtree(plugin_dir)
        return self.send_json({"status": True, "msg": "已成功卸载"})


class DevPanel(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, plugin_dir, port=0, verbose=False, token=None, aapanel=False):
        super().__init__(("127.0.0.1", port), Handler)
        self.plugin_dir = os.path.abspath(plugin_dir)
        self.loader = Loader(self.plugin_dir)
        self.token = token or secrets.token_hex(16)
        self.verbose = verbose
        self.aapanel = aapanel  # `get` as aaPanel builds it: its values behind __dict__

    def plugin_class(self):
        return self.loader.plugin_class()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/"

    def icon(self):
        """Where the panel copies it on install, else the plugin's icon.png, else the repo's."""
        root = os.environ.get("GUNICORN_SWITCH_ROOT") or ""
        candidates = [
            os.path.join(self.plugin_dir, "icon.png"),
            os.path.join(REPO, "icon.png"),
        ]
        if root:
            installed = f"www/server/panel/BTPanel/static/img/soft_ico/ico-{NAME}.png"
            candidates.insert(0, os.path.join(root, installed))
        return next((c for c in candidates if os.path.isfile(c)), None)


def start(plugin_dir=None, root=None, port=0, verbose=False, aapanel=False):
    """Run the dev panel in a thread; return ``(server, url, token)``."""
    if root:
        os.environ["GUNICORN_SWITCH_ROOT"] = root
    server = DevPanel(plugin_dir or default_plugin_dir(root), port, verbose, aapanel=aapanel)
    thread = threading.Thread(target=server.serve_forever, name="devpanel", daemon=True)
    thread.start()
    server.thread = thread
    return server, server.url, server.token


def stop(server):
    server.shutdown()
    server.server_close()
    server.thread.join(10)


def spawn(python, plugin_dir, root=None, env=None, aapanel=False):
    """Run the dev panel as a process of ``python`` (the panel's interpreter), as a panel
    runs the plugin: ``(process, url, token)``; stop it with ``kill(process)``."""
    token = secrets.token_hex(16)
    argv = [python, os.path.abspath(__file__), "--plugin-dir", str(plugin_dir), "--port", "0"]
    argv += (["--root", str(root)] if root else []) + (["--aapanel"] if aapanel else [])
    env = dict(env if env is not None else os.environ, DEVPANEL_TOKEN=token)
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd="/")
    line = proc.stdout.readline()
    if not line.startswith("devpanel: http://127.0.0.1:"):
        kill(proc)
        raise RuntimeError("devpanel did not start: " + line + proc.stderr.read())
    return proc, line.split()[1], token


def post(url, token=None, data=None, timeout=60):
    """POST a form to a dev panel as the page does: (status, content type, body text)."""
    req = urllib.request.Request(url, data=urllib.parse.urlencode(data or {}).encode(),
                                 method="POST")
    req.add_header("Content-Type", "application/x-www-form-urlencoded")
    if token:
        req.add_header("x-http-token", token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:  # noqa: S310 - our own URL
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode()


def kill(proc):
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--plugin-dir", help="default: $GUNICORN_SWITCH_ROOT's installed plugin, "
                   "else the repository's plugin/")
    p.add_argument("--root", help="GUNICORN_SWITCH_ROOT (default: from the environment)")
    p.add_argument("--port", type=int, default=int(os.environ.get("DEVPANEL_PORT") or 0))
    p.add_argument("-v", "--verbose", action="store_true", help="log every request")
    p.add_argument("--aapanel", action="store_true", help="build `get` as aaPanel 8 does")
    a = p.parse_args(argv)
    if a.root:
        os.environ["GUNICORN_SWITCH_ROOT"] = a.root
    # A test that starts this as a process passes the CSRF token it will send.
    server = DevPanel(a.plugin_dir or default_plugin_dir(a.root), a.port, a.verbose,
                      token=os.environ.get("DEVPANEL_TOKEN"), aapanel=a.aapanel)

    def on_signal(signum, frame):
        # shutdown() waits for serve_forever, which runs in this thread: call it from another.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print("devpanel: {}  (plugin {}, root {})".format(
        server.url, server.plugin_dir, os.environ.get("GUNICORN_SWITCH_ROOT") or "/"), flush=True)
    try:
        # a stop signal is noticed within 0.1 s (the default 0.5 s was most of a loader test)
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
    print("devpanel: stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
