"""The history ring's records as read back and folded for a chart: RSS per worker beside the
sum and the largest, -1 markers as None, runs of neighbours folded by their kind."""
import struct

from gunicorn_switch_core import history, stats_layout as L

MB = 1 << 20


def ring(records):
    data = bytearray(L.HISTORY_BYTES)
    for rec in records:
        i = int(rec["t"] // L.HISTORY_STEP) % L.HISTORY_SLOTS
        struct.pack_into(L.HISTORY_FORMAT, data, i * L.HISTORY_SIZE,
                         *[rec[name] for name in L.HISTORY_FIELDS])
    return bytes(data)


def rec(t, workers, rss_sum, rss_max, requests=10, p=-1.0, queue=-1, exits=0):
    return {"t": float(t), "requests": requests, "p50": p, "p95": p, "p99": p,
            "busy_ratio": 0.5, "queue": queue, "workers": workers, "exits": exits,
            "rss_sum": rss_sum, "rss_max": rss_max}


def test_read_back_gives_rss_per_worker_and_none_for_unknowns():
    now = 1000000.0
    pts = L.read_history(ring([rec(now - 20, 4, 400 * MB, 130 * MB),
                               rec(now - 10, 0, 0, 0)]), now, 300)
    assert [p["t"] for p in pts] == [now - 20, now - 10]
    assert pts[0]["rss_mean"] == 100 * MB and pts[0]["rss_max"] == 130 * MB
    assert pts[1]["rss_mean"] is None  # no worker in that step: nothing to divide
    assert pts[0]["p95"] is None and pts[0]["queue"] is None


def test_fold_keeps_the_worst_averages_the_rest_and_sums_counts():
    now = 1000000.0
    recs = [rec(now - 10 * i, 2, (200 + 20 * (i % 2)) * MB, (100 + i) * MB, requests=i,
                p=float(i), queue=i % 3, exits=1)
            for i in range(1, 25)]
    pts = L.read_history(ring(recs), now, 300)
    folded = history.fold_history(pts, n=6)
    assert len(folded) == 6
    first = folded[0]  # the four oldest steps: i = 24, 23, 22, 21
    assert first["requests"] == 24 + 23 + 22 + 21 and first["exits"] == 4
    assert first["p99"] == 24.0 and first["rss_max"] == 124 * MB and first["queue"] == 2
    assert first["rss_sum"] == 210 * MB and first["rss_mean"] == 105 * MB
    assert history.fold_history(pts[:5], n=6) == pts[:5]
