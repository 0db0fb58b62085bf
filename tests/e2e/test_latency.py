"""Latency percentiles from the histograms in the stats slots, against a real Gunicorn.

The load generator times every request itself; the percentiles get_status computes from the
hooks' histograms must agree with those within 10 % (the issue's tolerance). The views sleep
a known time, so the distribution has two clear modes and p50/p95 land in different ones.
"""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "plugin"), str(ROOT)]

from tests.sandbox.gunicorn_site import wait_status  # noqa: E402
from tests.sandbox.load import Load  # noqa: E402

# Real Gunicorns under load, seconds of waiting each: `make test` runs them.
pytestmark = pytest.mark.slow


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q / 100.0))]


def test_p50_p95_from_the_histograms_match_the_load_generator(make_site):
    # sync workers accept only when free: a request waits in the kernel's queue, seen by
    # both sides, never in a worker's own queue that only the client would see (gthread)
    site = make_site(processes=3, threads=1)
    wait_status(site, lambda s: s["totals"]["requests"] == 1, "the start-up request")
    # 4 of 5 requests sleep 0.1 s, one 0.3 s; 3 clients for 3 slots: nothing queues.
    paths = ["/slow/?s=0.1"] * 4 + ["/slow/?s=0.3"]
    load = Load(site.port, "127.0.0.1", paths=paths, concurrency=3, max_seconds=30,
                max_requests=150).start()
    for t in load.threads:
        t.join(40)
    res = load.stop()
    assert res["failed"] == 0 and res["total"] == 150, res
    # Clients that were mid-request when the count was reached finish theirs too.
    sent = 1 + len(load.latencies)
    st = wait_status(site, lambda s: (s["totals"]["latency"] or {}).get("count") == sent,
                     "%d requests in the histograms" % sent)
    lat = st["totals"]["latency"]
    for q in (50, 95):
        measured = pct(load.latencies, q) * 1000.0
        assert abs(lat["p%d" % q] - measured) <= 0.10 * measured, (q, lat, measured)
    assert lat["p99"] >= lat["p95"] >= lat["p50"]
    per = [w["latency"] for w in st["workers"]]
    assert sum(p["count"] for p in per) == sent
    assert all(w["capacity"] == 1 for w in st["workers"])
    for p in per:
        if p["count"] > 20:
            assert 90 <= p["p50"] <= 330 and 270 <= p["p95"] <= 330, p
