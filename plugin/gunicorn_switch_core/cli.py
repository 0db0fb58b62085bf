"""Command line of the core: ``python3 -m gunicorn_switch_core <command> ...`` (or the
``gunicorn-switch`` wrapper that install.sh puts on the PATH).

A peer of the page: every command goes through api.invoke(), so it gets the page's
validation, task runner, journal and per-site lock (a switch started here shows on the page
and the other way round). Exit codes separate bad input (2) from a refusal (1) and from a
task that failed and was undone (3), which is what scripts and Ansible branch on.
"""
import argparse
import difflib
import json
import os
import re
import sys
import time

from . import api, i18n, records, render, uwsgi_config, uwsgi_translate
from .cli_text import exit_codes, say

OK, REFUSED, BAD, FAILED, INTERNAL, INTERRUPTED = 0, 1, 2, 3, 4, 130
# The switch options of the panel API (api.plan and api.switch take the same).
OPTION_KEYS = ("workers", "threads", "worker_class", "bind", "manager", "user", "timeout",
               "access_log")
OPS = ("reload", "add-worker", "remove-worker", "restart", "stop", "start")
POLL = 0.3
ADDRESS = re.compile(r"^(unix:/[A-Za-z0-9._/@+-]+|[A-Za-z0-9.-]+:[0-9]{1,5}|\[[0-9a-fA-F:]+\]:[0-9]{1,5})$")


class Exit(Exception):
    """Stop with ``code``; ``message`` goes to stderr (and into the JSON when asked)."""

    def __init__(self, code, message=""):
        Exception.__init__(self, message)
        self.code = code
        self.message = message


# -- plumbing -----------------------------------------------------------------------------

def _api(method, **args):
    """api.invoke with the CLI's exit codes: a malformed or unknown site is bad input, any
    other refusal of the core (busy, already switched, cannot be switched) is a refusal."""
    try:
        return api.invoke(method, {k: str(v) for k, v in args.items() if v is not None})
    except api.BadSite as e:
        raise Exit(BAD, str(e))
    except api.BadInput as e:
        raise Exit(REFUSED, str(e))


def _print_json(data):
    try:
        text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
        sys.stdout.write(text + "\n")
    except UnicodeEncodeError:  # a terminal that is not UTF-8, or bytes nginx kept as they were
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


def _err(text):
    sys.stderr.write(text.rstrip("\n") + "\n")
    sys.stderr.flush()


def _options(pairs):
    """--set KEY=VALUE pairs as the API's options, validated as the page's are (exit 2)."""
    options = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in OPTION_KEYS:
            raise Exit(BAD, say("bad_set", keys=", ".join(OPTION_KEYS), value=pair[:80]))
        options[key] = value.strip()
    from . import plan as planning
    try:
        planning.parse_options(options)
    except planning.PlanError as e:
        raise Exit(BAD, str(e))
    return options


def _site_name(name):
    if not records.valid_site(name):
        raise Exit(BAD, i18n.t("bad_site", name=name[:80]))
    return name


def _title(step):
    return step.get("title_en") if i18n.lang() == "en" else step.get("title")


def _confirm(key, site, yes):
    if yes:
        return
    if not sys.stdin.isatty():
        raise Exit(REFUSED, say("not_confirmed"))
    try:
        answer = input(say(key, site=site))
    except (EOFError, KeyboardInterrupt):
        answer = ""
    if answer.strip().lower() not in ("y", "yes", "是"):
        raise Exit(REFUSED, say("not_confirmed"))


def _table(rows, headers):
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    for r in [headers] + rows:
        print("  ".join(str(x).ljust(w) for x, w in zip(r, widths)).rstrip())


# -- sites, plan ----------------------------------------------------------------------------

def _cmd_sites(args):
    sites = _api("get_sites")
    if args.json:
        _print_json(sites)
        return OK
    _table([[s["site"], s["server"], s.get("manager") or "-",
             "yes" if s.get("managed_by_plugin") else "-", s.get("upstream") or "-",
             s.get("project_path") or "-"] for s in sites],
           ["SITE", "SERVER", "MANAGER", "PLUGIN", "UPSTREAM", "PROJECT"])
    return OK


PLAN_KEYS = ("site", "settings", "gunicorn_conf", "gunicorn_conf_path", "nginx_diff", "steps",
             "warnings", "bind", "manager", "gunicorn_version")


def _show_plan(p):
    print("# %s -> %s" % (p["site"], p["gunicorn_conf_path"]))
    sys.stdout.write(p["gunicorn_conf"])
    print("")
    sys.stdout.write(p["nginx_diff"])
    print("")
    for i, st in enumerate(p["steps"], 1):
        print("%d. %s" % (i, _title(st)))
    for w in p["warnings"]:
        print(say("warning", msg=("%s: " % w["origin"] if w.get("origin") else "") + str(w["message"])))
    sys.stdout.flush()


def _cmd_plan(args):
    options = _options(args.set)
    p = _api("plan", site=_site_name(args.site), **options)
    if args.json:
        _print_json({k: p.get(k) for k in PLAN_KEYS})
    else:
        _show_plan(p)
    return OK


# -- switch, rollback -------------------------------------------------------------------------

def _effective(payload):
    """The settings a switch ran with, in the terms of --set."""
    s = payload.get("settings") or {}
    return {"workers": s.get("workers"), "threads": s.get("threads"),
            "worker_class": s.get("worker_class"), "timeout": s.get("timeout"),
            "bind": "unix" if str(payload.get("bind", "")).startswith("unix:") else "tcp",
            "manager": payload.get("manager"), "user": payload.get("user"),
            "access_log": "off" if s.get("accesslog") is None else "on"}


def _differences(rec, options):
    """The --set options the existing switch of a site does not match: [key=asked (was)]."""
    if not options:
        return []
    from . import plan as planning, tasks
    try:
        payload = tasks.load(rec.get("task_id"))["payload"]
    except (OSError, ValueError, KeyError, TypeError):
        payload = {"bind": rec.get("bind"), "manager": rec.get("manager"),
                   "settings": {"workers": rec.get("workers")}}
    asked = planning.parse_options(options)
    have = _effective(payload)
    out = []
    for key in options:
        if key in have and have[key] is not None and asked[key] is not None and have[key] != asked[key]:
            out.append("%s=%s (%s)" % (key, asked[key], have[key]))
    return out


def _serving_gunicorn(rec):
    """(serving, detail) of a switched site: its Gunicorn master alive and nginx answering."""
    from . import control, health
    master = control._master(rec)  # the controls' own test of "this record's Gunicorn"
    if master is None:
        return False, i18n.t("status_not_running")
    code = health.status(rec["nginx_addr"], rec["domain"])
    if code is None or code >= 500:
        return False, "GET / -> %s" % code
    return True, "GET / -> %s" % code


def _server_of(site):
    for s in _api("get_sites"):
        if s["site"] == site:
            return s
    raise Exit(BAD, i18n.t("unknown_site", name=site))


def _result(site, action, changed, task=None, serving=None, server=None, message=""):
    return {"site": site, "action": action, "changed": changed,
            "task_id": task["id"] if task else None, "state": task["state"] if task else None,
            "error": task["error"] if task else None,
            "steps": [{k: s[k] for k in ("name", "state", "started", "finished")}
                      for s in task["steps"]] if task else [],
            "server": server, "serving": serving, "message": message}


def _follow(task_id, show):
    """Poll the task until it ends; with ``show``, one line per step (a live progress line on
    a terminal). Ctrl-C stops watching, not the task."""
    seen = {}
    tty = show and sys.stdout.isatty()
    task = None
    try:
        while True:
            task = _api("get_task", task_id=task_id)
            n = len(task["steps"])
            for i, st in enumerate(task["steps"], 1):
                if show and seen.get(st["name"]) != st["state"] and st["state"] != "pending":
                    seen[st["name"]] = st["state"]
                    took = ""
                    if st.get("started") and st.get("finished") and st["state"] != "running":
                        took = " (%.1f s)" % (st["finished"] - st["started"])
                    if st["state"] != "running" or not tty:
                        sys.stdout.write("\r\x1b[K" if tty else "")
                        print("[%d/%d] %-8s %s%s" % (i, n, st["state"], _title(st), took))
                if tty and st["state"] == "running":
                    sys.stdout.write("\r\x1b[K[%d/%d] %s ... %.0f s" % (
                        i, n, _title(st), time.time() - (st.get("started") or time.time())))
                    sys.stdout.flush()
            if task["state"] not in ("pending", "running"):
                if tty:
                    sys.stdout.write("\r\x1b[K")
                sys.stdout.flush()
                return task
            time.sleep(POLL)
    except KeyboardInterrupt:
        raise Exit(INTERRUPTED, say("interrupted", id=task_id))


def _finish(args, result, code, message):
    if args.json:
        out = dict(result, message=message)
        if code:
            out["exit"] = code
        _print_json(out)
    if code:
        raise Exit(code, message if not args.json else "")
    if not args.json:
        print(message)
    return OK


def _run_task(args, kind, **api_args):
    """Start a switch or rollback through the API and follow it: the succeeded task, or
    exit 3 with the journal's error."""
    task_id = _api(kind, **api_args)["task_id"]
    if not args.json:
        print(say("task_started", id=task_id))
    task = _follow(task_id, not args.json)
    if task["state"] != "succeeded":
        _finish(args, _result(api_args["site"], kind, True, task, False), FAILED,
                say("task_failed", kind=kind, state=task["state"], error=task["error"]))
    return task


def _not_busy(site):
    """Refuse (exit 1) while a switch or rollback of the site runs, whoever started it: the
    record alone would say "nothing to do" in the middle of the other one."""
    try:
        api._refuse_if_busy(site)
    except api.BadInput as e:
        raise Exit(REFUSED, str(e))


def _cmd_switch(args):
    options = _options(args.set)
    site = _site_name(args.site)
    _not_busy(site)
    rec = records.load(site)
    if rec is not None:
        diff = _differences(rec, options)
        if diff:
            raise Exit(REFUSED, say("switched_other", site=site, diff=", ".join(diff)))
        _api("get_status", site=site)  # the site must still be one the panel knows
        serving, detail = _serving_gunicorn(rec)
        if not serving:
            raise Exit(REFUSED, say("switched_down", site=site, detail=detail))
        return _finish(args, _result(site, "switch", False, serving=True, server="gunicorn"), OK,
                       say("switched_same", site=site))
    if not args.yes:
        p = _api("plan", site=site, **options)
        if not args.json:
            _show_plan(p)
        _confirm("confirm_switch", site, args.yes)
        # the plan shown (and its blockers) was confirmed
        task = _run_task(args, "switch", site=site, plan_id=p["plan_id"], confirm_blockers="1")
    else:  # --yes: planning and applying in one call is what the caller asked for
        task = _run_task(args, "switch", site=site, plan_and_apply="1", confirm_blockers="1",
                         **options)
    rec = records.load(site)
    serving, detail = _serving_gunicorn(rec) if rec else (False, "no record")
    result = _result(site, "switch", True, task, serving, "gunicorn" if serving else None)
    if not serving:
        return _finish(args, result, FAILED, say("not_serving_after", site=site, detail=detail))
    return _finish(args, result, OK, say("switch_done", site=site))


def _cmd_rollback(args):
    site = _site_name(args.site)
    _not_busy(site)
    rec = records.load(site)
    if rec is None:
        info = _server_of(site)
        if info["server"] == "uwsgi":
            return _finish(args, _result(site, "rollback", False, serving=True, server="uwsgi"), OK,
                           say("on_uwsgi", site=site))
        raise Exit(REFUSED, i18n.t("not_switched", name=site))
    _confirm("confirm_rollback", site, args.yes)
    task = _run_task(args, "rollback", site=site)
    from . import health
    server = _server_of(site)["server"]
    code = health.status(rec["nginx_addr"], rec["domain"])
    serving = server == "uwsgi" and code is not None and code < 500
    result = _result(site, "rollback", True, task, serving, server)
    if not serving:
        return _finish(args, result, FAILED, say("not_serving_after", site=site,
                                                 detail="%s, GET / -> %s" % (server, code)))
    return _finish(args, result, OK, say("rollback_done", site=site))


# -- status, control, logs ----------------------------------------------------------------------

def _cmd_status(args):
    from . import cli_status
    site = _site_name(args.site)
    if args.watch:
        if args.interval <= 0 or args.interval > 3600:
            raise Exit(BAD, "--interval")
        cli_status.watch(lambda: _api("get_status", site=site), args.interval)
        return OK
    data = _api("get_status", site=site)
    if args.json:
        _print_json(data)
    else:
        print("\n".join(cli_status.render(data)))
    return OK


def _cmd_control(args):
    data = _api("control", site=_site_name(args.site), op=args.op.replace("-", "_"))
    if args.json:
        _print_json(data)
    else:
        for k, v in data.items():
            print("%s: %s" % (k, v))
    if data.get("done") is False:
        raise Exit(FAILED, say("control_pending", wait=20))
    return OK


def new_lines(previous, lines, overlap=50):
    """The lines of a fresh tail ``lines`` that follow the tail printed before (``previous``):
    after the latest place where ``lines`` starts with the end of ``previous``; all of them
    when the old tail is not found (the log was rotated or truncated). The page's get_logs
    gives text, not offsets, so a burst of lines identical to the old tail's end is taken
    for the old tail: Gunicorn's lines carry a timestamp, which makes that rare."""
    if not previous:
        return lines
    m = min(len(previous), overlap)
    for j in range(len(lines), 0, -1):
        k = min(j, m)
        if lines[j - k:j] == previous[-k:]:
            return lines[j:]
    return lines


def _cmd_logs(args):
    from . import logs
    site = _site_name(args.site)
    if not 1 <= args.lines <= logs.MAX_LINES:
        raise Exit(BAD, i18n.t("bad_lines", max=logs.MAX_LINES))
    text = _api("get_logs", site=site, kind=args.kind, lines=args.lines)
    if args.json and not args.follow:
        _print_json({"site": site, "kind": args.kind, "text": text})
        return OK
    sys.stdout.write(text)
    sys.stdout.flush()
    if not args.follow:
        return OK
    printed = text.splitlines()
    try:
        while True:
            time.sleep(1.0)
            tail = _api("get_logs", site=site, kind=args.kind, lines=logs.MAX_LINES).splitlines()
            fresh = new_lines(printed, tail)
            if fresh:
                sys.stdout.write("\n".join(fresh) + "\n")
                sys.stdout.flush()
            printed = tail
    except KeyboardInterrupt:
        return OK


# -- nginx, export, translate -----------------------------------------------------------------

def nginx_rewrite(path, to, conf=None, hint=None, static_maps=(), websocket=None):
    """The switch's nginx translation for one file: {text, changes, warnings, changed}.
    Includes, upstreams and inherited settings come from ``conf`` (nginx.conf) as the switch
    reads them; only ``path``'s new text is returned."""
    from . import host, nginx_tokens, nginx_translate, paths
    path = os.path.abspath(path)
    try:
        original = host.read_bytes(path)
    except (OSError, host.HostError) as e:
        raise Exit(BAD, say("nginx_unreadable", path=path, error=e))
    if conf is None and os.path.isfile(paths.host(paths.NGINX_CONF)):
        conf = paths.host(paths.NGINX_CONF)
    try:
        nginx_tokens.parse(original, path)
        if conf:
            names = nginx_translate.find_site_files(os.path.abspath(conf), path, host.read_bytes)
            files = {p: (original if p == path else host.read_bytes(p)) for p in names}
        else:
            files = {path: original}
        res = nginx_translate.translate_site(
            files, to, old_upstream_hint=hint, static_maps=list(static_maps), websocket=websocket,
            conf_dir=os.path.dirname(os.path.abspath(conf)) if conf else os.path.dirname(path),
            vhost=path)
    except nginx_tokens.NginxConfigError as e:
        raise Exit(BAD, say("nginx_unparseable", path=path, error=e))
    except (OSError, host.HostError) as e:
        raise Exit(BAD, say("nginx_unreadable", path=path, error=e))
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


def _cmd_nginx(args):
    if not ADDRESS.match(args.to):
        raise Exit(BAD, say("bad_address", value=args.to[:80]))
    maps = []
    for pair in args.static_map or ():
        url, sep, directory = pair.partition("=")
        if not sep or not url.startswith("/") or not directory.startswith("/"):
            raise Exit(BAD, say("bad_static_map", value=pair[:80]))
        maps.append((url, directory))
    ws = {"on": True, "off": False}.get(args.websocket)
    res = nginx_rewrite(args.file, args.to, args.conf, args.from_, maps, ws)
    for w in res["warnings"]:
        _err(say("warning", msg=w))
    if args.json:
        from .nginx_tokens import decode
        _print_json({"text": decode(res["text"]),
                     "changes": [{"line": c["line"], "removed": [decode(x) for x in c["removed"]],
                                  "added": [decode(x) for x in c["added"]]}
                                 for c in res["changes"]],
                     "warnings": res["warnings"]})
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(res["text"])
        sys.stdout.buffer.flush()
    return OK


def _cmd_export(args):
    from . import cli_export
    if not args.docker:
        raise Exit(BAD, say("export_only_docker"))
    site = _site_name(args.site)
    if not args.app_dir.startswith("/") or not re.match(r"^/[A-Za-z0-9._/-]*$", args.app_dir):
        raise Exit(BAD, "--app-dir")
    if records.load(site) is None:
        _server_of(site)  # refuses a site the panel does not know (exit 2)
    try:
        res = cli_export.docker(site, app_dir=args.app_dir, stats=args.stats)
    except cli_export.ExportError as e:
        raise Exit(REFUSED, str(e))
    files = cli_export.write(res, args.out) if args.out else []
    for w in res["warnings"]:
        _err(say("warning", msg=("%s: " % w["origin"] if w.get("origin") else "") + w["message"]))
    if args.json:
        _print_json(dict(res, files=files))
    elif files:
        print(say("export_written", files=", ".join(files)))
    else:
        sys.stdout.write(res["conf"])
        sys.stdout.write("\n# Dockerfile:\n" + "".join("#   " + line + "\n"
                                                        for line in res["dockerfile"].splitlines()))
    return OK


def _cmd_translate(args):
    try:
        if args.argv:
            config = uwsgi_config.load_argv(["uwsgi"] + args.argv + [args.config],
                                            env=_env(args.env), cwd=args.cwd)
        else:
            config = uwsgi_config.load(args.config, env=_env(args.env), cwd=args.cwd)
    except (uwsgi_config.UwsgiConfigError, OSError) as e:
        raise Exit(BAD, str(e))
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
        _err("warning: %s" % w)
    for w in tr.warnings:
        where = (w["origin"] + ": ") if w["origin"] else ""
        _err("warning: %s%s" % (where, w["message"]))
    if args.json:
        out = tr.as_dict()
        out["uwsgi_warnings"] = [w.as_dict() for w in config.warnings]
        _print_json(out)
    else:
        sys.stdout.write(render.render(tr))
    return OK


def _cmd_run_task(args):
    from . import rollback, switch, tasks
    state = tasks.run_task(args.task_id, {p.kind: p for p in (switch.SWITCH, rollback.ROLLBACK)})
    return 0 if state in ("succeeded", "rolled_back") else 1


def _env(pairs):
    env = {}
    for pair in pairs or ():
        k, _, v = pair.partition("=")
        env[k] = v
    return env


# -- parser --------------------------------------------------------------------------------------

def build_parser():
    epilog = exit_codes()
    parser = argparse.ArgumentParser(prog=os.environ.get("GUNICORN_SWITCH_PROG") or "python3 -m gunicorn_switch_core",
                                     description=say("prog"), epilog=epilog, add_help=False)
    parser.add_argument("-h", "--help", action="help", help=say("help"))
    parser.add_argument("--lang", choices=("zh", "en"), help=say("lang"))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def command(name, key, func):
        p = sub.add_parser(name, help=say(key), description=say(key), epilog=epilog, add_help=False)
        p.add_argument("-h", "--help", action="help", help=say("help"))
        p.add_argument("--lang", choices=("zh", "en"), help=say("lang"), default=argparse.SUPPRESS)
        p.set_defaults(func=func)
        return p

    def site(p):
        p.add_argument("site", metavar="SITE", help=say("site"))

    def as_json(p):
        p.add_argument("--json", action="store_true", help=say("json"))

    p = command("sites", "sites", _cmd_sites)
    as_json(p)
    for name, func in (("plan", _cmd_plan), ("switch", _cmd_switch)):
        p = command(name, name, func)
        site(p)
        p.add_argument("--set", action="append", metavar="KEY=VALUE", help=say("set"))
        if name == "switch":
            p.add_argument("--yes", "-y", action="store_true", help=say("yes"))
        as_json(p)
    p = command("rollback", "rollback", _cmd_rollback)
    site(p)
    p.add_argument("--yes", "-y", action="store_true", help=say("yes"))
    as_json(p)
    p = command("status", "status", _cmd_status)
    site(p)
    p.add_argument("--watch", action="store_true", help=say("watch"))
    p.add_argument("--interval", type=float, default=1.0, help=say("interval"))
    as_json(p)
    p = command("control", "control", _cmd_control)
    site(p)
    p.add_argument("op", choices=OPS, metavar="|".join(OPS), help=say("op"))
    as_json(p)
    p = command("logs", "logs", _cmd_logs)
    site(p)
    p.add_argument("--kind", choices=("error", "access", "journal"), default="error", help=say("kind"))
    p.add_argument("--lines", type=int, default=200, help=say("lines"))
    p.add_argument("--follow", "-f", action="store_true", help=say("follow"))
    as_json(p)
    p = command("nginx", "nginx", _cmd_nginx)
    p.add_argument("file", metavar="FILE", help=say("file"))
    p.add_argument("--to", required=True, metavar="ADDRESS", help=say("to"))
    p.add_argument("--conf", metavar="NGINX_CONF", help=say("conf"))
    p.add_argument("--from", dest="from_", metavar="ADDRESS|UPSTREAM", help=say("from"))
    p.add_argument("--static-map", action="append", metavar="URL=DIR", help=say("static_map"))
    p.add_argument("--websocket", choices=("on", "off"), help=say("websocket"))
    as_json(p)
    p = command("export", "export", _cmd_export)
    site(p)
    p.add_argument("--docker", action="store_true", help=say("docker"))
    p.add_argument("--out", metavar="DIR", help=say("out"))
    p.add_argument("--stats", action="store_true", help=say("stats"))
    p.add_argument("--app-dir", default="/app", help=say("app_dir"))
    as_json(p)

    t = command("translate", "translate", _cmd_translate)
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

    rt = command("run-task", "run_task", _cmd_run_task)
    rt.add_argument("task_id")
    return parser


def _lang_from(argv):
    """--lang is read before the parser is built: the help text itself is in that language."""
    for i, a in enumerate(argv):
        if a == "--lang" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--lang="):
            return a.split("=", 1)[1]
    return None


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    lang = _lang_from(argv)
    if lang in ("zh", "en"):
        os.environ["GUNICORN_SWITCH_LANG"] = lang
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except Exit as e:
        if e.message:
            _err(say("error", msg=e.message))
            if getattr(args, "json", False):
                _print_json({"error": e.message, "exit": e.code})
        return e.code
    except KeyboardInterrupt:
        return INTERRUPTED
    except BrokenPipeError:  # `... | head`: the reader left, nothing to report
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return OK
    except Exception as e:  # never a traceback: the plugin's log gets it, the user a reference
        _err(say("error", msg=api.internal_error("cli:%s" % getattr(args, "command", "?"), e)))
        return INTERNAL
