"""What the status page costs: get_status CPU time vs one `ps aux`, and throughput with the
per-worker stats hooks vs the same gunicorn_conf.py without them.

    python3 bench/status_cost.py [--quick]

Real Gunicorn (the sandbox venv) serving the sandbox Django project on 127.0.0.1; wrk from
Debian for load (installed with apt-get when missing). Every process started here is stopped
by its PID. The machine is noisy: throughput runs alternate and medians are compared.
"""
import argparse
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "plugin"), str(REPO), str(REPO / "bench")]

import psutil  # noqa: E402

import loadgen  # noqa: E402

from gunicorn_switch_core import status  # noqa: E402
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


def _reload_with(site, text, workers):
    """Give the running master another conf and HUP it; back once only new workers serve."""
    before = {c.pid for c in psutil.Process(site.pid).children()}
    site.conf.write_text(text)
    os.kill(site.pid, signal.SIGHUP)
    end = time.monotonic() + 60
    while True:
        now = {c.pid for c in psutil.Process(site.pid).children()}
        if len(now) == workers and not now & before:
            return
        assert time.monotonic() < end, "the reload did not replace the workers"
        time.sleep(0.1)


def throughput(tmp, rounds, seconds, conns, workers=2):
    """Alternated wrk runs against one site whose conf is switched between the generated one
    and the same without the hooks (HUP in between: same master, port and files, so nothing
    but the hooks differs). Returns ({kind: [wrk result with us_per_req]}, requests the
    hooks counted in the last run, which is a hooks run)."""
    results = {"hooks": [], "no hooks": []}
    site = GunicornSite(tmp / "tp", site="tp.test", processes=workers)
    text = site.conf.read_text()
    cut = text.index(HOOKS_MARKER)
    texts = {"hooks": text, "no hooks": text[:text.rfind("\n", 0, cut - 1) + 1]}
    site.start()
    try:
        for r in range(rounds):
            # ABBA...: ends on "hooks" when rounds is even
            order = list(results) if r % 2 == 0 else list(reversed(list(results)))
            for kind in order:
                _reload_with(site, texts[kind], workers)
                loadgen.wrk(site.url("/"), 1, conns)  # Django loads lazily in new workers
                res = loadgen.wrk_with_cpu(site.url("/"), seconds, conns, site.pid)
                results[kind].append(res)
                if res["non2xx"] or res["socket_errors"]:
                    print("  %s: %d non-2xx, %d socket errors" % (kind, res["non2xx"],
                                                                   res["socket_errors"]))
        counted = site.status()["totals"]["requests"]
    finally:
        site.stop()
    return results, counted


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
        res, counted = throughput(tmp, rounds, seconds, 16)
        med = summary(res)
        print("throughput, 2 sync workers, wrk -c16, %d alternated runs of %d s each:"
              % (rounds, seconds))
        for k, v in res.items():
            print("  %-9s median %8.1f req/s %6.0f us CPU/request  runs %s" % (
                k, med[k][0], med[k][1], " ".join("%.0f" % x["rps"] for x in v)))
        on, off = med["hooks"], med["no hooks"]
        print("  hooks / no hooks: throughput %.3f, CPU per request %.3f  (requests the hooks "
              "counted in the last run, warm-up included: %s)"
              % (on[0] / off[0], on[1] / off[1], counted))
        print("  the hooks' own code: %.2f us per request" % hook_call_cost(tmp))
    finally:
        shutil.rmtree(str(tmp), ignore_errors=True)


if __name__ == "__main__":
    main()
