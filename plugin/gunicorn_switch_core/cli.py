"""Command line of the core: ``python3 -m gunicorn_switch_core <command> ...``.

One argparse subcommand per task; add a command with a ``_cmd_<name>`` function and a
parser in ``build_parser``.
"""
import argparse
import json
import sys

from . import render, uwsgi_config, uwsgi_translate


def _cmd_translate(args):
    try:
        if args.argv:
            config = uwsgi_config.load_argv(["uwsgi"] + args.argv + [args.config],
                                            env=_env(args.env), cwd=args.cwd)
        else:
            config = uwsgi_config.load(args.config, env=_env(args.env), cwd=args.cwd)
    except uwsgi_config.UwsgiConfigError as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
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
        print("warning: %s" % w, file=sys.stderr)
    for w in tr.warnings:
        where = (w["origin"] + ": ") if w["origin"] else ""
        print("warning: %s%s" % (where, w["message"]), file=sys.stderr)
    if args.json:
        out = tr.as_dict()
        out["uwsgi_warnings"] = [w.as_dict() for w in config.warnings]
        json.dump(out, sys.stdout, indent=2, ensure_ascii=False, default=str)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render.render(tr))
    return 0


def _cmd_run_task(args):
    from . import switch, tasks
    state = tasks.run_task(args.task_id, switch.TABLES)
    return 0 if state in ("succeeded", "rolled_back") else 1


def _env(pairs):
    env = {}
    for pair in pairs or ():
        k, _, v = pair.partition("=")
        env[k] = v
    return env


def build_parser():
    parser = argparse.ArgumentParser(prog="python3 -m gunicorn_switch_core")
    sub = parser.add_subparsers(dest="command")
    sub.required = True
    t = sub.add_parser("translate", help="translate a uWSGI config to gunicorn_conf.py")
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
    t.set_defaults(func=_cmd_translate)

    rt = sub.add_parser("run-task", help="run a switch/rollback task (started by the plugin)")
    rt.add_argument("task_id")
    rt.set_defaults(func=_cmd_run_task)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.func(args)
