"""A site's history (the ring the stats hooks write every HISTORY_STEP seconds), folded to
a chart's worth of points."""
import time

from . import records, stats_layout


HISTORY_SPANS = (300, 3600, 86400)
HISTORY_POINTS = 360  # a chart's worth: 24 h are folded 24 steps to a point


def _worst(run, key):
    vals = [p[key] for p in run if p[key] is not None]
    return max(vals) if vals else None


def _mean(run, key):
    vals = [p[key] for p in run if p[key] is not None]
    return sum(vals) // len(vals) if vals else None


def fold_history(points, n=HISTORY_POINTS):
    """At most ``n`` points: runs of neighbours summed (requests, exits), averaged (busy,
    RSS sum and per worker) or their worst kept (percentiles, queue, RSS max)."""
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
                    "rss_sum": _mean(run, "rss_sum"),
                    "rss_mean": _mean(run, "rss_mean"),
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
