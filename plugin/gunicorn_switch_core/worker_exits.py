"""How a site's workers ended: the exits the stats hooks recorded, refined by what Gunicorn's
arbiter wrote in the error log (timeouts, signals, exit codes), with what a timed-out worker
recorded of its request and stacks."""
import datetime
import os
import re
import signal

from . import i18n, safe_files, stats_layout

RECENT_EXITS = 20
# The error log's tail that is parsed (re-read only when the file changed).
LOG_TAIL_BYTES = 128 * 1024
EXIT_MATCH_WINDOW = 300.0  # seconds between an exit record and the log line about it
# A replacement may start before its predecessor's exit is recorded: Gunicorn spawns it once
# the old worker is aborted, and the master records the exit only when it reaps it.
REPLACE_SLACK = 2.0
_LOG_CACHE: dict = {}

# Lines of Gunicorn's arbiter (23.0 .. 27.x) that say how a worker ended.
_LOG_LINE = re.compile(
    r"^\[(?P<ts>[^\]]+)\][^\n]*?(?:"
    r"WORKER TIMEOUT \(pid:(?P<timeout>\d+)\)"
    r"|Worker \(pid:(?P<sig_pid>\d+)\) was sent (?P<sig>SIG[A-Z0-9]+|signal \d+)!(?P<oom> Perhaps out of memory\?)?"
    r"|Worker \(pid:(?P<code_pid>\d+)\) exited with code:? (?P<code>-?\d+)"
    r")", re.M)


def parse_log_time(text):
    """Epoch seconds of Gunicorn's default log timestamp ('2026-01-02 03:04:05 +0800')."""
    try:
        return datetime.datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S %z").timestamp()
    except ValueError:
        return None


def parse_error_log(text):
    """{pid: {time, timeout, signal, oom, code, lines}}: what the error log says of exits."""
    out = {}
    for m in _LOG_LINE.finditer(text):
        pid = int(m.group("timeout") or m.group("sig_pid") or m.group("code_pid"))
        ev = out.setdefault(pid, {"time": None, "timeout": False, "signal": None,
                                  "oom": False, "code": None, "lines": []})
        ev["time"] = parse_log_time(m.group("ts")) or ev["time"]
        ev["lines"].append(m.group(0)[:300])
        if m.group("timeout"):
            ev["timeout"] = True
        elif m.group("sig_pid"):
            sig = m.group("sig")
            num = getattr(signal, sig, None) if sig.startswith("SIG") else int(sig.split()[1])
            ev["signal"] = int(num) if num is not None else None
            ev["oom"] = bool(m.group("oom"))
        else:
            ev["code"] = int(m.group("code"))
    return out


def _cause(rec_cause, ev):
    """The page's cause for an exit: the hooks' record refined by the error log's lines."""
    if (ev and ev["timeout"]) or rec_cause == "timeout":
        return "timeout"
    if rec_cause in ("max_requests", "reload_on_rss", "max_lifetime", "memory"):
        return rec_cause
    if rec_cause == "boot_error":
        return "crash"
    if ev:
        if ev["oom"]:
            return "oom"
        if ev["signal"] not in (None, 15):
            return "signal"
        if ev["code"]:
            return "crash"
    if rec_cause == "killed":
        return "crash"  # gone without worker_exit and the log does not say why
    return "exit"


def _detail(cause, ev):
    if ev and ev["lines"]:
        return " / ".join(ev["lines"][-2:])
    return {"timeout": "WORKER TIMEOUT", "killed": "killed"}.get(cause, "")


def merge_exits(exit_records, evidence, limit=RECENT_EXITS):
    """Recent worker exits, newest first, from the exits file and the parsed error log.

    Abnormal endings the log reports without a record (a site without the hooks, or stats
    that could not be written) are listed too; ordinary ones are left to the log.
    """
    out = []
    seen = set()
    for rec in exit_records:
        ev = evidence.get(rec["pid"])
        if ev and ev["time"] is not None and abs(ev["time"] - rec["time"]) > EXIT_MATCH_WINDOW:
            ev = None  # the pid was reused; that line is about another worker
        if ev:
            seen.add(rec["pid"])
        cause = _cause(rec["cause"], ev)
        sig = rec["signal"] or (ev["signal"] if ev else None)
        code = ev["code"] if ev and ev["code"] is not None else (
            rec["exitcode"] if rec["exitcode"] >= 0 else None)
        out.append({"pid": rec["pid"], "time": rec["time"], "cause": cause, "code": code,
                    "signal": sig or None, "requests": rec["requests"],
                    "age": rec["age"], "detail": _detail(rec["cause"], ev),
                    "rss": rec.get("rss") or None})
    for pid, ev in evidence.items():
        if pid in seen:
            continue
        cause = _cause(None, ev)
        if cause == "exit":
            continue
        out.append({"pid": pid, "time": ev["time"], "cause": cause, "code": ev["code"],
                    "signal": ev["signal"], "rss": None,
                    "requests": None, "age": None, "detail": _detail(None, ev)})
    out.sort(key=lambda e: e["time"] or 0, reverse=True)
    return out[:limit]


def match_replacements(workers, exits):
    """For each live worker, the exit of the worker it replaced (the latest exit recorded
    before it started, give or take REPLACE_SLACK, that no earlier-started worker took)."""
    pending = sorted((e for e in exits if e.get("time")), key=lambda e: e["time"])
    taken = set()
    out = {}
    for w in sorted(workers, key=lambda w: w["started"]):
        best = None
        for i, e in enumerate(pending):
            if i in taken or e["time"] > w["started"] + REPLACE_SLACK:
                continue
            best = i  # the latest untaken exit before this worker started
        if best is not None and w["started"] - pending[best]["time"] < EXIT_MATCH_WINDOW:
            taken.add(best)
            out[w["pid"]] = pending[best]
        else:
            out[w["pid"]] = None
    return out


# The managers under which control's restart is Gunicorn's USR2 upgrade (control.reexec says
# why not under Supervisor and systemd).
def error_evidence(path):
    """parse_error_log over the log's tail, re-read only when the file changed."""
    if not path:
        return {}
    try:
        st = os.stat(path)
    except OSError:
        return {}
    key = (st.st_ino, st.st_size, st.st_mtime)
    cached = _LOG_CACHE.get(path)
    if cached and cached[0] == key:
        return cached[1]
    try:
        data, _size = safe_files.read_tail(path, LOG_TAIL_BYTES)
    except OSError:
        return {}
    ev = parse_error_log(data.decode("utf-8", "replace"))
    _LOG_CACHE[path] = (key, ev)
    return ev


def read_exits(stats_dir):
    return stats_layout.read_exits_file(stats_dir)


def explain(recent, stats_dir, prev):
    """Add what the worker recorded as it timed out (request, stacks), and for a worker
    killed without a word the RSS last seen of it."""
    seen = (prev or {}).get("rss", {})
    for e in recent:
        if e["cause"] == "timeout" and stats_dir:
            ab = stats_layout.read_abort(stats_dir, e["pid"])
            if ab and e["time"] and abs((ab["time"] or 0) - e["time"]) < EXIT_MATCH_WINDOW:
                e["request"] = {"method": ab["method"], "path": ab["path"],
                                "elapsed": ab["elapsed"]}
                e["stacks"] = ab["stacks"]
        entry = seen.get(str(e["pid"]))
        if not e.get("rss") and entry and e["cause"] in ("oom", "signal", "crash", "timeout"):
            e["rss"] = entry[0]
            e["rss_seen"] = entry[1]  # when the status last saw it, not at its end


# Workers' last seen RSS, kept this long after they are gone: the OOM killer's victims say
# nothing of themselves, and their exit shows up in the log a moment later.
def hints_for(recent, now, hints):
    hour = [e for e in recent if e["time"] and now - e["time"] < 3600]
    n_timeout = sum(1 for e in hour if e["cause"] == "timeout")
    n_oom = sum(1 for e in hour if e["cause"] == "oom")
    if n_timeout:
        hints.append(i18n.t("status_timeouts", n=n_timeout))
    if n_oom:
        hints.append(i18n.t("status_oom", n=n_oom))
