"""Commands that work on files alone, without the panel's state: ``nginx FILE --to ADDRESS``
(the switch's nginx translation of one file) and ``translate`` (a uWSGI config to a
gunicorn_conf.py)."""
import argparse
import difflib
import os
import re
import sys

from . import cli_base, render, uwsgi_config, uwsgi_translate
from .cli_text import say


ADDRESS = re.compile(r"^(unix:/[A-Za-z0-9._/@+-]+|[A-Za-z0-9.-]+:[0-9]{1,5}|\[[0-9a-fA-F:]+\]:[0-9]{1,5})$")


def _env(pairs):
    env = {}
    for pair in pairs or ():
        k, _, v = pair.partition("=")
        env[k] = v
    return env


# -- parser --------------------------------------------------------------------------------------

def nginx_rewrite(path, to, conf=None, hint=None, static_maps=(), websocket=None):
    """The switch's nginx translation for one file: {text, changes, warnings, changed}.
    Includes, upstreams and inherited settings come from ``conf`` (nginx.conf) as the switch
    reads them; only ``path``'s new text is returned."""
    from . import host, nginx_tokens, nginx_translate, nginx_tree, paths
    path = os.path.abspath(path)
    try:
        original = host.read_bytes(path)
    except (OSError, host.HostError) as e:
        raise cli_base.Exit(cli_base.BAD, say("nginx_unreadable", path=path, error=e))
    if conf is None and os.path.isfile(paths.real(paths.NGINX_CONF)):
        conf = paths.real(paths.NGINX_CONF)
    try:
        nginx_tokens.parse(original, path)
        if conf:
            names = nginx_tree.find_site_files(os.path.abspath(conf), path, host.read_bytes)
            files = {p: (original if p == path else host.read_bytes(p)) for p in names}
        else:
            files = {path: original}
        res = nginx_translate.translate_site(
            files, to, old_upstream_hint=hint, static_maps=list(static_maps), websocket=websocket,
            conf_dir=os.path.dirname(os.path.abspath(conf)) if conf else os.path.dirname(path),
            vhost=path)
    except nginx_tokens.NginxConfigError as e:
        raise cli_base.Exit(cli_base.BAD, say("nginx_unparseable", path=path, error=e))
    except (OSError, host.HostError) as e:
        raise cli_base.Exit(cli_base.BAD, say("nginx_unreadable", path=path, error=e))
    new = res.new_files.get(path, original)
    warnings = list(res.warnings)
    for other in sorted(res.new_files):
        if other != path:
            warnings.append(say("nginx_other_file", path=other, file=path))
    if new == original:
        warnings.append(say("nginx_nothing", path=path))
    old_lines = nginx_tokens.decode(original).splitlines(True)
    new_lines_ = nginx_tokens.decode(new).splitlines(True)
    changes = []
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines_, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            changes.append({"line": i1 + 1, "removed": old_lines[i1:i2], "added": new_lines_[j1:j2]})
    return {"file": path, "text": new, "changes": changes, "warnings": warnings,
            "changed": new != original}


def cmd_nginx(args):
    if not ADDRESS.match(args.to):
        raise cli_base.Exit(cli_base.BAD, say("bad_address", value=args.to[:80]))
    maps = []
    for pair in args.static_map or ():
        url, sep, directory = pair.partition("=")
        if not sep or not url.startswith("/") or not directory.startswith("/"):
            raise cli_base.Exit(cli_base.BAD, say("bad_static_map", value=pair[:80]))
        maps.append((url, directory))
    ws = {"on": True, "off": False}.get(args.websocket)
    res = nginx_rewrite(args.file, args.to, args.conf, args.from_, maps, ws)
    for w in res["warnings"]:
        cli_base.err(say("warning", msg=w))
    if args.json:
        from .nginx_tokens import decode
        cli_base.print_json({"text": decode(res["text"]),
                     "changes": [{"line": c["line"], "removed": [decode(x) for x in c["removed"]],
                                  "added": [decode(x) for x in c["added"]]}
                                 for c in res["changes"]],
                     "warnings": res["warnings"]})
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(res["text"])
        sys.stdout.buffer.flush()
    return cli_base.OK


def cmd_translate(args):
    try:
        if args.argv:
            config = uwsgi_config.load_argv(["uwsgi"] + args.argv + [args.config],
                                            env=_env(args.env), cwd=args.cwd)
        else:
            config = uwsgi_config.load(args.config, env=_env(args.env), cwd=args.cwd)
    except (uwsgi_config.UwsgiConfigError, OSError) as e:
        raise cli_base.Exit(cli_base.BAD, str(e))
    context = {
        "site": args.site, "project_path": args.project, "venv": args.venv,
        "python_version": args.python_version, "gunicorn_version": args.gunicorn_version,
        "log_dir": args.log_dir, "runtime_dir": args.runtime_dir, "bind": args.bind,
        "user": args.user, "workers": args.workers, "threads": args.threads,
        "worker_class": args.worker_class, "timeout": args.timeout,
        "nginx_read_timeout": args.nginx_read_timeout,
    }
    tr = uwsgi_translate.translate(config, context)
    for w in config.warnings:
        cli_base.err("warning: %s" % w)
    for w in tr.warnings:
        where = (w["origin"] + ": ") if w["origin"] else ""
        cli_base.err("warning: %s%s" % (where, w["message"]))
    if args.json:
        out = tr.as_dict()
        out["uwsgi_warnings"] = [w.as_dict() for w in config.warnings]
        cli_base.print_json(out)
    else:
        sys.stdout.write(render.render(tr))
    return cli_base.OK


def nginx_arguments(p):
    p.add_argument("file", metavar="FILE", help=say("file"))
    p.add_argument("--to", required=True, metavar="ADDRESS", help=say("to"))
    p.add_argument("--conf", metavar="NGINX_CONF", help=say("conf"))
    p.add_argument("--from", dest="from_", metavar="ADDRESS|UPSTREAM", help=say("from"))
    p.add_argument("--static-map", action="append", metavar="URL=DIR", help=say("static_map"))
    p.add_argument("--websocket", choices=("on", "off"), help=say("websocket"))


def translate_arguments(t):
    t.add_argument("config", help="uWSGI config file (file.ini or file.ini:section)")
    t.add_argument("--json", action="store_true", help="print the settings as JSON")
    t.add_argument("--gunicorn-version")
    t.add_argument("--python-version", default="3.11")
    t.add_argument("--bind", help="127.0.0.1:PORT or unix:/path (default: unix socket in "
                                  "the runtime dir)")
    t.add_argument("--site")
    t.add_argument("--project", help="project path (default: uWSGI chdir)")
    t.add_argument("--venv")
    t.add_argument("--log-dir")
    t.add_argument("--runtime-dir")
    t.add_argument("--user")
    t.add_argument("--workers", type=int)
    t.add_argument("--threads", type=int)
    t.add_argument("--worker-class")
    t.add_argument("--timeout", type=int)
    t.add_argument("--nginx-read-timeout", type=int)
    t.add_argument("--cwd", help="uWSGI's working directory (default: the config's directory)")
    t.add_argument("--env", action="append", metavar="NAME=VALUE",
                   help="environment of the uWSGI process (repeatable)")
    t.add_argument("--argv", nargs=argparse.REMAINDER,
                   help="the running master's command-line flags (after the config)")
