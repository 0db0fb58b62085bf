"""Cause of death, with the evidence, against a real Gunicorn: a worker killed for timeout
leaves the request it was serving and its threads' stacks (worker_abort), and a worker the
memory guard retires says so with its RSS."""
import re
import sys
import threading
import urllib.error
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "plugin"), str(ROOT)]

from gunicorn_switch_core import log_rotation, stats_layout  # noqa: E402
from tests.sandbox.gunicorn_site import get, set_live, wait_status  # noqa: E402
from tests.sandbox.load import Load  # noqa: E402


def _cut_short(url):
    """A request the server kills: its error is the expected outcome, not a failure."""
    try:
        return get(url)
    except (OSError, urllib.error.URLError) as e:
        return e


@pytest.mark.slow  # a real Gunicorn and seconds of waiting: `make test` runs it
def test_a_timed_out_request_leaves_its_path_and_the_stack_of_the_view(make_site):
    site = make_site(harakiri=2, threads=1)
    t = threading.Thread(target=_cut_short, args=(site.url("/slow/?s=8"),))
    t.start()
    try:
        busy = wait_status(site, lambda s: any(w["busy"] for w in s["workers"]), "the slow one")
        victim = [w["pid"] for w in busy["workers"] if w["busy"]][0]
        st = wait_status(site, lambda s: any(e["pid"] == victim and e.get("stacks")
                                             for e in s["recent_exits"]),
                         "the timeout exit of %d with its stacks" % victim)
    finally:
        t.join(30)
    ex = next(e for e in st["recent_exits"] if e["pid"] == victim)
    assert ex["cause"] == "timeout"
    assert ex["request"]["method"] == "GET" and ex["request"]["path"] == "/slow/"
    assert 1.5 <= ex["request"]["elapsed"] <= 8, ex["request"]
    main = [s for s in ex["stacks"] if s["thread"] == "MainThread"]
    assert len(main) == 1
    # the view's own frame, in the project's urls.py, sleeping
    assert 'hello/urls.py", line' in main[0]["stack"] and "in slow" in main[0]["stack"]
    assert "time.sleep" in main[0]["stack"]
    assert "_abort_record" not in main[0]["stack"]
    total = sum(len(s["stack"]) + len(s["thread"]) for s in ex["stacks"])
    assert total <= stats_layout.ABORT_MAX
    abort = site.runtime / "stats" / ("%d%s" % (victim, stats_layout.ABORT_SUFFIX))
    assert abort.stat().st_size <= stats_layout.ABORT_MAX
    assert oct(abort.stat().st_mode & 0o777) == "0o600"


def test_a_memory_guard_retirement_says_so_with_the_rss(make_site):
    # reload-on-rss = 1 MB: every worker is over it after its first checked request
    site = make_site(processes=1, extra_ini="reload-on-rss = 1\n")
    first = wait_status(site, lambda s: any(e["cause"] == "reload_on_rss"
                                            for e in s["recent_exits"]),
                        "a worker retired by reload-on-rss")
    ex = next(e for e in first["recent_exits"] if e["cause"] == "reload_on_rss")
    assert ex["rss"] and ex["rss"] > 1 << 20
    assert "rss_seen" not in ex  # measured by the worker as it left, not sampled before


@pytest.mark.slow  # a real Gunicorn and seconds of waiting: `make test` runs it
def test_the_memory_guard_retires_workers_one_at_a_time_without_a_failed_request(make_site):
    site = make_site(processes=2, threads=2)
    set_live(site.conf, _COLLECT_EVERY=0.5)  # the guard looks twice a second, not every 10 s
    load = Load(site.port, "127.0.0.1", paths=["/"], concurrency=4, max_seconds=30,
                max_requests=100000).start()
    try:
        # 1 MB: every worker is over it, each replacement too: the guard keeps retiring them
        got = log_rotation.put(site.site, {"memory_limit_mb": 1})
        assert got["memory_limit_mb"] == 1
        st = wait_status(site, lambda s: sum(e["cause"] == "memory"
                                             for e in s["recent_exits"]) >= 3,
                         "three workers retired by the memory guard", deadline=25)
    finally:
        log_rotation.put(site.site, {"memory_limit_mb": 0})
        res = load.stop()
    assert res["failed"] == 0 and res["total"] > 0, res
    mem = [e for e in st["recent_exits"] if e["cause"] == "memory"]
    assert all(e["rss"] and e["rss"] > 1 << 20 for e in mem), mem
    # one at a time: each was asked only after the one before had left
    text = (site.logs / "gunicorn_error.log").read_text()
    asked = [int(p) for p in re.findall(r"worker (\d+) RSS \d+ MB > memory limit", text)]
    assert len(asked) == len(set(asked)) >= 3
    assert len(st["workers"]) <= 3
