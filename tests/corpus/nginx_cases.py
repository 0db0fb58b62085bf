"""The nginx corpus (tests/corpus/nginx): its cases, each laid out under a temporary prefix with
a Baota-like main nginx.conf, and which lines of a vhost a switch may rewrite. Used by the
corpus test (tests/e2e/test_nginx_corpus.py) and the command line's (tests/e2e/test_cli.py).
"""
import json
import os
import re
import shutil
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "plugin"))

from gunicorn_switch_core import nginx_tokens  # noqa: E402

CORPUS = os.path.join(REPO, "tests", "corpus", "nginx")
NGINX = "/usr/sbin/nginx"
LUA_MODULES = ["/usr/share/nginx/modules/ndk_http_module.so",
               "/usr/share/nginx/modules/ngx_http_lua_module.so"]
CASES = sorted(d for d in os.listdir(CORPUS) if os.path.isdir(os.path.join(CORPUS, d)))
VHOSTS = "www/server/panel/vhost/nginx"
# lines a rewrite may remove: the directives it edits
EDITED = re.compile(r"^(uwsgi_|proxy_pass |server )")


def main_conf(root, lua, has_http_conf):
    logs = os.path.join(root, "www/server/nginx/logs")
    temp = os.path.join(root, "tmp")
    lines = ["pid %s/nginx.pid;" % logs, "error_log %s/error.log;" % logs]
    if lua:
        lines += ["load_module %s;" % m for m in LUA_MODULES]
    lines += ["events {", "    worker_connections 64;", "}", "http {",
              "    include mime.types;", "    default_type application/octet-stream;"]
    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        lines.append("    %s_temp_path %s/%s;" % (kind, temp, kind))
    if has_http_conf:
        lines.append("    include http.conf;")
    lines += ["    include %s/%s/*.conf;" % (root, VHOSTS), "}", ""]
    return "\n".join(lines)


def lay_out(case, root, certificate):
    """Copy the case's tree under ``root`` with /www/ paths moved there; returns main conf."""
    spec = json.load(open(os.path.join(CORPUS, case, "case.json")))
    tree = os.path.join(CORPUS, case, "tree")
    for dirpath, _, names in os.walk(tree):
        for name in names:
            src = os.path.join(dirpath, name)
            dst = os.path.join(root, os.path.relpath(src, tree))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with open(src, "rb") as f:
                data = f.read().replace(b"/www/", root.encode() + b"/www/")
            with open(dst, "wb") as f:
                f.write(data)
            for m in re.finditer(rb"_cache_path\s+(\S+)", data):
                os.makedirs(m.group(1).decode(), exist_ok=True)
            for m in re.finditer(rb"ssl_certificate(_key)?\s+(\S+);", data):
                target = m.group(2).decode()
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.copy(certificate[1] if m.group(1) else certificate[0], target)
    conf_dir = os.path.join(root, "www/server/nginx/conf")
    for d in ("www/server/nginx/logs", "www/wwwlogs", "tmp", conf_dir):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    for name in ("mime.types", "uwsgi_params", "fastcgi.conf", "fastcgi_params"):
        shutil.copy(os.path.join("/etc/nginx", name), conf_dir)
    with open(os.path.join(conf_dir, "enable-php-00.conf"), "w") as f:
        f.write("location ~ [^/]\\.php(/|$)\n{\n    try_files $uri =404;\n"
                "    fastcgi_pass  unix:/tmp/php-cgi-00.sock;\n    fastcgi_index index.php;\n"
                "    include fastcgi.conf;\n}\n")
    main = os.path.join(conf_dir, "nginx.conf")
    with open(main, "w") as f:
        f.write(main_conf(root, spec.get("lua"), os.path.exists(os.path.join(conf_dir,
                                                                             "http.conf"))))
    return spec, main


def vhost_of(root):
    d = os.path.join(root, VHOSTS)
    for name in sorted(os.listdir(d)):
        path = os.path.join(d, name)
        if os.path.isfile(path) and b"server_name" in open(path, "rb").read():
            return path
    raise AssertionError("no vhost")


def edited_lines(data):
    """Line numbers covered by the directives a switch may rewrite."""
    text = data.decode("utf-8", "surrogateescape")
    lines = set()
    for d in nginx_tokens.parse(data).walk():
        if EDITED.search(d.name + " ") or (d.name == "include" and "uwsgi_params" in d.args[0]):
            lines.update(range(d.line, text.count("\n", 0, d.end) + 2))
    return lines
