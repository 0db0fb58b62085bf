"""Which part of the generated conf's hooks block costs CPU per request (issue 17).

    python3 bench/hooks_bisect.py [--rounds 8] [--only full,none,...]

bench/status_cost.py compares the whole block on and off; this takes it apart. Every variant
is the generated gunicorn_conf.py with some of its hooks renamed out of Gunicorn's sight
("_off_<name>"), run from a fresh master (when_ready runs once per master), alternated round
after round on the same port and files; it prints req/s and the server's CPU per request
(master and workers) of a wrk run against the hello-world view, medians per variant.
Needs a quiet machine: the differences it looks for are tens of µs a request. Not a test.
"""
import argparse
import os
import re
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "plugin"), str(REPO), str(REPO / "bench")]

import loadgen  # noqa: E402
import status_cost  # noqa: E402

from tests.sandbox.gunicorn_site import GunicornSite  # noqa: E402

HOOKS = ("pre_request", "post_request", "post_fork", "when_ready", "worker_abort",
         "worker_exit", "child_exit")
# variant -> the hooks it takes out ("none": the block itself is cut, as status_cost's "off")
VARIANTS = {
    "full": (),
    "none": None,
    "no_req_hooks": ("pre_request", "post_request"),
    "no_post_fork": ("post_fork",),
    "no_when_ready": ("when_ready",),
    "no_exit_hooks": ("worker_abort", "worker_exit", "child_exit"),
    "block_no_hooks": HOOKS,  # the block's imports and definitions, not one hook of it
}


def variant_text(text, off):
    if off is None:
        cut = text.index(status_cost.HOOKS_MARKER)
        return text[:text.rfind("\n", 0, cut - 1) + 1]
    for name in off:
        text = re.sub(r"^def %s\(" % name, "def _off_%s(" % name, text, flags=re.M)
    return text


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--only", default=",".join(VARIANTS))
    args = ap.parse_args(argv)
    names = [n for n in args.only.split(",") if n in VARIANTS]
    tmp = Path(tempfile.mkdtemp(prefix="gsw-bisect-"))
    os.environ["GUNICORN_SWITCH_ROOT"] = str(tmp / "root")
    site = GunicornSite(tmp / "tp", site="tp.test", processes=2)
    text = site.conf.read_text()
    texts = {n: variant_text(text, VARIANTS[n]) for n in names}
    site.runtime.mkdir(parents=True, exist_ok=True)
    res = {n: [] for n in names}
    print("load average before: %s" % " ".join("%.2f" % x for x in os.getloadavg()))
    for r in range(args.rounds):
        for name in names if r % 2 == 0 else list(reversed(names)):
            site.conf.write_text(texts[name])
            site.start()
            try:
                loadgen.wrk(site.url("/"), 1, 16)  # Django loads lazily in the workers
                run = loadgen.wrk_with_cpu(site.url("/"), args.seconds, 16, site.pid)
            finally:
                site.stop()
            res[name].append(run)
            print("round %d %-15s %6.0f req/s %5.0f µs/req" % (r, name, run["rps"],
                                                                run["us_per_req"]), flush=True)
    print("| variant | req/s | µs CPU per request |\n|---|---:|---:|")
    for name, runs in res.items():
        print("| %s | %.0f | %.0f |" % (name, statistics.median(x["rps"] for x in runs),
                                        statistics.median(x["us_per_req"] for x in runs)))


if __name__ == "__main__":
    main()
