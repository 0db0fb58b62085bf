"""What the status page costs: get_status CPU time vs one `ps aux`, and throughput with the
per-worker stats hooks vs the same gunicorn_conf.py without them.

    python3 bench/status_cost.py [--quick]

Real Gunicorn (the sandbox venv) serving the sandbox Django project on 127.0.0.1; wrk from
Debian for load (installed with apt-get when missing). Every process started here is stopped
by its PID. The machine is noisy: throughput runs alternate and medians are compared.
"""
import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "plugin"), str(REPO)]

import psutil  # noqa: E402

from gunicorn_switch_core import status  # noqa: E402
from tests.e2e.test_status import GunicornSite  # noqa: E402

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


def ensure_wrk():
    if shutil.which("wrk"):
        return shutil.which("wrk")
    subprocess.run(["apt-get", "install", "-y", "wrk"], check=True,
                   stdout=subprocess.DEVNULL)
    return shutil.which("wrk")


def wrk_rps(wrk, url, seconds, conns):
    out = subprocess.run([wrk, "-t2", "-c%d" % conns, "-d%ds" % seconds, url],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=seconds + 30,
                         check=True).stdout.decode()
    m = re.search(r"Requests/sec:\s*([\d.]+)", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: (.*)", out)
    return float(m.group(1)), int(bad.group(1)) if bad else 0, errs.group(1) if errs else ""


def throughput(tmp, rounds, seconds, conns):
    wrk = ensure_wrk()
    results = {"hooks": [], "no hooks": []}
    sites = {}
    try:
        for kind in results:
            site = GunicornSite(tmp / kind.replace(" ", "_"), site="tp-%s.test" % kind[:2],
                                processes=2)
            if kind == "no hooks":
                text = site.conf.read_text()
                cut = text.index(HOOKS_MARKER)
                site.conf.write_text(text[:text.rfind("\n", 0, cut - 1) + 1])
                site.runtime.mkdir(parents=True)  # the hooks' _prepare_dirs made it
            sites[kind] = site
            site.start()
        for r in range(rounds):
            order = list(results) if r % 2 == 0 else list(reversed(list(results)))
            for kind in order:
                rps, bad, errs = wrk_rps(wrk, sites[kind].url("/"), seconds, conns)
                results[kind].append(rps)
                if bad or errs:
                    print("  %s: %d non-2xx, socket errors %s" % (kind, bad, errs))
        hooked = status.get_status(sites["hooks"].site)
        counted = hooked["totals"]["requests"]
    finally:
        for s in sites.values():
            s.stop()
    return results, counted


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
        rounds, seconds = (2, 2) if args.quick else (4, 4)
        res, counted = throughput(tmp, rounds, seconds, 16)
        med = {k: statistics.median(v) for k, v in res.items()}
        print("throughput, 2 sync workers, wrk -c16, %d alternated runs of %d s each:"
              % (rounds, seconds))
        for k, v in res.items():
            print("  %-9s median %8.1f req/s  runs %s" % (k, med[k],
                                                        " ".join("%.0f" % x for x in v)))
        print("  hooks / no hooks = %.3f   (requests counted by the hooks: %s)"
              % (med["hooks"] / med["no hooks"], counted))
    finally:
        shutil.rmtree(str(tmp), ignore_errors=True)


if __name__ == "__main__":
    main()
