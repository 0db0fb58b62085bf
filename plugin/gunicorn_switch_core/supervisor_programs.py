"""The panel's Supervisor plugin (进程守护管理器): its supervisorctl, its program files in the
format its AddProcess writes (so its page shows them), and its config.json listing. The live
supervisord.conf is read from the running supervisord (docs/ARCHITECTURE.md, facts:
Supervisor plugin)."""
import json
import os
import re
import time

import psutil

from . import host, paths, safe_text, supervisor_rpc


def plugin_dir():
    return paths.real(paths.SUPERVISOR_PLUGIN)


def supervisor_conf():
    """The supervisord.conf in use: from the running supervisord's command line, else the
    plugin's or Debian's default location (docs/ARCHITECTURE.md, facts: Supervisor plugin)."""
    root = paths.root().rstrip("/")
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info.get("cmdline") or []
        if any(os.path.basename(w) == "supervisord" for w in cmd[:2]) and "-c" in cmd:
            conf = cmd[cmd.index("-c") + 1] if cmd.index("-c") + 1 < len(cmd) else None
            if conf and (not root or conf.startswith(root + "/")):
                return conf
    for cand in (os.path.join(plugin_dir(), "supervisord.conf"),
                 paths.real(paths.SUPERVISORD_CONF)):
        if os.path.exists(cand):
            return cand
    return None


def supervisorctl(*args):
    """(exit code, text) of supervisorctl ``args``: asked of supervisord over its socket
    (supervisor_rpc) where it answers, else of the supervisorctl program."""
    conf = supervisor_conf()
    if conf:
        try:
            return supervisor_rpc.run(conf, *args)
        except (supervisor_rpc.Unreachable, ValueError):
            pass
    ctl = paths.real(paths.PANEL + "/pyenv/bin/supervisorctl")
    if not os.path.exists(ctl):
        ctl = "supervisorctl"
    argv = [ctl] + (["-c", conf] if conf else []) + list(args)
    return host.run(argv, timeout=90)


def program_name(site):
    return "gunicorn_" + re.sub(r"[^A-Za-z0-9_]", "_", site)


def program_file(program):
    return os.path.join(plugin_dir(), "profile", program + ".ini")


def program_section(prog, command, directory, user, env=(), stopwaitsecs=35, group=False,
                    killasgroup=False):
    """A [program:x] section as the Supervisor plugin's AddProcess writes it, run as ``user``
    (a host.User): supervisord becomes that user before it executes the command. ``env``:
    [(key, value)] on top of HOME/USER/LANG, values already checked (supervisor_value)."""
    log = os.path.join(plugin_dir(), "log")
    environment = [("HOME", safe_text.check_path(user.home, "home")), ("USER", user.name),
                   ("LANG", "C.UTF-8")] + list(env)
    return "\n".join([
        "[program:%s]" % prog,
        "command=%s" % command,
        "directory=%s" % directory,
        "autostart=true",
        "autorestart=true",
        "startsecs=%d" % (3 if not group else 1),
        "startretries=3",
        "stopsignal=TERM",
        "stopwaitsecs=%d" % stopwaitsecs,
        # a shell command's children get the signal too (uWSGI signals a daemon's group)
        "stopasgroup=%s" % ("true" if group else "false"),
        "killasgroup=%s" % ("true" if group or killasgroup else "false"),
        "stdout_logfile=%s/%s.out.log" % (log, prog),
        "stderr_logfile=%s/%s.err.log" % (log, prog),
        "stdout_logfile_maxbytes=2MB",
        "stderr_logfile_maxbytes=2MB",
        "user=%s" % user.name,
        "environment=%s" % ",".join('%s="%s"' % kv for kv in environment),
        "priority=999",
        "numprocs=1",
        "process_name=%(program_name)s",
        "",
    ])


_SUPERVISOR_BAD = re.compile(r"[\x00-\x1f\x7f\"\\]|\s[;#]")


def supervisor_value(text, what):
    """``text`` as it can stand in a program file: %-interpolation escaped; refused
    (safe_text.UnsafeText) with control characters, double quotes or backslashes (the
    environment= syntax) and " ;" or " #" (an inline comment to supervisord's parser)."""
    if _SUPERVISOR_BAD.search(text):
        raise safe_text.UnsafeText("%s %r cannot stand in a Supervisor program file (quotes, "
                                   "backslashes, ' ;' or ' #'); put it in a script" % (what, text[:200]))
    return text.replace("%", "%%")


def supervisor_metadata_file():
    return os.path.join(plugin_dir(), "config.json")


def program_state(prog):
    rc, out = supervisorctl("status", prog)
    parts = out.split()
    return parts[1] if len(parts) > 1 and parts[0] == prog else None


UP = ("STARTING", "RUNNING")


def wait_state(prog, want, timeout=30.0):
    end = time.monotonic() + timeout
    state = None
    while time.monotonic() < end:
        state = program_state(prog)
        if state in want:
            return state
        time.sleep(0.3)
    return state


def metadata_add(program, command, path_, user, ps):
    """List the program in the Supervisor plugin's config.json so that its page shows it."""
    path = supervisor_metadata_file()
    try:
        items = json.loads(host.read_text(path))
    except (OSError, ValueError, host.HostError):
        items = []
    if not isinstance(items, list):
        return
    items = [i for i in items if not (isinstance(i, dict) and i.get("program") == program)]
    items.append({"program": program, "command": command, "path": path_, "user": user,
                  "numprocs": "1", "ps": ps})
    host.write_atomic(path, json.dumps(items, ensure_ascii=False, indent=2))


def metadata_remove(program):
    path = supervisor_metadata_file()
    try:
        items = json.loads(host.read_text(path))
    except (OSError, ValueError, host.HostError):
        return
    if isinstance(items, list):
        kept = [i for i in items if not (isinstance(i, dict) and i.get("program") == program)]
        if kept != items:
            host.write_atomic(path, json.dumps(kept, ensure_ascii=False, indent=2))


def set_autostart(text, on):
    """A Supervisor program section with autostart/autorestart set; other lines untouched."""
    value = "true" if on else "false"
    lines = text.splitlines(True)
    seen = set()
    for i, line in enumerate(lines):
        m = re.match(r"^(\s*)(autostart|autorestart)(\s*=\s*)(\S*)(.*?)(\r?\n)?$", line)
        if m:
            seen.add(m.group(2))
            lines[i] = "%s%s%s%s%s%s" % (m.group(1), m.group(2), m.group(3), value, m.group(5), m.group(6) or "")
    nl = "\r\n" if "\r\n" in text else "\n"
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += nl
    for key in ("autostart", "autorestart"):
        if key not in seen:
            lines.append("%s=%s%s" % (key, value, nl))
    return "".join(lines)
