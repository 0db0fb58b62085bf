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
import json
import os
import time

import psutil

from . import (boot_apply, host, i18n, paths, processes, records, saturation, stats_layout,
               worker_exits)

# Samples closer than this give noisy rates: keep the older one and report cumulative values.
MIN_INTERVAL = 0.25
# A sample is replaced only once it is this old, so that rates span a useful interval even
# when several pages poll at once.
SAMPLE_REFRESH = 1.0
_SAMPLES: dict = {}
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


RESTART_BY_USR2 = ("daemon", "panel_project")
# managers that watch the pid they started: a re-exec only through the keeper in between
RESTART_BY_USR2_KEPT = ("supervisor", "systemd")


def restart_by_usr2(record, master_pid):
    """Whether a restart of this master is Gunicorn's re-exec (control.reexec), which loses
    no request: under a manager that follows the pidfile, or under Supervisor or systemd
    through the keeper (keeper.py). A program or unit of an older release runs Gunicorn
    directly: there it is stop-then-start, and the page warns before it."""
    manager = (record or {}).get("manager")
    return manager in RESTART_BY_USR2 or (manager in RESTART_BY_USR2_KEPT
                                          and processes.kept(master_pid))


def sample_path(site, record):
    """Where the previous sample of a site is kept between calls: root's state dir (the
    runtime dir is the site user's)."""
    return os.path.join(paths.real(paths.PLUGIN_STATE), "status", site + ".json")


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


def _master_of(site, record, info, hints):
    """(master, stats_dir, recent exits, info) of a site: a switched site's from its record,
    another Gunicorn's from discovery (``info``, looked up only when not given)."""
    if record is not None:
        stats_dir = record.get("stats_dir")
        master = processes.gunicorn_master(processes.read_pidfile(record.get("pidfile")),
                                           processes.record_uids(record))
        recent = worker_exits.merge_exits(worker_exits.read_exits(stats_dir) if stats_dir else [],
                                          worker_exits.error_evidence(record.get("error_log")))
        return master, stats_dir, recent, info
    if info is None:
        from . import discover  # a full scan; only for sites the plugin did not switch
        info = next((s for s in discover.get_sites() if s["site"] == site), {})
    hints.append(i18n.t("status_unmanaged"))
    master = processes.gunicorn_master(info.get("pid")) if info.get("server") == "gunicorn" else None
    return master, None, worker_exits.merge_exits([], {}), info


def _worker_row(pid, w, slot, prev, now, recent):
    """One worker as the page shows it: /proc's figures, the rates since the last sample, and
    what its stats slot says (None where the site has no stats hooks)."""
    requests = slot["requests"] if slot else None
    cpu, rps = rates(prev, now, pid, w["started"], w["cpu_s"], requests)
    current = None
    if slot and slot["busy"] and slot["cur_start"]:
        current = {"method": slot["cur_method"], "path": slot["cur_path"],
                   "seconds": round(max(0.0, now - slot["cur_start"]), 3)}
    return {
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
        "exiting": any(e["pid"] == pid and (e["time"] or 0) >= w["started"] for e in recent),
    }


def _workers(master, site, stats_dir, prev, now, recent, procs):
    """The live workers, oldest first, each with the exit of the worker it replaced; and
    their latency histograms. ``procs`` gets each worker's figures for the next sample."""
    workers, hists = [], []
    for pid in processes.worker_pids(master["pid"], site):
        w = processes.worker_proc(pid)
        # setproctitle also sets the kernel's 15-character name: "gunicorn: dirty".
        if w is None or w["zombie"] or w["name"].startswith("gunicorn: dirty"):
            continue
        slot = stats_layout.read_slot_file(
            os.path.join(stats_dir, "%d%s" % (pid, stats_layout.SLOT_SUFFIX))) if stats_dir else None
        row = _worker_row(pid, w, slot, prev, now, recent)
        procs[str(pid)] = [w["started"], w["cpu_s"], row["requests"]]
        if slot:
            hists.append(slot["hist"])
        workers.append(row)
    workers.sort(key=lambda w: w["started"])
    for pid, e in worker_exits.match_replacements(workers, recent).items():
        if e is not None:
            next(w for w in workers if w["pid"] == pid)["last_exit"] = {
                "pid": e["pid"], "time": e["time"], "cause": e["cause"]}
    return workers, hists


def _keep_sample(site, record, prev, now, procs, workers, sat):
    dt = now - (prev or {}).get("t", 0)
    if prev is None or dt >= SAMPLE_REFRESH or dt < 0:
        _save_sample(site, sample_path(site, record),
                     {"t": now, "procs": procs, "queue_since": sat["queue_since"],
                      "rss": _remember_rss(prev, workers, now)})
    elif sat["queue_since"] != prev.get("queue_since"):
        # the rates keep their older sample; when the queue filled or emptied is news
        _save_sample(site, sample_path(site, record), dict(prev, queue_since=sat["queue_since"]))


def get_status(site, info=None):
    """The status of ``site`` (the answer of api.get_status), with what starts it at boot."""
    record = records.load(site)  # once per poll: the page asks every few seconds
    out = _get_status(site, record, info)
    out["boot"] = boot_apply.status_of(record) if record is not None else None
    if out["boot"] and out["boot"]["note"]:
        out["hints"].append(out["boot"]["note"])
    return out


def _get_status(site, record, info=None):
    """The status of ``site`` without its boot.

    ``info`` is the site's entry from discover.get_sites(), used for a Gunicorn the plugin
    did not start; it is looked up only when the site has no record.
    """
    now = time.time()
    hints = []
    master, stats_dir, recent, info = _master_of(site, record, info, hints)
    if master is None:
        return _not_running(site, record, recent, hints)

    prev = _load_sample(site, sample_path(site, record))
    worker_exits.explain(recent, stats_dir, prev)
    procs = {str(master["pid"]): [master["started"], master["cpu_s"], None]}
    m_cpu, _ = rates(prev, now, master["pid"], master["started"], master["cpu_s"], None)
    workers, hists = _workers(master, site, stats_dir, prev, now, recent, procs)
    bind = (record or {}).get("bind") or next(iter((info or {}).get("listen") or []), None)
    sat = _saturation(workers, bind, (prev or {}).get("queue_since"), now)
    _keep_sample(site, record, prev, now, procs, workers, sat)

    if record is not None and workers and all(w["requests"] is None for w in workers):
        hints.append(i18n.t("status_no_stats", dir=stats_dir or "-"))
    worker_exits.hints_for(recent, now, hints)
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
        "restart_lossless": restart_by_usr2(record, master["pid"]),
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


