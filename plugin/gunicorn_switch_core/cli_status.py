"""``status`` in a terminal: get_status as text, and ``--watch`` redrawing it like uwsgitop.

Plain ANSI and termios (standard library): curses would need a terminfo entry that an SSH
session from a minimal client may lack, and the panel's Python may be built without it.
"""
import os
import select
import shutil
import sys
import time

from . import cli_base, i18n, logs
from .cli_text import say

CLEAR = "\x1b[H\x1b[2J"  # cursor home, clear screen: one frame starts with this
HIDE_CURSOR = "\x1b[?25l"
SHOW_CURSOR = "\x1b[?25h"


def _age(seconds):
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 3600:
        return "%dm%02ds" % (s // 60, s % 60)
    if s < 86400:
        return "%dh%02dm" % (s // 3600, s % 3600 // 60)
    return "%dd%02dh" % (s // 86400, s % 86400 // 3600)


def _mb(n):
    return "-" if n is None else "%.1fM" % (n / 1048576.0)


def _v(x, fmt="%s"):
    return "-" if x is None else fmt % x


def _state(w):
    if w.get("exiting") or w.get("retiring"):
        return "exiting"
    if w.get("busy") is None:
        return "-"
    return "busy" if w["busy"] else "idle"


def _current(w):
    c = w.get("current")
    if not c:
        return ""
    return "%s %s %.2fs" % (c.get("method") or "", c.get("path") or "", c.get("seconds") or 0)


def render(data):
    """The lines of one status frame (no colours: a log of the output stays readable)."""
    out = []
    m = data.get("master")
    if not data.get("running") or not m:
        out.append("%s  %s" % (data.get("site"), say("not_running")))
    else:
        out.append("%s  gunicorn %s  master %s  up %s  bind %s  cpu %s%%  rss %s" % (
            data["site"], m.get("version") or "?", m["pid"], _age(m.get("age")),
            m.get("bind") or "-", _v(m.get("cpu")), _mb(m.get("rss"))))
        t = data.get("totals") or {}
        out.append("workers %s  requests %s  req/s %s  busy %s  rss %s" % (
            t.get("workers"), _v(t.get("requests")), _v(t.get("rps")), _v(t.get("busy")),
            _mb(t.get("rss"))))
        out.append("")
        out.append("%-8s %-7s %6s %8s %9s %8s %8s %-7s %s" % (
            "PID", "AGE", "CPU%", "RSS", "REQUESTS", "REQ/S", "AVG ms", "STATE", "CURRENT"))
        for w in data.get("workers") or []:
            out.append("%-8s %-7s %6s %8s %9s %8s %8s %-7s %s" % (
                w["pid"], _age(w.get("age")), _v(w.get("cpu")), _mb(w.get("rss")),
                _v(w.get("requests")), _v(w.get("rps")), _v(w.get("avg_ms")), _state(w),
                _current(w)))
    exits = data.get("recent_exits") or []
    if exits:
        out.append("")
        out.append(say("recent_exits"))
        for e in exits[:5]:
            when = time.strftime("%H:%M:%S", time.localtime(e["time"])) if e.get("time") else "-"
            out.append("  %-8s %s  %-12s %s" % (e["pid"], when, e.get("cause"),
                                                 (e.get("detail") or "")[:100]))
    for h in data.get("hints") or []:
        out.append("! " + h)
    return out


def frame(data, width):
    head = "%s  %s" % (time.strftime("%H:%M:%S"), say("watch_hint"))
    lines = [head, ""] + render(data)
    return CLEAR + "\r\n".join(line[:width] for line in lines) + "\r\n"


def _key(fd, timeout):
    """A key pressed within ``timeout`` seconds, or None."""
    ready, _, _ = select.select([fd], [], [], timeout)
    if not ready:
        return None
    data = os.read(fd, 32)
    if not data:
        return "EOF"
    return data.decode("utf-8", "replace")


def watch(fetch, interval):
    """Redraw ``fetch()`` every ``interval`` seconds until q, Ctrl-C or end of input."""
    fd = sys.stdin.fileno()
    saved = None
    if os.isatty(fd):
        import termios
        import tty
        saved = termios.tcgetattr(fd)
        tty.setcbreak(fd)  # keys arrive one at a time, Ctrl-C still raises SIGINT
    out = sys.stdout
    try:
        out.write(HIDE_CURSOR)
        while True:
            # a pty nobody sized says 0 columns, and Python 3.7 passes that on
            width = shutil.get_terminal_size((120, 40)).columns or 120
            out.write(frame(fetch(), width))
            out.flush()
            key = _key(fd, interval)
            if key and (key == "EOF" or "q" in key.lower()):
                return
    except KeyboardInterrupt:
        return
    finally:
        out.write(SHOW_CURSOR + "\n")
        out.flush()
        if saved is not None:
            import termios
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)


# -- the commands ------------------------------------------------------------------------------

def cmd_status(args):
    site = cli_base.site_name(args.site)
    if args.watch:
        if args.interval <= 0 or args.interval > 3600:
            raise cli_base.Exit(cli_base.BAD, "--interval")
        watch(lambda: cli_base.call("get_status", site=site), args.interval)
        return cli_base.OK
    data = cli_base.call("get_status", site=site)
    if args.json:
        cli_base.print_json(data)
    else:
        print("\n".join(render(data)))
    return cli_base.OK


def cmd_control(args):
    data = cli_base.call("control", site=cli_base.site_name(args.site), op=args.op.replace("-", "_"))
    if args.json:
        cli_base.print_json(data)
    else:
        for k, v in data.items():
            print("%s: %s" % (k, v))
    if data.get("done") is False:
        raise cli_base.Exit(cli_base.FAILED, say("control_pending", wait=20))
    return cli_base.OK


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


def cmd_logs(args):
    site = cli_base.site_name(args.site)
    if not 1 <= args.lines <= logs.MAX_LINES:
        raise cli_base.Exit(cli_base.BAD, i18n.t("bad_lines", max=logs.MAX_LINES))
    text = cli_base.call("get_logs", site=site, kind=args.kind, lines=args.lines)
    if args.json and not args.follow:
        cli_base.print_json({"site": site, "kind": args.kind, "text": text})
        return cli_base.OK
    sys.stdout.write(text)
    sys.stdout.flush()
    if not args.follow:
        return cli_base.OK
    printed = text.splitlines()
    try:
        while True:
            time.sleep(1.0)
            tail = cli_base.call("get_logs", site=site, kind=args.kind, lines=logs.MAX_LINES).splitlines()
            fresh = new_lines(printed, tail)
            if fresh:
                sys.stdout.write("\n".join(fresh) + "\n")
                sys.stdout.flush()
            printed = tail
    except KeyboardInterrupt:
        return cli_base.OK


# -- nginx, export, translate -----------------------------------------------------------------
