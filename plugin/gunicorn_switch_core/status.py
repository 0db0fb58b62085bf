"""The status page of one site: its Gunicorn master, every worker, and why workers died.

Process data (age, CPU, RSS) comes from psutil; requests, latency, busy and the request in
progress come from the per-worker slots the hooks in gunicorn_conf.py map (stats_layout);
worker exits come from the hooks' exits file and from the error log's own lines. CPU% and
req/s are differences between two calls, as uwsgitop does: the previous sample is kept per
site in memory and in a small file, because the panel may or may not reuse its process.

The page polls this, so one call must cost less than a ``ps aux`` even for 32 workers: one
``oneshot()`` per process, the children of the master from /proc, no subprocess, and the
error log re-read only when it changed.
"""
import datetime
import json
import os
import pwd
import re
import signal
import time

import psutil

from . import boot_apply, host, i18n, paths, processes, records, safe_files, saturation, stats_layout

# Samples closer than this give noisy rates: keep the older one and report cumulative values.
MIN_INTERVAL = 0.25
# A sample is replaced only once it is this old, so that rates span a useful interval even
# when several pages poll at once.
SAMPLE_REFRESH = 1.0
RECENT_EXITS = 20
LOG_TAIL_BYTES = 128 * 1024
EXIT_MATCH_WINDOW = 300.0  # seconds between an exit record and the log line about it
# A replacement may start before its predecessor's exit is recorded: Gunicorn spawns it once
# the old worker is aborted, and the master records the exit only when it reaps it.
REPLACE_SLACK = 2.0
_SAMPLES = {}
_LOG_CACHE = {}

# Lines of Gunicorn's arbiter (23.0 .. 27.x) that say how a worker ended.
_LOG_LINE = re.compile(
    r"^\[(?P<ts>[^\]]+)\][^\n]*?(?:"
    r"WORKER TIMEOUT \(pid:(?P<timeout>\d+)\)"
    r"|Worker \(pid:(?P<sig_pid>\d+)\) was sent (?P<sig>SIG[A-Z0-9]+|signal \d+)!(?P<oom> Perhaps out of memory\?)?"
    r"|Worker \(pid:(?P<code_pid>\d+)\) exited with code:? (?P<code>-?\d+)"
    r")", re.M)


# -- pure parts ------------------------------------------------------------------------

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


def rates(prev, now, pid, started, cpu, requests):
    """(cpu %, req/s) of one process: the change since ``prev`` (the last sample's
    ``{"t", "procs": {pid: [started, cpu, requests]}}``), else cumulative CPU and no rate."""
    entry = (prev or {}).get("procs", {}).get(str(pid))
    dt = now - (prev or {}).get("t", now)
    if entry and abs(entry[0] - started) < 0.05 and dt >= MIN_INTERVAL:
        cpu_pct = max(0.0, (cpu - entry[1]) / dt * 100.0)
        rps = None
        if requests is not None and entry[2] is not None and requests >= entry[2]:
            rps = (requests - entry[2]) / dt
        return round(cpu_pct, 1), (round(rps, 2) if rps is not None else None)
    age = max(now - started, 0.001)
    return round(cpu / age * 100.0, 1), None


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


# -- reading the host ---------------------------------------------------------------------

def children(pid):
    """The master's direct children, from /proc (no scan of every process)."""
    kids = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as fh:
                kids.extend(int(x) for x in fh.read().split())
        return kids
    except (OSError, ValueError):
        pass
    try:
        return [c.pid for c in psutil.Process(pid).children()]
    except psutil.Error:
        return []


_BOOT = []
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def parse_proc_stat(data, boot_time, clk_tck=100, page=4096):
    """{started, cpu_s, rss, name, zombie} from the text of /proc/<pid>/stat (proc(5))."""
    head, _, tail = data.rpartition(")")
    f = tail.split()
    # f[0] is field 3 (state); utime 14, stime 15, starttime 22, rss 24 (pages)
    return {"name": head.partition("(")[2], "zombie": f[0] == "Z",
            "cpu_s": (int(f[11]) + int(f[12])) / float(clk_tck),
            "started": boot_time + int(f[19]) / float(clk_tck), "rss": int(f[21]) * page}


def _worker_proc(pid):
    """``_proc`` for a worker: psutil (with oneshot) reads three or four /proc files per
    process and /proc/stat for the boot time on every call; one read of /proc/<pid>/stat
    has everything a worker row needs, which keeps 32 workers cheaper than one `ps aux`."""
    if not _BOOT:
        _BOOT.append(psutil.boot_time())
    try:
        with open("/proc/%d/stat" % pid) as fh:
            info = parse_proc_stat(fh.read(), _BOOT[0], _CLK_TCK, _PAGE)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, IndexError):
        return _proc(pid)
    info["pid"] = pid
    return info


def _proc(pid):
    """{pid, started, cpu (s), rss, name} of one process, or None when it is gone."""
    try:
        p = psutil.Process(pid)
        with p.oneshot():
            t = p.cpu_times()
            return {"pid": pid, "started": p.create_time(), "cpu_s": t.user + t.system,
                    "rss": p.memory_info().rss, "name": p.name(), "proc": p,
                    "zombie": p.status() == psutil.STATUS_ZOMBIE}
    except psutil.Error:
        return None


# The managers under which control's restart is Gunicorn's USR2 upgrade (control.reexec says
# why not under Supervisor and systemd).
RESTART_BY_USR2 = ("daemon", "panel_project")


def record_uids(record):
    """The uids a site's recorded master may run as: its user (root for a site switched
    before the master ran as the site's user)."""
    try:
        return (pwd.getpwnam(record.get("user") or "www").pw_uid, 0)
    except KeyError:
        return (0,)


def gunicorn_master(pid, uids=None):
    """The process at ``pid`` when it is a Gunicorn master (running as one of ``uids``),
    else None: a pid read from a file the site's user can write must not make root look at,
    or signal, another process."""
    if not pid:
        return None
    info = _proc(pid)
    if info is None:
        return None
    try:
        cmdline = info["proc"].cmdline()
        if uids is not None and info["proc"].uids().real not in uids:
            return None
    except psutil.Error:
        return None
    if processes.server_kind(cmdline, info["name"]) != "gunicorn":
        return None
    info["cmdline"] = cmdline
    return info


def worker_pids(master_pid, proc_name=None):
    """The master's children but its dirty arbiter (Gunicorn >= 25, when configured)."""
    dirty = _dirty_arbiter(proc_name)
    return [p for p in children(master_pid) if p != dirty]


def read_pidfile(path):
    return host.read_pid(path) if path else None


def _dirty_arbiter(proc_name):
    """The pid in Gunicorn's dirty-arbiter pidfile for ``proc_name`` (>= 25), if any."""
    if not proc_name:
        return None
    safe = proc_name.replace("/", "_").replace(" ", "_")
    # bandit B108 reviewed: reads Gunicorn's own pidfile, writes nothing
    return read_pidfile(os.path.join("/tmp", "gunicorn-dirty-%s.pid" % safe))  # nosec B108


def _error_evidence(path):
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


def _read_exits(stats_dir):
    return stats_layout.read_exits_file(stats_dir)


def sample_path(site, record):
    """Where the previous sample of a site is kept between calls: root's state dir (the
    runtime dir is the site user's)."""
    return os.path.join(paths.host(paths.PLUGIN_STATE), "status", site + ".json")


def _load_sample(site, path):
    s = _SAMPLES.get(site)
    if s is not None:
        return s
    try:
        s = json.loads(host.read_text(path))
        return s if isinstance(s, dict) else None
    except (OSError, ValueError, host.HostError):
        return None


def _save_sample(site, path, sample):
    _SAMPLES[site] = sample
    # A cache, not state: losing it costs one call without rates, so no fsync.
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        host.write_atomic(path, json.dumps(sample), mode=0o600)
    except (OSError, host.HostError):
        pass


def _conf_from_cmdline(cmdline, cwd=None):
    for i, a in enumerate(cmdline):
        if a in ("-c", "--config") and i + 1 < len(cmdline):
            return cmdline[i + 1]
        if a.startswith("--config="):
            return a.split("=", 1)[1]
    return None


def _not_running(site, record, exits, hints):
    hints.append(i18n.t("status_not_running"))
    return {"site": site, "running": False, "managed": record is not None, "master": None,
            "workers": [], "recent_exits": exits,
            "totals": {"workers": 0, "requests": None, "rps": None, "rss": 0, "busy": None},
            "hints": hints}


def get_status(site, info=None):
    """The status of ``site`` (see design.md, get_status), with what starts it at boot."""
    out = _get_status(site, info)
    record = records.load(site)
    out["boot"] = boot_apply.status_of(record) if record is not None else None
    if out["boot"] and out["boot"]["note"]:
        out["hints"].append(out["boot"]["note"])
    return out


def _get_status(site, info=None):
    """The status of ``site`` (see design.md, get_status).

    ``info`` is the site's entry from discover.get_sites(), used for a Gunicorn the plugin
    did not start; it is looked up only when the site has no record.
    """
    now = time.time()
    record = records.load(site)
    hints = []
    if record is not None:
        stats_dir = record.get("stats_dir")
        master = gunicorn_master(read_pidfile(record.get("pidfile")), record_uids(record))
        evidence = _error_evidence(record.get("error_log"))
        exit_recs = _read_exits(stats_dir) if stats_dir else []
    else:
        if info is None:
            from . import discover  # a full scan; only for sites the plugin did not switch
            info = next((s for s in discover.get_sites() if s["site"] == site), {})
        stats_dir = None
        master = gunicorn_master(info.get("pid")) if info.get("server") == "gunicorn" else None
        evidence, exit_recs = {}, []
        hints.append(i18n.t("status_unmanaged"))
    recent = merge_exits(exit_recs, evidence)
    if master is None:
        return _not_running(site, record, recent, hints)

    prev = _load_sample(site, sample_path(site, record))
    _explain_exits(recent, stats_dir, prev)
    procs = {str(master["pid"]): [master["started"], master["cpu_s"], None]}
    m_cpu, _ = rates(prev, now, master["pid"], master["started"], master["cpu_s"], None)
    workers = []
    hists = []
    for pid in worker_pids(master["pid"], site):
        w = _worker_proc(pid)
        # setproctitle also sets the kernel's 15-character name: "gunicorn: dirty".
        if w is None or w["zombie"] or w["name"].startswith("gunicorn: dirty"):
            continue
        slot = stats_layout.read_slot_file(
            os.path.join(stats_dir, "%d%s" % (pid, stats_layout.SLOT_SUFFIX))) if stats_dir else None
        requests = slot["requests"] if slot else None
        cpu, rps = rates(prev, now, pid, w["started"], w["cpu_s"], requests)
        procs[str(pid)] = [w["started"], w["cpu_s"], requests]
        current = None
        if slot and slot["busy"] and slot["cur_start"]:
            current = {"method": slot["cur_method"], "path": slot["cur_path"],
                       "seconds": round(max(0.0, now - slot["cur_start"]), 3)}
        if slot:
            hists.append(slot["hist"])
        workers.append({
            "pid": pid, "started": w["started"], "age": round(now - w["started"], 1),
            "latency": stats_layout.percentiles(slot["hist"]) if slot else None,
            "capacity": slot["capacity"] if slot else None,
            "rss": w["rss"], "cpu": cpu, "requests": requests, "rps": rps,
            "avg_ms": round(slot["avg_ms"], 2) if slot else None,
            "busy": slot["busy"] if slot else None,
            "in_flight": slot["in_flight"] if slot else None,
            "retiring": bool(slot["exit_flags"] & 1) if slot else None,
            "last_status": (slot["last_status"] or None) if slot else None,
            "current": current, "last_exit": None,
            # worker_exit has run (its record is written) but the master has not reaped it
            "exiting": any(e["pid"] == pid and (e["time"] or 0) >= w["started"]
                           for e in recent),
        })
    workers.sort(key=lambda w: w["started"])
    for pid, e in match_replacements(workers, recent).items():
        if e is not None:
            next(w for w in workers if w["pid"] == pid)["last_exit"] = {
                "pid": e["pid"], "time": e["time"], "cause": e["cause"]}

    bind = (record or {}).get("bind") or next(iter((info or {}).get("listen") or []), None)
    sat = _saturation(workers, bind, (prev or {}).get("queue_since"), now)
    dt = now - (prev or {}).get("t", 0)
    if prev is None or dt >= SAMPLE_REFRESH or dt < 0:
        _save_sample(site, sample_path(site, record),
                     {"t": now, "procs": procs, "queue_since": sat["queue_since"],
                      "rss": _remember_rss(prev, workers, now)})
    elif sat["queue_since"] != prev.get("queue_since"):
        # the rates keep their older sample; when the queue filled or emptied is news
        _save_sample(site, sample_path(site, record), dict(prev, queue_since=sat["queue_since"]))

    if record is not None and workers and all(w["requests"] is None for w in workers):
        hints.append(i18n.t("status_no_stats", dir=stats_dir or "-"))
    _exit_hints(recent, now, hints)
    known = [w for w in workers if w["requests"] is not None]
    latency = stats_layout.percentiles(stats_layout.merge_hists(hists)) if hists else None
    _saturation_hints(sat, workers, recent, latency, (record or {}).get("backlog"), now, hints)
    rps_known = [w["rps"] for w in workers if w["rps"] is not None]
    cmdline = master["cmdline"]
    return {
        "site": site,
        "running": True,
        "managed": record is not None,
        # the page's restart warning: only these managers restart without a failed request
        "restart_lossless": (record or {}).get("manager") in RESTART_BY_USR2,
        "master": {
            "pid": master["pid"], "started": master["started"],
            "age": round(now - master["started"], 1), "rss": master["rss"], "cpu": m_cpu,
            "version": (record or {}).get("gunicorn_version"),
            "bind": (record or {}).get("bind") or ", ".join((info or {}).get("listen") or []) or None,
            "config": (record or {}).get("gunicorn_conf") or _conf_from_cmdline(cmdline),
            "title": " ".join(cmdline).strip()[:200],
        },
        "workers": workers,
        "recent_exits": recent,
        "totals": {
            "workers": len(workers),
            "requests": sum(w["requests"] for w in known) if known else None,
            "rps": round(sum(rps_known), 2) if rps_known else None,
            "rss": master["rss"] + sum(w["rss"] for w in workers),
            "busy": sum(1 for w in known if w["busy"]) if known else None,
            # the last minute, all live workers' histograms together
            "latency": latency,
        },
        "saturation": sat,
        "hints": hints,
    }


def _explain_exits(recent, stats_dir, prev):
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
RSS_MEMORY = 3600.0
RSS_MEMORY_MAX = 256


def _remember_rss(prev, workers, now):
    kept = {pid: v for pid, v in ((prev or {}).get("rss") or {}).items()
            if isinstance(v, list) and len(v) == 2 and now - v[1] < RSS_MEMORY}
    for w in workers:
        kept[str(w["pid"])] = [w["rss"], now]
    newest = sorted(kept.items(), key=lambda kv: kv[1][1])[-RSS_MEMORY_MAX:]
    return dict(newest)


def _saturation(workers, bind, prev_since, now):
    """The listen queue, the busy ratio and whether the site is saturated."""
    listen = saturation.listen_queue(bind)
    with_slots = [w for w in workers if w["capacity"]]
    slots = sum(w["capacity"] for w in with_slots)
    busy = sum(w["in_flight"] or 0 for w in with_slots)
    since = saturation.queue_since(prev_since, (listen or {}).get("queue"), now)
    return {"listen": listen, "slots": slots or None, "busy_slots": busy if slots else None,
            "busy_ratio": round(min(busy, slots) / float(slots), 3) if slots else None,
            "queue_since": since,
            "saturated": since is not None and now - since >= saturation.SATURATED_AFTER,
            "advice": None}


# Gunicorn's own default when the conf sets no backlog.
GUNICORN_BACKLOG = 2048


def _saturation_hints(sat, workers, recent, latency, backlog, now, hints):
    listen = sat["listen"] or {}
    cap = listen.get("somaxconn")
    if cap and (backlog or GUNICORN_BACKLOG) > cap:
        hints.append(i18n.t("status_somaxconn", backlog=backlog or GUNICORN_BACKLOG, cap=cap))
    if not sat["saturated"]:
        return
    timeouts = sum(1 for e in recent if e["cause"] == "timeout" and e["time"] and
                   now - e["time"] < 600)
    try:
        available = psutil.virtual_memory().available
    except (psutil.Error, OSError):
        available = None
    kind, values = saturation.advice(workers, sat["slots"] or len(workers), listen["queue"],
                                     timeouts, available, latency)
    sat["advice"] = i18n.t("advice_" + kind, **values)
    hints.append(i18n.t("status_saturated", queue=listen["queue"],
                        seconds=int(now - sat["queue_since"])) + " " + sat["advice"])


def _exit_hints(recent, now, hints):
    hour = [e for e in recent if e["time"] and now - e["time"] < 3600]
    n_timeout = sum(1 for e in hour if e["cause"] == "timeout")
    n_oom = sum(1 for e in hour if e["cause"] == "oom")
    if n_timeout:
        hints.append(i18n.t("status_timeouts", n=n_timeout))
    if n_oom:
        hints.append(i18n.t("status_oom", n=n_oom))


HISTORY_SPANS = (300, 3600, 86400)
HISTORY_POINTS = 360  # a chart's worth: 24 h are folded 24 steps to a point


def _worst(run, key):
    vals = [p[key] for p in run if p[key] is not None]
    return max(vals) if vals else None


def fold_history(points, n=HISTORY_POINTS):
    """At most ``n`` points: runs of neighbours summed (requests, exits), averaged (busy,
    RSS sum) or their worst kept (percentiles, queue, RSS max)."""
    if len(points) <= n:
        return points
    k = -(-len(points) // n)
    out = []
    for i in range(0, len(points), k):
        run = points[i:i + k]
        req = sum(p["requests"] for p in run)
        out.append({"t": run[-1]["t"], "requests": req,
                    "rps": round(req / float(stats_layout.HISTORY_STEP * len(run)), 2),
                    "p50": _worst(run, "p50"), "p95": _worst(run, "p95"),
                    "p99": _worst(run, "p99"), "queue": _worst(run, "queue"),
                    "rss_max": _worst(run, "rss_max"),
                    "busy_ratio": round(sum(p["busy_ratio"] for p in run) / len(run), 3),
                    "rss_sum": sum(p["rss_sum"] for p in run) // len(run),
                    "workers": run[-1]["workers"], "exits": sum(p["exits"] for p in run)})
    return out


def get_history(site, span):
    """The site's history ring over the last ``span`` seconds, folded for a chart."""
    record = records.load(site)
    stats_dir = (record or {}).get("stats_dir")
    if not stats_dir:
        return {"site": site, "span": span, "step": stats_layout.HISTORY_STEP, "points": []}
    points = stats_layout.read_history_file(stats_dir, time.time(), span)
    return {"site": site, "span": span, "step": stats_layout.HISTORY_STEP,
            "points": fold_history(points)}
