"""``export SITE --docker``: the site's translation adapted to a container.

The same reader and translator as a switch, with the container's facts as context (bind
0.0.0.0:8000, the project at /app, no runtime dir of the panel's); then what only makes
sense on the panel's host goes: the pidfile, the run user, log files, the control socket,
and, unless asked for, the stats hooks. Paths under the project move to the app dir.
"""
import os
import re
import sys

from . import cli_base, host, plan as planning, records, render, uwsgi_config, uwsgi_translate
from .cli_text import say

# bandit B104/B108 reviewed: inside the container, where publishing the port is the user's
# call and /tmp is the container's own
BIND = "0.0.0.0:8000"  # nosec B104
RUNTIME = "/tmp/gunicorn_switch"  # nosec B108
DROPPED = ("pidfile", "user", "group", "control_socket", "control_socket_mode", "forwarded_allow_ips")
LIMIT_HOOKS = ("reload_on_rss_mb", "reload_on_as_mb", "max_worker_lifetime", "limit_as_mb")


class ExportError(Exception):
    """The site's uWSGI config cannot be read; the message says why."""


def site_config(name, facts=None):
    """(uWSGI config, project path, venv, python version) of a site, switched or not."""
    rec = records.load(name)
    if rec is not None:
        u = rec.get("uwsgi") or {}
        try:
            # read with the rights of the user the site runs as, as discovery reads it
            cfg = uwsgi_config.load_argv(u.get("cmdline") or ["uwsgi"], env=u.get("environ"),
                                         cwd=u.get("cwd"), user=host.User(records.user_of(rec)),
                                         root_master=u.get("uid") == 0)
        except (uwsgi_config.UwsgiConfigError, OSError, ValueError) as e:
            raise ExportError(say("export_no_uwsgi", site=name, error=e))
        from . import discover
        return cfg, rec.get("project_path"), rec.get("venv"), discover.read_venv(rec.get("venv")).get("python")
    try:
        site, master, _tree = planning.site_facts(name, facts)
    except planning.PlanError as e:
        raise ExportError(str(e))
    cfg = (master or {}).get("uwsgi")
    if cfg is None:
        raise ExportError(say("export_no_uwsgi", site=name, error="; ".join(
            (master or {}).get("problems") or []) or site["server"]))
    return cfg, site["project_path"], site["venv"], site["python"]


def _mover(project, venv, app_dir):
    """A function that moves a host path into the container, or returns None."""
    def move(path):
        for base, new in ((project, app_dir), (venv, None)):
            if base and (path == base or path.startswith(base.rstrip("/") + "/")):
                return None if new is None else new + path[len(base.rstrip("/")):]
        return path
    return move


def _scrub(text, project, venv, app_dir):
    """Comment text with host paths replaced: the project by the app dir, the venv by <venv>."""
    if not isinstance(text, str):
        return text
    for base, new in ((project, app_dir), (venv, "<venv>")):
        if base:
            text = text.replace(base.rstrip("/"), new)
    return text


def docker(name, app_dir="/app", stats=False, facts=None):
    """{conf, cmd, dockerfile, warnings} for running ``name`` in a container."""
    cfg, project, venv, python = site_config(name, facts)
    have = planning.installed_gunicorn(venv) if venv else None
    version, _why = uwsgi_translate.choose_gunicorn_version(python, None)
    context = {
        "site": name, "project_path": project, "venv": None, "python_version": python,
        "gunicorn_version": have or version, "log_dir": RUNTIME, "runtime_dir": RUNTIME,
        "stats_dir": RUNTIME + "/stats", "bind": BIND, "user": None, "group": None,
        "control_socket": False,
    }
    tr = uwsgi_translate.translate(cfg, context)
    warnings = []
    for w in tr.warnings:
        if w.get("option") == "bind":
            continue  # listening on every interface is what a container wants
        warnings.append({"message": _scrub(w["message"], project, venv, app_dir),
                         "origin": _scrub(w.get("origin"), project, venv, app_dir)})
    move = _mover(project, venv, app_dir)
    for key in DROPPED:
        tr.settings.pop(key, None)
    tr.set("errorlog", "-", "export --docker", "stderr: the container's log")
    if tr.settings.get("accesslog") and tr.settings["accesslog"].value is not None:
        tr.set("accesslog", "-", "export --docker", "stdout: the container's log")
    for s in list(tr.settings.values()):
        s.origin = _scrub(s.origin, project, venv, app_dir)
        s.comment = _scrub(s.comment, project, venv, app_dir)
        if s.name == "pythonpath":
            kept = [p for p in (move(x) for x in s.value.split(",")) if p]
            if kept:
                s.value = ",".join(kept)
            else:
                tr.settings.pop("pythonpath")
        elif s.name == "chdir":
            s.value = move(s.value) or app_dir
        elif isinstance(s.value, str) and s.value.startswith("/"):
            s.value = move(s.value) or s.value
    for s in tr.settings.values():
        for v in (s.value if isinstance(s.value, list) else [s.value]):
            if isinstance(v, str) and re.search(r"(^|=)/www/", v):
                warnings.append({"message": say("export_path_left", name=s.name, value=v),
                                 "origin": "export"})
    if not stats:
        lost = [k for k in LIMIT_HOOKS if tr.hooks.get(k)]
        if lost:
            warnings.append({"message": say("export_hooks_off", names=", ".join(lost)),
                             "origin": "export"})
    tr.warnings = [dict(w, option=None) for w in warnings]
    if "wsgi_app" not in tr.settings:
        warnings.append({"message": say("export_no_app"), "origin": "export"})
    conf = render.render(tr, stats=stats)
    conf_path = app_dir.rstrip("/") + "/gunicorn_conf.py"
    cmd = ["gunicorn", "--config", conf_path]
    dockerfile = "COPY gunicorn_conf.py %s\nEXPOSE 8000\nCMD [%s]\n" % (
        conf_path, ", ".join('"%s"' % c for c in cmd))
    return {"site": name, "conf": conf, "cmd": cmd, "dockerfile": dockerfile,
            "warnings": warnings, "gunicorn_version": tr.gunicorn_version}


def write(result, directory):
    """Write gunicorn_conf.py and Dockerfile.gunicorn into ``directory``; their paths."""
    os.makedirs(directory, exist_ok=True)
    out = []
    for name, text in (("gunicorn_conf.py", result["conf"]),
                       ("Dockerfile.gunicorn", result["dockerfile"])):
        path = os.path.join(directory, name)
        tmp = path + ".tmp"
        with open(tmp, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
        out.append(path)
    return out


def cmd_export(args):
    if not args.docker:
        raise cli_base.Exit(cli_base.BAD, say("export_only_docker"))
    site = cli_base.site_name(args.site)
    if not args.app_dir.startswith("/") or not re.match(r"^/[A-Za-z0-9._/-]*$", args.app_dir):
        raise cli_base.Exit(cli_base.BAD, "--app-dir")
    if records.load(site) is None:
        cli_base.server_of(site)  # refuses a site the panel does not know (exit 2)
    try:
        res = docker(site, app_dir=args.app_dir, stats=args.stats)
    except ExportError as e:
        raise cli_base.Exit(cli_base.REFUSED, str(e))
    files = write(res, args.out) if args.out else []
    for w in res["warnings"]:
        cli_base.err(say("warning", msg=("%s: " % w["origin"] if w.get("origin") else "") + w["message"]))
    if args.json:
        cli_base.print_json(dict(res, files=files))
    elif files:
        print(say("export_written", files=", ".join(files)))
    else:
        sys.stdout.write(res["conf"])
        sys.stdout.write("\n# Dockerfile:\n" + "".join("#   " + line + "\n"
                                                        for line in res["dockerfile"].splitlines()))
    return cli_base.OK


def export_arguments(p):
    p.add_argument("--docker", action="store_true", help=say("docker"))
    p.add_argument("--out", metavar="DIR", help=say("out"))
    p.add_argument("--stats", action="store_true", help=say("stats"))
    p.add_argument("--app-dir", default="/app", help=say("app_dir"))
