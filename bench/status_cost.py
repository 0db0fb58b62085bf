"""What the status page costs: get_status CPU time vs one `ps aux`; throughput with the
per-worker stats hooks and the collector thread vs the same gunicorn_conf.py without them
(every run from a fresh master, and what each side's master had is read back); the hooks'
and the collector's own CPU, measured in-process.

    python3 bench/status_cost.py [--quick]

Real Gunicorn (the sandbox venv) serving the sandbox Django project on 127.0.0.1; wrk from
Debian for load (installed with apt-get when missing). Every process started here is stopped
by its PID. The machine is noisy: throughput runs alternate and medians are compared.
"""
import argparse
import logging
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
import types
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "plugin"), str(REPO), str(REPO / "bench")]

import psutil  # noqa: E402

import loadgen  # noqa: E402

from gunicorn_switch_core import stats_layout as L, status  # noqa: E402
from tests.sandbox.gunicorn_site import GunicornSite  # noqa: E402

HOOKS_MARKER = "# Per-worker stats for the gunicorn_switch status page"


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def cpu_of(fn):
    """CPU seconds ``fn()`` used, in this process and in children it waited for."""
    p0, c0 = time.process_time(), children_cpu()
    fn()
    return (time.process_time() - p0) + (children_cpu() - c0)


def ps_aux_cost(runs):
    return statistics.median(
        cpu_of(lambda: subprocess.run(["ps", "aux"], stdout=subprocess.DEVNULL, check=True))
        for _ in range(runs))


def status_cost(tmp, workers, runs):
    """(first call, median polling call) CPU seconds of get_status, and the median of a
    `ps aux` run while the same workers are up."""
    site = GunicornSite(tmp / ("w%d" % workers), site="bench%d.test" % workers,
                        processes=workers)
    site.start()
    try:
        end = time.monotonic() + 120
        while len(site.status()["workers"]) < workers:  # booting 32 Djangos takes a while
            assert time.monotonic() < end, "workers did not boot"
            time.sleep(0.2)
        status._SAMPLES.clear()
        first = cpu_of(lambda: status.get_status(site.site))
        costs = []
        for _ in range(runs):
            time.sleep(0.05)
            costs.append(cpu_of(lambda: status.get_status(site.site)))
        return first, statistics.median(costs), ps_aux_cost(runs)
    finally:
        site.stop()


def _had(site, since):
    """What one side of the A/B really ran, read from its master and files at the end of a run:
    the master's threads (the collector is one), the history records written since ``since``
    (only the collector writes them) and the requests the live workers' latency histograms
    hold (only the per-request hooks count them)."""
    stats = site.runtime / "stats"
    records = L.read_history_file(str(stats), time.time(), time.time() - since + 1)
    counted = 0
    for slot in stats.glob("*" + L.SLOT_SUFFIX):
        try:
            data = slot.read_bytes()
        except OSError:  # a worker that left just now
            continue
        if len(data) >= L.SLOT_SIZE:
            counted += sum(L.read_hist(data, time.time()))
    return {"threads": psutil.Process(site.pid).num_threads(), "history": len(records),
            "counted": counted}


def throughput(tmp, rounds, seconds, conns, workers=2):
    """Alternated wrk runs against one site, each from a fresh master (when_ready, which starts
    the collector thread, runs once per master: a HUP between the two confs would leave the
    first conf's collector running under the other), so that the sides are exactly: "hooks",
    the generated conf (per-request hooks with the latency histograms, and the collector), and
    "no hooks", the same conf without its hooks block (neither). Same port, project and files.
    Returns {kind: [wrk result with us_per_req and ``had``: _had()]}."""
    results = {"hooks": [], "no hooks": []}
    site = GunicornSite(tmp / "tp", site="tp.test", processes=workers)
    text = site.conf.read_text()
    cut = text.index(HOOKS_MARKER)
    texts = {"hooks": text, "no hooks": text[:text.rfind("\n", 0, cut - 1) + 1]}
    site.runtime.mkdir(parents=True, exist_ok=True)  # the pidfile's dir, whichever side is first
    for r in range(rounds):
        # ABBA...: a side is never always first
        order = list(results) if r % 2 == 0 else list(reversed(list(results)))
        for kind in order:
            site.conf.write_text(texts[kind])
            site.start()
            try:
                loadgen.wrk(site.url("/"), 1, conns)  # Django loads lazily in the workers
                since = time.time()
                res = loadgen.wrk_with_cpu(site.url("/"), seconds, conns, site.pid)
                # until the first history step after `since` has closed (and the collector's
                # 1 s tick has seen it), so that a side with a collector shows a record
                step_end = (since // L.HISTORY_STEP + 1) * L.HISTORY_STEP
                time.sleep(max(0.0, step_end + 1.5 - time.time()))
                res["had"] = _had(site, since)
            finally:
                site.stop()
            results[kind].append(res)
            if res["non2xx"] or res["socket_errors"]:
                print("  %s: %d non-2xx, %d socket errors" % (kind, res["non2xx"],
                                                               res["socket_errors"]))
    return results


def had_summary(res):
    """{kind: {"threads", "history", "counted"}}: the fewest master threads and history
    records and requests counted of a side's runs, and the most (as "max_*"): what every run
    of that side had, to print beside its throughput."""
    out = {}
    for kind, runs in res.items():
        hads = [r["had"] for r in runs]
        out[kind] = {k: min(h[k] for h in hads) for k in ("threads", "history", "counted")}
        out[kind].update({"max_" + k: max(h[k] for h in hads)
                          for k in ("threads", "history", "counted")})
    return out


def describe(had):
    """One line of what a side had, from had_summary()."""
    def span(k):
        lo, hi = had[k], had["max_" + k]
        return "%d" % lo if lo == hi else "%d-%d" % (lo, hi)
    return ("master threads %s, history records written %s, requests in the latency "
            "histograms %s" % (span("threads"), span("history"), span("counted")))


def paired_cpu(tmp, rounds, batches, per_batch):
    """The hooks' CPU per request, measured side by side: per round, both sides run at once
    (a fresh master each, one sync worker each, both workers on the same core and this
    client on the other), and the requests alternate between them in batches of
    ``per_batch``, so that whatever slows the shared machine down in a round slows both
    sides alike. A throughput A/B on this machine swings by ±20 % between runs of one side;
    this is steady to a few µs. Returns [{"hooks": µs, "no hooks": µs}] per round: the
    server's run time (master + worker) per request."""
    sides = {}
    for kind in ("hooks", "no hooks"):
        site = GunicornSite(tmp / ("pair-" + kind.replace(" ", "")), site="tp.test", processes=1)
        text = site.conf.read_text()
        if kind == "no hooks":
            cut = text.index(HOOKS_MARKER)
            site.conf.write_text(text[:text.rfind("\n", 0, cut - 1) + 1])
        site.runtime.mkdir(parents=True, exist_ok=True)
        sides[kind] = site
    cores = sorted(os.sched_getaffinity(0))
    mine = set(cores)
    out = []
    for r in range(rounds):
        for site in sides.values():
            site.start()
        try:
            for site in sides.values():
                loadgen.get_closed(site.port, "/", "tp.test", 50)  # Django loads lazily in the worker
                if len(cores) > 1:
                    for c in psutil.Process(site.pid).children():
                        c.cpu_affinity([cores[-1]])
            if len(cores) > 1:
                os.sched_setaffinity(0, set(cores[:-1]))
            out.append(loadgen.paired_round(
                {k: (s.port, "/", "tp.test", s.pid) for k, s in sides.items()},
                batches, per_batch, flip=r % 2 == 1))
        finally:
            os.sched_setaffinity(0, mine)
            for site in sides.values():
                site.stop()
    return out


def paired_summary(rounds):
    """Median of the rounds' on/off ratios, their spread, and the medians of each side."""
    ratios = sorted(x["hooks"] / x["no hooks"] for x in rounds)
    return {"ratio": statistics.median(ratios), "low": ratios[0], "high": ratios[-1],
            "hooks": statistics.median(x["hooks"] for x in rounds),
            "no hooks": statistics.median(x["no hooks"] for x in rounds),
            "extra_us": statistics.median(x["hooks"] - x["no hooks"] for x in rounds)}


def hook_call_cost(tmp, n=100000):
    """Microseconds of one pre_request + post_request pair of the rendered hooks, called in
    this process on a real slot (the part of the cost that is the hooks' own code)."""
    site = GunicornSite(tmp / "calls", site="calls.test", processes=1)
    ns = {}
    exec(compile(site.conf.read_text(), str(site.conf), "exec"), ns)  # nosec B102 our own conf

    class Worker(object):
        pid, age, nr, max_requests, alive, log = os.getpid(), 0, 0, 0, True, None

    class Request(object):
        method, path = "GET", "/some/page/"

    class Response(object):
        status_code = 200

    worker, resp = Worker(), Response()
    ns["post_fork"](worker, worker)
    pre, post = ns["pre_request"], ns["post_request"]

    def one():
        req = Request()
        pre(worker, req)
        post(worker, req, None, resp)
    try:
        return timeit.timeit(one, number=n) / n * 1e6
    finally:
        ns["worker_exit"](worker, worker)


def collector_cost(tmp, n=200, workers=2):
    """Microseconds of CPU the collector thread spends per history step (10 s), measured on
    its own: the rendered conf's collector functions, called in this process against a real
    Gunicorn's workers (their slots and /proc), a TCP and a unix listener of our own (TCP_INFO
    and the sock_diag query), the site's logs: per step, ten 1 s ticks re-reading the live
    settings, one history record (folded slots, listen queue, RSS) and one pass of log rotation
    and of the memory guard (a limit no worker reaches: every RSS is read, none retired)."""
    site = GunicornSite(tmp / "collect", site="collect.test", processes=workers)
    ns = {"__file__": str(site.conf)}
    exec(compile(site.conf.read_text(), str(site.conf), "exec"), ns)  # nosec B102 our own conf
    ns["_HISTORY_PATH"] = str(tmp / "collect-history.ring")  # not the site's ring
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(str(tmp / "collect.sock"))
    for s in (tcp, unix):
        s.listen(16)

    class Server(object):
        LISTENERS = [types.SimpleNamespace(sock=tcp), types.SimpleNamespace(sock=unix)]
        cfg = types.SimpleNamespace(errorlog=str(site.logs / "gunicorn_error.log"),
                                    accesslog=str(site.logs / "gunicorn_access.log"))
        log = logging.getLogger("collector-cost")

    site.start()
    try:
        server = Server()
        server.WORKERS = {c.pid: None for c in psutil.Process(site.pid).children()}
        settings = {name: float(ns[name]) for name in ns["_LIVE_NAMES"]}
        settings["_MEMORY_LIMIT_MB"] = 1 << 20  # a terabyte: read every RSS, retire none
        state, guard, cache, started = {}, {}, {}, time.time()
        fd = ns["_history_open"]()

        def step():
            for _ in range(int(L.HISTORY_STEP)):
                ns["_live_settings"](str(site.conf), cache)
            now = time.time()
            ns["_history_write"](fd, now, ns["_history_values"](server, now, state))
            ns["_rotate_logs"](server, settings, started)
            ns["_memory_guard"](server, settings, guard)
        try:
            p0 = time.process_time()
            for _ in range(n):
                step()
            per_step = (time.process_time() - p0) / n * 1e6
            values = ns["_history_values"](server, time.time(), state)
        finally:
            os.close(fd)
        return {"us_per_step": per_step, "workers": values[6], "queue": values[5],
                "step": L.HISTORY_STEP,
                "core_share": per_step / (L.HISTORY_STEP * 1e6)}
    finally:
        site.stop()
        tcp.close()
        unix.close()


def summary(res):
    """Medians of a throughput() result: {kind: (req/s, us CPU per request)}."""
    return {k: (statistics.median(r["rps"] for r in v),
                statistics.median(r["us_per_req"] for r in v)) for k, v in res.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer runs (a smoke test)")
    args = ap.parse_args()
    runs = 5 if args.quick else 30
    tmp = Path(tempfile.mkdtemp(prefix="gsw-bench-"))
    os.environ["GUNICORN_SWITCH_ROOT"] = str(tmp / "root")
    try:
        print("get_status CPU time per call, median of %d, vs one `ps aux` with the same "
              "workers up (%d processes on the host now)" % (runs, len(psutil.pids())))
        print("%8s %12s %12s %12s %12s" % ("workers", "first ms", "polling ms", "ps aux ms",
                                           "ratio"))
        for n in (1, 8, 32):
            first, steady, ps = status_cost(tmp, n, runs)
            print("%8d %12.2f %12.2f %12.2f %11.2fx" % (n, first * 1000, steady * 1000,
                                                         ps * 1000, steady / ps))
        rounds, seconds = (2, 2) if args.quick else (8, 3)
        res = throughput(tmp, rounds, seconds, 16)
        med, had = summary(res), had_summary(res)
        print("throughput, 2 sync workers, wrk -c16, %d alternated runs of %d s each, every "
              "run from a fresh master:" % (rounds, seconds))
        for k, v in res.items():
            print("  %-9s median %8.1f req/s %6.0f us CPU/request  runs %s" % (
                k, med[k][0], med[k][1], " ".join("%.0f" % x["rps"] for x in v)))
            print("            had: %s" % describe(had[k]))
        on, off = med["hooks"], med["no hooks"]
        print("  hooks / no hooks: throughput %.3f, CPU per request %.3f"
              % (on[0] / off[0], on[1] / off[1]))
        print("  the hooks' own code: %.2f us per request" % hook_call_cost(tmp))
        c = collector_cost(tmp)
        print("  the collector: %.0f us CPU per %d s step (%.4f %% of a core), %d workers"
              % (c["us_per_step"], L.HISTORY_STEP, 100 * c["core_share"], c["workers"]))
    finally:
        shutil.rmtree(str(tmp), ignore_errors=True)


if __name__ == "__main__":
    main()
