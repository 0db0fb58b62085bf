"""Command line of the core: ``python3 -m gunicorn_switch_core <command> ...`` (or the
``gunicorn-switch`` wrapper that install.sh puts on the PATH).

A peer of the page: every command goes through api.invoke(), so it gets the page's
validation, task runner, journal and per-site lock (a switch started here shows on the page
and the other way round). cli_base.Exit codes separate bad input (2) from a refusal (1) and from a
task that failed and was undone (3), which is what scripts and Ansible branch on.
"""
import argparse
import os
import sys
import time

from . import api, cli_base, cli_export, cli_files, cli_status, i18n, records
from .cli_text import exit_codes, say

# The switch options of the panel API (api.plan and api.switch take the same).
OPTION_KEYS = ("workers", "threads", "worker_class", "bind", "manager", "user", "timeout",
               "access_log")
OPS = ("reload", "add-worker", "remove-worker", "restart", "stop", "start", "enable-boot")
POLL = 0.3
def _options(pairs):
    """--set KEY=VALUE pairs as the API's options, validated as the page's are (exit 2)."""
    options = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in OPTION_KEYS:
            raise cli_base.Exit(cli_base.BAD, say("bad_set", keys=", ".join(OPTION_KEYS), value=pair[:80]))
        options[key] = value.strip()
    from . import plan as planning
    try:
        planning.parse_options(options)
    except planning.PlanError as e:
        raise cli_base.Exit(cli_base.BAD, str(e))
    return options


def _confirm(key, site, yes):
    if yes:
        return
    if not sys.stdin.isatty():
        raise cli_base.Exit(cli_base.REFUSED, say("not_confirmed"))
    try:
        answer = input(say(key, site=site))
    except (EOFError, KeyboardInterrupt):
        answer = ""
    if answer.strip().lower() not in ("y", "yes", "是"):
        raise cli_base.Exit(cli_base.REFUSED, say("not_confirmed"))


def _cmd_sites(args):
    sites = cli_base.call("get_sites")
    if args.json:
        cli_base.print_json(sites)
        return cli_base.OK
    cli_base.table([[s["site"], s["server"], s.get("manager") or "-",
             "yes" if s.get("managed_by_plugin") else "-", s.get("upstream") or "-",
             s.get("project_path") or "-"] for s in sites],
           ["SITE", "SERVER", "MANAGER", "PLUGIN", "UPSTREAM", "PROJECT"])
    return cli_base.OK


PLAN_KEYS = ("site", "settings", "gunicorn_conf", "gunicorn_conf_path", "nginx_diff", "steps",
             "warnings", "bind", "manager", "gunicorn_version")


def _show_plan(p):
    print("# %s -> %s" % (p["site"], p["gunicorn_conf_path"]))
    sys.stdout.write(p["gunicorn_conf"])
    print("")
    sys.stdout.write(p["nginx_diff"])
    print("")
    for i, st in enumerate(p["steps"], 1):
        print("%d. %s" % (i, cli_base.step_title(st)))
    for w in p["warnings"]:
        print(say("warning", msg=("%s: " % w["origin"] if w.get("origin") else "") + str(w["message"])))
    sys.stdout.flush()


def _cmd_plan(args):
    options = _options(args.set)
    p = cli_base.call("plan", site=cli_base.site_name(args.site), **options)
    if args.json:
        cli_base.print_json({k: p.get(k) for k in PLAN_KEYS})
    else:
        _show_plan(p)
    return cli_base.OK


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
            task = cli_base.call("get_task", task_id=task_id)
            n = len(task["steps"])
            for i, st in enumerate(task["steps"], 1):
                if show and seen.get(st["name"]) != st["state"] and st["state"] != "pending":
                    seen[st["name"]] = st["state"]
                    took = ""
                    if st.get("started") and st.get("finished") and st["state"] != "running":
                        took = " (%.1f s)" % (st["finished"] - st["started"])
                    if st["state"] != "running" or not tty:
                        sys.stdout.write("\r\x1b[K" if tty else "")
                        print("[%d/%d] %-8s %s%s" % (i, n, st["state"], cli_base.step_title(st), took))
                if tty and st["state"] == "running":
                    sys.stdout.write("\r\x1b[K[%d/%d] %s ... %.0f s" % (
                        i, n, cli_base.step_title(st), time.time() - (st.get("started") or time.time())))
                    sys.stdout.flush()
            if task["state"] not in ("pending", "running"):
                if tty:
                    sys.stdout.write("\r\x1b[K")
                sys.stdout.flush()
                return task
            time.sleep(POLL)
    except KeyboardInterrupt:
        raise cli_base.Exit(cli_base.INTERRUPTED, say("interrupted", id=task_id))


def _finish(args, result, code, message):
    if args.json:
        out = dict(result, message=message)
        if code:
            out["exit"] = code
        cli_base.print_json(out)
    if code:
        raise cli_base.Exit(code, message if not args.json else "")
    if not args.json:
        print(message)
    return cli_base.OK


def _run_task(args, kind, **api_args):
    """Start a switch or rollback through the API and follow it: the succeeded task, or
    exit 3 with the journal's error."""
    task_id = cli_base.call(kind, **api_args)["task_id"]
    if not args.json:
        print(say("task_started", id=task_id))
    task = _follow(task_id, not args.json)
    if task["state"] != "succeeded":
        _finish(args, _result(api_args["site"], kind, True, task, False), cli_base.FAILED,
                say("task_failed", kind=kind, state=task["state"], error=task["error"]))
    return task


def _not_busy(site):
    """Refuse (exit 1) while a switch or rollback of the site runs, whoever started it: the
    record alone would say "nothing to do" in the middle of the other one."""
    try:
        api._refuse_if_busy(site)
    except api.BadInput as e:
        raise cli_base.Exit(cli_base.REFUSED, str(e))


def _cmd_switch(args):
    options = _options(args.set)
    site = cli_base.site_name(args.site)
    _not_busy(site)
    rec = records.load(site)
    if rec is not None:
        diff = _differences(rec, options)
        if diff:
            raise cli_base.Exit(cli_base.REFUSED, say("switched_other", site=site, diff=", ".join(diff)))
        cli_base.call("get_status", site=site)  # the site must still be one the panel knows
        serving, detail = _serving_gunicorn(rec)
        if not serving:
            raise cli_base.Exit(cli_base.REFUSED, say("switched_down", site=site, detail=detail))
        return _finish(args, _result(site, "switch", False, serving=True, server="gunicorn"), cli_base.OK,
                       say("switched_same", site=site))
    if not args.yes:
        p = cli_base.call("plan", site=site, **options)
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
        return _finish(args, result, cli_base.FAILED, say("not_serving_after", site=site, detail=detail))
    return _finish(args, result, cli_base.OK, say("switch_done", site=site))


def _cmd_rollback(args):
    site = cli_base.site_name(args.site)
    _not_busy(site)
    rec = records.load(site)
    if rec is None:
        info = cli_base.server_of(site)
        if info["server"] == "uwsgi":
            return _finish(args, _result(site, "rollback", False, serving=True, server="uwsgi"), cli_base.OK,
                           say("on_uwsgi", site=site))
        raise cli_base.Exit(cli_base.REFUSED, i18n.t("not_switched", name=site))
    _confirm("confirm_rollback", site, args.yes)
    task = _run_task(args, "rollback", site=site)
    from . import health
    server = cli_base.server_of(site)["server"]
    code = health.status(rec["nginx_addr"], rec["domain"])
    serving = server == "uwsgi" and code is not None and code < 500
    result = _result(site, "rollback", True, task, serving, server)
    if not serving:
        return _finish(args, result, cli_base.FAILED,
                       say("not_serving_after", site=site, detail="%s, GET / -> %s" % (server, code)))
    return _finish(args, result, cli_base.OK, say("rollback_done", site=site))


# -- the task runner's entry (the panel starts it, not users) ---------------------------------

def _cmd_run_task(args):
    from . import runner
    return runner.run(args.task_id)


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
    p = command("status", "status", cli_status.cmd_status)
    site(p)
    p.add_argument("--watch", action="store_true", help=say("watch"))
    p.add_argument("--interval", type=float, default=1.0, help=say("interval"))
    as_json(p)
    p = command("control", "control", cli_status.cmd_control)
    site(p)
    p.add_argument("op", choices=OPS, metavar="|".join(OPS), help=say("op"))
    as_json(p)
    p = command("logs", "logs", cli_status.cmd_logs)
    site(p)
    p.add_argument("--kind", choices=("error", "access", "journal"), default="error", help=say("kind"))
    p.add_argument("--lines", type=int, default=200, help=say("lines"))
    p.add_argument("--follow", "-f", action="store_true", help=say("follow"))
    as_json(p)
    p = command("nginx", "nginx", cli_files.cmd_nginx)
    cli_files.nginx_arguments(p)
    as_json(p)
    p = command("export", "export", cli_export.cmd_export)
    site(p)
    cli_export.export_arguments(p)
    as_json(p)

    cli_files.translate_arguments(command("translate", "translate", cli_files.cmd_translate))

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
    except cli_base.Exit as e:
        if e.message:
            cli_base.err(say("error", msg=e.message))
            if getattr(args, "json", False):
                cli_base.print_json({"error": e.message, "exit": e.code})
        return e.code
    except KeyboardInterrupt:
        return cli_base.INTERRUPTED
    except BrokenPipeError:  # `... | head`: the reader left, nothing to report
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return cli_base.OK
    except Exception as e:  # never a traceback: the plugin's log gets it, the user a reference
        cli_base.err(say("error", msg=api.internal_error("cli:%s" % getattr(args, "command", "?"), e)))
        return cli_base.INTERNAL
