"""`make bench` in its tiny mode: every piece runs once, briefly, on the session's sandbox, and
the table comes out with all its rows. Benchmarks are not tests: no timing is checked here."""
import importlib.util
import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_run", REPO / "bench" / "run.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_bench_quick_produces_every_row(sandbox, tmp_path):
    bench = load_bench()
    out = tmp_path / "results.md"
    r, text = bench.main(["--quick", "--out", str(out)], sandbox=sandbox)
    assert out.read_text() == text + "\n"
    for heading in ("## 1. Failed requests", "## 2. Confirm to done", "## 3. Throughput",
                    "## 4. Status page costs", "## 5. Every operation", "## 6. Baota's default uWSGI shape",
                    "## 7. Memory"):
        assert heading in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    for label in ("gunicorn_switch: switch", "naive cut-over: switch", "gunicorn_switch: rollback",
                  "naive cut-over: rollback", "confirm → done", "confirm → serving on Gunicorn", "the switch task itself", "Gunicorn alone",
                  "generated conf, after warm-up", "generated conf, after 1000 requests",
                  "with preload_app, after warm-up", "with preload_app, after 1000 requests",
                  "stats hooks on / off: throughput",
                  "stats hooks on / off: server CPU per request, same runs",
                  "stats hooks on / off: server CPU per request, paired",
                  "paired rounds, median of the rounds' ratios",
                  "the hooks' own code", "the collector thread's CPU per"):
        assert sum(label in row for row in rows) == 1, label
    assert len([row for row in rows if row.startswith("| get_status CPU")]) == 3
    # the hooks A/B is honest: every "on" run had the histograms and the collector, no "off"
    # run had either (each run is a fresh master: a HUP would keep the first conf's collector)
    runs = r["status"]["hooks"]["runs"]
    assert all(x["had"]["history"] >= 1 and x["had"]["counted"] > 0 for x in runs["hooks"]), runs
    assert all(x["had"]["history"] == 0 and x["had"]["counted"] == 0
               for x in runs["no hooks"]), runs
    assert (min(x["had"]["threads"] for x in runs["hooks"]) ==
            max(x["had"]["threads"] for x in runs["no hooks"]) + 1), runs  # the collector
    assert "- on: the generated gunicorn_conf.py" in text and "- off: the same file" in text
    # the paired rounds measured both sides, each from its own fresh master
    paired = r["status"]["hooks"]["paired_runs"]
    assert len(paired) == 2 and all(x["hooks"] > 0 and x["no hooks"] > 0 for x in paired), paired
    page = r["paired_page"]
    assert len(page) == 2 and all(x["uwsgi"] > 0 and x["gunicorn"] > 0 for x in page), page
    # the settings tried on the page beside the generated conf: each measured, its memory too
    tried = r["paired_variants"]
    assert list(tried) == [name for name, _words in bench.PAGE_VARIANTS], tried
    for name, runs in tried.items():
        assert len(runs) == 1 and all(x["uwsgi"] > 0 and x["gunicorn"] > 0 and
                                      x["uwsgi_pss"] > 0 and x["gunicorn_pss"] > 0
                                      for x in runs), (name, runs)
        assert len([row for row in rows if row.startswith("| tried: ") and
                    "`%s`" % bench.one_line(bench.VARIANTS[name][0]) in row]) == 1, name
    # the four views, on shop.test (section 3) and on the panel project's http= shape (6)
    for view in ("fast view `/`", "sqlite view `/db/`", "slow I/O view `/slow/?s=0.05`",
                 "realistic page `/page/`"):
        assert len([row for row in rows if row.startswith("| %s |" % view)]) == 2, view
    for kind in ("uwsgi", "gunicorn", "gunicorn_preload"):
        mem = r["memory"][kind]
        # the master and its 2 workers; not uWSGI's attached daemon (another executable)
        assert mem["warm"]["pss"] > 0 and mem["after"]["processes"] == 3, mem
        assert mem["after"]["master"]["pss"] > 0 and mem["after"]["workers"]["pss"] > 0, mem
        assert mem["load"]["total"] == 1000 and mem["load"]["failed"] == 0, mem["load"]
    for kind in ("uwsgi", "gunicorn"):
        shape = r["http_shape"][kind]
        # quick mode's runs last a second: on a loaded machine the realistic page may finish
        # none in it (a speed, not a fault); nothing may answer with an error
        for name, runs in shape.items():
            assert runs and all(not x["non2xx"] for x in runs), (kind, name, runs)
        assert any(x["rps"] > 0 for runs in shape.values() for x in runs), (kind, shape)
    for op in ("reload", "add_worker", "remove_worker", "restart", "max_requests storm",
               "timeout kill", "restart under supervisor"):
        assert len([row for row in rows if row.startswith("| %s |" % op)]) == 1, op
    # the operations the page offers lose nothing, for both worker classes
    for kind in ("gthread", "sync"):
        for op, res in r["ops"][kind].items():
            assert res["total"] > 0 and res["failed"] == 0, (kind, op, res)
    # Supervisor's restart goes through the keeper (keeper.py): Gunicorn's re-exec, lossless
    sup = r["ops"]["manager"]
    assert sup["manager"] == "supervisor" and sup["restart"]["op"]["method"] == "USR2", sup
    assert sup["restart"]["total"] > 0 and sup["restart"]["failed"] == 0, sup
    # every data row has numbers, not placeholders, where the pieces ran
    assert all(re.search(r"\d", row) for row in rows if not row.startswith("| what")
               and not row.startswith(("| view", "| procedure", "| operation", "| when")))
    # the bench leaves the sandbox as it found it: the site on uWSGI, answering
    assert sandbox.get("shop.test", "/")[0] == 200
    assert json.loads(sandbox.get("shop.test", "/whoami/")[1])["server"] == ""
    assert r["cutover"]["switch"]["total"] > 0 and r["cutover"]["naive_switch"]["total"] > 0
