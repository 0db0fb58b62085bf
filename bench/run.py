"""`make bench`: the switch under load against a naive cut-over, confirm-to-done time, uWSGI vs
the generated Gunicorn config through nginx, and the status page's costs, in one run.

    python3 bench/run.py [--quick] [--out bench/results.md]

Builds a fresh sandbox (tests/sandbox: real nginx, real uWSGI, real Django), drives the plugin
through its API (gunicorn_switch_core.api.call), prints a markdown table and writes it to
bench/results.md. Every load is bounded and on 127.0.0.1; everything started here is stopped by
its PID. Benchmarks are not tests: nothing here asserts a timing. The machine is noisy, so the
uWSGI and Gunicorn runs alternate (uwsgi, gunicorn, uwsgi, gunicorn, ...) and medians are shown.

What each section measures:
1. Failed requests under 50 concurrent connections (one connection per request, the sandbox's
   load generator) while the plugin switches shop.test and rolls it back, and while a naive
   cut-over does the same with the same generated gunicorn_conf.py and nginx files: stop uWSGI,
   rewrite nginx, start Gunicorn, reload nginx (and back: stop Gunicorn, restore nginx, start
   uWSGI, reload). Each window ends 0.5 s after the site answers through nginx again.
2. Confirm-to-done time of the plugin's switch with Gunicorn already in the venv, against the
   time the same Gunicorn needs on its own from exec to its first healthy answer.
3. req/s and p50/p99 latency (wrk -c50 through nginx) of the same site on uWSGI and on the
   Gunicorn config the plugin generated, for a fast view, a sqlite view and a sleeping view.
4. bench/status_cost.py: the stats hooks' throughput cost (each side from a fresh master: "on"
   is the hooks with their histograms and the collector thread, "off" neither; the table says
   what each side's master really had), the collector's CPU per history step, and get_status
   CPU vs `ps aux`.
5. Failed requests under the same load during every operation of the status page (reload,
   add/remove a worker, restart), a max_requests recycle storm and a worker killed by its
   timeout, for gthread and sync (tests/sandbox/ops_load.py, shared with the e2e test).
"""
import argparse
import contextlib
import http.client
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for _p in (str(REPO / "bench"), str(REPO), str(REPO / "plugin")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import loadgen  # noqa: E402
from conf_variants import PAGE_VARIANTS, VARIANTS, one_line  # noqa: E402
from gunicorn_switch_core import records  # noqa: E402
import psutil  # noqa: E402

from tests.sandbox import ops_load  # noqa: E402
from tests.sandbox.host import Sandbox  # noqa: E402

SITE = "shop.test"  # 2 processes x 2 threads, uwsgi_pass over TCP: the notes' measured shape
VIEWS = (("fast view", "/"), ("sqlite view", "/db/"), ("slow I/O view", "/slow/?s=0.05"),
         ("realistic page", "/page/"))  # a template that extends a base, 50 ORM rows
HTTP_SITE = "api"  # the panel's Python project: uWSGI in its default `http=` mode, proxy_pass
CONNS = ops_load.CONNS
ROOT_ENV = "GUNICORN_SWITCH_ROOT"


def log(msg):
    print("bench: " + msg, flush=True)


# ---- the plugin, through its API (tests/sandbox/ops_load: shared with the e2e tests) -----

call, run_task = ops_load.call, ops_load.run_task
serves, wait_serving, under_load = ops_load.serves, ops_load.wait_serving, ops_load.under_load


def first_plan(site, timeout=30.0):
    """The plan, once discovery sees the freshly started uWSGI (a loaded machine is slow)."""
    end = time.monotonic() + timeout
    while True:
        try:
            return call("plan", site=site)
        except RuntimeError:
            if time.monotonic() > end:
                raise
            time.sleep(1)


def step_times(task):
    return {s["name"]: round((s["finished"] or 0) - (s["started"] or 0), 2)
            for s in task["steps"] if s.get("started")}


# ---- the naive cut-over ---------------------------------------------------------------------

def _wait_gone(pid, timeout=30.0):
    try:
        psutil.Process(pid).wait(timeout)
    except psutil.NoSuchProcess:
        pass


def _gunicorn_env(plan):
    return {"PATH": os.path.join(plan["venv"], "bin") + ":/usr/sbin:/usr/bin:/sbin:/bin",
            "VIRTUAL_ENV": plan["venv"], "LANG": "C.UTF-8", "HOME": "/root"}


def _spawn_gunicorn(plan, conf, out):
    return subprocess.Popen([os.path.join(plan["venv"], "bin", "gunicorn"), "-c", conf],
                            cwd=plan["project_path"], env=_gunicorn_env(plan),
                            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)


def _prepare_logs(plan):
    import pwd
    pw = pwd.getpwnam(plan["user"])
    os.makedirs(plan["log_dir"], exist_ok=True)
    os.chown(plan["log_dir"], pw.pw_uid, pw.pw_gid)


def _stop_gunicorn(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def reload_nginx(sb):
    sb.run([str(sb.p("/etc/init.d/nginx")), "reload"])


class Naive(object):
    """What the panel's own uWSGI -> Gunicorn switch does, with the plugin's generated files:
    stop uWSGI, rewrite nginx, start Gunicorn, reload nginx. And back again."""

    def __init__(self, sb, site, plan, tmp):
        self.sb, self.site, self.plan, self.tmp = sb, site, plan, tmp
        self.saved = {p: Path(p).read_bytes() for p in plan["nginx_files"]}
        self.proc = None
        self.switched = False  # uWSGI stopped and not brought back yet

    def switch(self):
        p = self.plan
        self.switched = True
        os.kill(p["uwsgi_pid"], signal.SIGINT)
        _wait_gone(p["uwsgi_pid"])
        for path, text in p["nginx_files"].items():
            Path(path).write_text(text, encoding="utf-8", errors="surrogateescape")
        Path(p["gunicorn_conf_path"]).write_text(p["gunicorn_conf"])
        _prepare_logs(p)
        with open(self.tmp / "naive-gunicorn.out", "ab") as out:
            self.proc = _spawn_gunicorn(p, p["gunicorn_conf_path"], out)
        reload_nginx(self.sb)

    def rollback(self):
        if self.proc is not None:
            _stop_gunicorn(self.proc)
            self.proc = None
        for path, data in self.saved.items():
            Path(path).write_bytes(data)
        self.sb.start_uwsgi(self.sb.sites[self.site])
        reload_nginx(self.sb)
        self.switched = False

    def cleanup(self):
        """Whatever stopped the naive runs half way, the site is left on uWSGI as it was: the
        tests that share the sandbox after the bench's smoke run need it."""
        if self.switched:
            self.rollback()
        elif self.proc is not None:
            _stop_gunicorn(self.proc)
            self.proc = None
        with contextlib.suppress(OSError):
            os.unlink(self.plan["gunicorn_conf_path"])


# ---- Gunicorn on its own ----------------------------------------------------------------------

def _answers(bind, host_header):
    hostpart, port = bind.rsplit(":", 1)
    c = http.client.HTTPConnection(hostpart, int(port), timeout=2)
    try:
        c.request("GET", "/", headers={"Host": host_header})
        return c.getresponse().status
    except OSError:
        return None
    finally:
        c.close()


def gunicorn_boot(plan, tmp):
    """Seconds from exec of `gunicorn -c <the generated conf>` to its first healthy answer on its
    own bind (the same conf the plugin writes, started the way its daemon manager starts it)."""
    conf = tmp / "boot_gunicorn_conf.py"
    conf.write_text(plan["gunicorn_conf"])
    _prepare_logs(plan)
    with open(tmp / "boot-gunicorn.out", "ab") as out:
        t0 = time.monotonic()
        proc = _spawn_gunicorn(plan, str(conf), out)
        try:
            while _answers(plan["bind"], plan["domain"]) != plan["baseline_status"]:
                if proc.poll() is not None or time.monotonic() - t0 > 60:
                    raise RuntimeError("gunicorn did not come up: see %s" % out.name)
                time.sleep(0.01)
            return time.monotonic() - t0
        finally:
            _stop_gunicorn(proc)


# ---- throughput ---------------------------------------------------------------------------------

def server_pid(site):
    """The master serving ``site`` now (uWSGI or Gunicorn), as discovery sees it."""
    return next(s["pid"] for s in call("get_sites") if s["site"] == site)


def warm(sb, site):
    """A second of each view but the sleeping one: Django and the views load lazily."""
    url = "http://127.0.0.1:%d" % sb.nginx_port
    for _name, path in VIEWS:
        if not path.startswith("/slow/"):
            loadgen.wrk(url + path, 1, 8, host=sb.sites[site].domain)


def measure_views(sb, site, seconds, pid=None):
    """wrk through nginx on each view, with the CPU per request of the master ``pid`` and its
    workers (by default the master discovery says serves the site)."""
    host = sb.sites[site].domain
    url = "http://127.0.0.1:%d" % sb.nginx_port
    warm(sb, site)
    pid = pid or server_pid(site)
    return {name: loadgen.wrk_with_cpu(url + path, seconds, CONNS, pid, host=host)
            for name, path in VIEWS}


def paired_page(sb, site, tmp, rounds, batches, per, path="/page/", extra=""):
    """Server CPU per request of the site's uWSGI and of a Gunicorn on the plan's bind from
    the generated conf (plus ``extra`` lines: a variant), both up at once: requests alternate
    between them in batches of ``per`` (uWSGI through nginx, as it is reached; Gunicorn on its
    bind, as nginx reaches it after the switch; one connection per request, one at a time),
    and each server's process tree's run time is read from the scheduler. Whatever slows the
    shared machine down in a round slows both alike, where wrk runs minutes apart swing by
    ±20 %. Returns [{"uwsgi": µs, "gunicorn": µs, "uwsgi_pss": B, "gunicorn_pss": B}] per
    round (a fresh Gunicorn each round; PSS of each server tree at the round's end)."""
    plan = first_plan(site)
    conf = tmp / "paired_gunicorn_conf.py"
    conf.write_text(plan["gunicorn_conf"] + ("\n# bench variant\n" + extra if extra else ""))
    _prepare_logs(plan)
    host = sb.sites[site].domain
    port = int(plan["bind"].rsplit(":", 1)[1])
    out = []
    for r in range(rounds):
        uwsgi = server_pid(site)
        with open(str(tmp / "paired-gunicorn.out"), "ab") as log_:
            proc = _spawn_gunicorn(plan, str(conf), log_)
        try:
            end = time.monotonic() + 60
            while _answers(plan["bind"], host) != plan["baseline_status"]:
                if proc.poll() is not None or time.monotonic() > end:
                    raise RuntimeError("gunicorn did not come up: see %s" % log_.name)
                time.sleep(0.05)
            sides = {"uwsgi": (sb.nginx_port, path, host, uwsgi),
                     "gunicorn": (port, path, host, proc.pid)}
            for p_, _path, _host, _pid in sides.values():
                loadgen.get_closed(p_, path, host, 20)  # the page's code loads lazily
            out.append(loadgen.paired_round(sides, batches, per, flip=r % 2 == 1))
            out[-1].update(uwsgi_pss=loadgen.tree_memory(uwsgi)["pss"],
                           gunicorn_pss=loadgen.tree_memory(proc.pid)["pss"])
            log("paired %s%s, round %d: uWSGI %.0f µs, Gunicorn %.0f µs CPU per request"
                % (path, " (%s)" % one_line(extra) if extra else "", r,
                   out[-1]["uwsgi"], out[-1]["gunicorn"]))
        finally:
            _stop_gunicorn(proc)
    return out


def server_of(sb, site):
    return json.loads(sb.get(site, "/whoami/")[1])["server"] or "uWSGI"


# ---- Baota's default shape, and memory -----------------------------------------------------------

def http_shape_section(sb, quick, site=HTTP_SITE):
    """The four views on the panel project's `http=` uWSGI and on the Gunicorn the plugin
    switches it to, alternated like section 3."""
    rounds, seconds = (1, 1) if quick else (3, 5)
    first_plan(site)
    out = {"rounds": rounds, "seconds": seconds, "uwsgi": {n: [] for n, _ in VIEWS},
           "gunicorn": {n: [] for n, _ in VIEWS}}
    for _ in range(rounds):
        for kind in ("uwsgi", "gunicorn"):
            if kind == "gunicorn":
                run_task("switch", site)
            try:
                for name, v in measure_views(sb, site, seconds).items():
                    out[kind][name].append(v)
            finally:
                if kind == "gunicorn":
                    run_task("rollback", site)
        log("%s: %s" % (site, "  ".join("%s %.0f / %.0f req/s" % (
            n, out["uwsgi"][n][-1]["rps"], out["gunicorn"][n][-1]["rps"]) for n, _ in VIEWS)))
    return out


def _requests(sb, site, n):
    """Exactly ``n`` requests through nginx (the load's mix), bounded in time."""
    load = ops_load.Load(sb.nginx_port, sb.sites[site].domain, paths=ops_load.LOAD_PATHS + ["/page/"],
                         concurrency=CONNS, max_seconds=600, max_requests=n).start()
    for th in load.threads:
        th.join(660)
    return load.stop()


def memory_section(sb, quick, site=SITE):
    """The server tree's RSS and PSS after warm-up and after ``n`` more requests, uWSGI
    then the generated Gunicorn (same workers and threads)."""
    n = 1000 if quick else 10000
    out = {"requests": n}

    def measure(kind):
        pid = server_pid(site)
        warm(sb, site)
        before = loadgen.tree_memory(pid)
        res = _requests(sb, site, n)
        out[kind] = {"warm": before, "after": loadgen.tree_memory(pid), "load": res}
        log("memory %s: PSS %.1f -> %.1f MiB" % (kind, out[kind]["warm"]["pss"] / 2.0 ** 20,
                                                 out[kind]["after"]["pss"] / 2.0 ** 20))

    measure("uwsgi")
    run_task("switch", site)
    try:
        measure("gunicorn")
        # the same conf with preload_app: the app imported once in the master, its pages
        # shared by the workers (as uWSGI does without lazy-apps); a restart (the USR2
        # upgrade) reads the conf afresh
        conf = records.load(site)["gunicorn_conf"]
        text = Path(conf).read_text()
        Path(conf).write_text(text + "\npreload_app = True  # bench: memory variant\n")
        try:
            ops_load.control.control(site, "restart")
            measure("gunicorn_preload")
        finally:
            Path(conf).write_text(text)
    finally:
        run_task("rollback", site)
    return out


# ---- every operation of the page under load (tests/sandbox/ops_load) ---------------------------

OPS_RUNS = (("gthread", {"manager": "daemon", "worker_class": "gthread"}),
            ("sync", {"manager": "daemon", "worker_class": "sync", "threads": 1}))


def ops_section(sb, quick, site=SITE):
    """Each worker class under the daemon manager (restart by USR2), then a restart under the
    sandbox's default manager, Supervisor (through the keeper, keeper.py: USR2 as well; a
    program of an older release, Gunicorn run directly, is still stop-then-start)."""
    out = {}
    for kind, opts in OPS_RUNS:
        run_task("switch", site, **opts)
        try:
            out[kind] = ops_load.operations(sb, site, storm_seconds=3 if quick else 10)
        finally:
            run_task("rollback", site)
        log("operations, %s: %s" % (kind, ", ".join("%s %d/%d" % (op, v["failed"], v["total"])
                                                       for op, v in out[kind].items())))
    run_task("switch", site)
    try:
        manager = ops_load.records.load(site)["manager"]
        answer, res = under_load(sb, site, lambda: ops_load.control.control(site, "restart"))
        res["op"] = answer
        out["manager"] = {"manager": manager, "restart": res}
    finally:
        run_task("rollback", site)
    return out


# ---- status page costs (bench/status_cost.py) -----------------------------------------------------

@contextlib.contextmanager
def own_root(tmp):
    """status_cost's sites keep their records under their own prefix, not the sandbox's."""
    saved = os.environ.get(ROOT_ENV)
    os.environ[ROOT_ENV] = str(tmp / "root")
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(ROOT_ENV, None)
        else:
            os.environ[ROOT_ENV] = saved


def status_section(tmp, quick):
    import status_cost
    runs = 5 if quick else 30
    counts = (1, 2, 4) if quick else (1, 8, 32)
    out = {"runs": runs, "status": []}
    with own_root(tmp):
        for n in counts:
            first, steady, ps = status_cost.status_cost(tmp, n, runs)
            out["status"].append({"workers": n, "first": first, "steady": steady, "ps": ps})
        rounds, seconds = (2, 1) if quick else (8, 3)
        res = status_cost.throughput(tmp, rounds, seconds, 16)
        batches, per = (6, 10) if quick else (30, 50)
        paired = status_cost.paired_cpu(tmp, 2 if quick else 12, batches, per)
        calls = status_cost.hook_call_cost(tmp, 20000 if quick else 100000)
        collector = status_cost.collector_cost(tmp, 50 if quick else 200)
    out["hooks"] = {"rounds": rounds, "seconds": seconds, "runs": res,
                    "had": {k: status_cost.describe(v)
                            for k, v in status_cost.had_summary(res).items()},
                    "median": status_cost.summary(res),
                    "paired": status_cost.paired_summary(paired), "paired_runs": paired,
                    "paired_n": batches * per,
                    "call_us": calls, "collector": collector}
    return out


# ---- the report --------------------------------------------------------------------------------------

def _f(x, fmt="%.1f"):
    return "-" if x is None else fmt % x


def _ratio(a, b):
    return "-" if not a or not b else "%.2fx" % (a / b)


def _paired_page_row(what, runs):
    ratios = sorted(x["gunicorn"] / x["uwsgi"] for x in runs)
    pss = [x["gunicorn_pss"] / x["uwsgi_pss"] for x in runs if x["uwsgi_pss"]]
    return ("| %s | %.3fx | %s | Gunicorn %.0f µs vs uWSGI %.0f µs (medians); rounds "
            "%.3f–%.3f; PSS MiB %.1f vs %.1f |" % (
                what, statistics.median(ratios),
                "%.2fx" % statistics.median(pss) if pss else "n/a",
                statistics.median(x["gunicorn"] for x in runs),
                statistics.median(x["uwsgi"] for x in runs), ratios[0], ratios[-1],
                statistics.median(x["gunicorn_pss"] for x in runs) / 2.0 ** 20,
                statistics.median(x["uwsgi_pss"] for x in runs) / 2.0 ** 20))


def render(r):
    L = []
    add = L.append
    add("# gunicorn_switch benchmark (`make bench`)")
    add("")
    add("%s; %d CPUs; load average before the run %s; %s mode; %.0f s in all. Site `%s` "
        "(uWSGI %s), Gunicorn config generated by the plugin. Ratios first, raw numbers beside."
        % (r["when"], r["cpus"], r["loadavg"], "quick" if r["quick"] else "full", r["elapsed"],
           SITE, r["uwsgi_shape"]))
    add("")
    add("## 1. Failed requests during the cut-over (%d concurrent connections through nginx, "
        "one connection per request)" % CONNS)
    add("")
    add("| procedure | failed | failed / total | window |")
    add("|---|---:|---:|---:|")
    for key, label in (("switch", "gunicorn_switch: switch"), ("naive_switch", "naive cut-over: switch"),
                       ("rollback", "gunicorn_switch: rollback"),
                       ("naive_rollback", "naive cut-over: rollback")):
        c = r["cutover"][key]
        add("| %s | %.2f%% | %d / %d | %.1f s |" % (label, 100.0 * c["failed"] / max(c["total"], 1),
                                                   c["failed"], c["total"], c["window"]))
    add("")
    for key in ("switch", "naive_switch", "rollback", "naive_rollback"):
        c = r["cutover"][key]
        if c["failed"]:
            add("- %s: failures by kind %s" % (key, json.dumps(dict(c["errors"], **{
                str(k): v for k, v in c["statuses"].items() if int(k) >= 500}))))
    add("- the plugin's first switch also installed Gunicorn into the venv (pip, from the "
        "sandbox's wheelhouse) inside its window.")
    add("")
    add("## 2. Confirm to done, Gunicorn already installed")
    add("")
    t = r["timing"]
    add("| what | ratio | seconds (median of %d) | runs |" % len(t["switch"]))
    add("|---|---:|---:|---|")
    sw, boot = statistics.median(t["switch"]), statistics.median(t["boot"])
    add("| gunicorn_switch switch: confirm → done | %s | %.2f | %s |"
        % (_ratio(sw, boot), sw, " ".join("%.2f" % x for x in t["switch"])))
    sv = statistics.median(t["serving"])
    add("| gunicorn_switch switch: confirm → serving on Gunicorn (the page says so) | %s | %.2f | %s |"
        % (_ratio(sv, boot), sv, " ".join("%.2f" % x for x in t["serving"])))
    tk = statistics.median(t["task"])
    add("| of which the switch task itself (created → finished) | %s | %.2f | %s |"
        % (_ratio(tk, boot), tk, " ".join("%.2f" % x for x in t["task"])))
    add("| Gunicorn alone: exec → first healthy answer | 1.00x | %.2f | %s |"
        % (boot, " ".join("%.2f" % x for x in t["boot"])))
    add("")
    add("Confirm is the page's: the plan was made and shown before (not timed), and the clock "
        "starts at the `switch` call with its plan_id (the site looked up, the plan's inputs "
        "re-read and checked unchanged, the task started); done is when get_task says "
        "succeeded, serving is get_task's serving_since (nginx sends the site to Gunicorn; the "
        "page says so while uWSGI's drained exit finishes).")
    add("Where the switch's time goes (seconds per step, last run): %s."
        % ", ".join("%s %.2f" % kv for kv in t["steps"].items()))
    add("")
    add("## 3. Throughput through nginx: uWSGI vs the generated Gunicorn config")
    add("")
    tp = r["throughput"]
    add("wrk -t2 -c%d, %d s per run, %d alternated rounds (uWSGI, Gunicorn, uWSGI, ...), medians. "
        "Same app, %s; nginx reaches Gunicorn through %s." % (
            CONNS, tp["seconds"], tp["rounds"], tp["workers"],
            "an upstream with keepalive (HTTP/1.1)" if r.get("nginx_upstream")
            else "a new connection per request"))
    add("")
    add(VIEW_HEAD)
    _view_rows(tp, add)
    bad = [(k, n) for k in ("uwsgi", "gunicorn") for n, _ in VIEWS
           if any(x["non2xx"] or x["socket_errors"] for x in tp[k][n])]
    if bad:
        add("")
        add("Runs with non-2xx responses or socket errors: %s." % ", ".join("%s %s" % b for b in bad))
    add("")
    pp = r.get("paired_page")
    if pp:
        add("The realistic page side by side (`paired_page`): uWSGI and a Gunicorn from the "
            "generated conf up at once, requests alternating between them in batches, one "
            "connection per request and one at a time, each server's CPU read from the "
            "scheduler: a round's noise hits both alike. Throughput of a busy server is its "
            "cores over this.")
        add("")
        add("| what: the realistic page, server CPU per request | Gunicorn ÷ uWSGI | PSS "
            "Gunicorn ÷ uWSGI | raw |")
        add("|---|---:|---:|---|")
        add(_paired_page_row("generated conf: %d paired rounds, median of the rounds' ratios"
                             % len(pp), pp))
        words = dict(PAGE_VARIANTS)
        for name, runs in r.get("paired_variants", {}).items():
            add(_paired_page_row("tried: %s (`%s`): %d paired rounds" % (
                words[name], one_line(VARIANTS[name][0]), len(runs)), runs))
        add("")
        add("PSS is each server tree's at the end of a round (medians); the variants' rounds "
            "come after the generated conf's, each beside the same uWSGI.")
        add("")
    add("## 4. Status page costs (bench/status_cost.py)")
    add("")
    s = r["status"]
    h = s["hooks"]
    add("| what | ratio | raw |")
    add("|---|---:|---|")
    on, off = h["median"]["hooks"], h["median"]["no hooks"]
    add("| stats hooks on / off: throughput, 2 sync workers, wrk -c16 direct, %d alternated "
        "runs of %d s, each from a fresh master | %s | %.0f vs %.0f req/s (runs: on %s; off %s) |"
        % (h["rounds"], h["seconds"], _ratio(on[0], off[0]), on[0], off[0],
           " ".join("%.0f" % x["rps"] for x in h["runs"]["hooks"]),
           " ".join("%.0f" % x["rps"] for x in h["runs"]["no hooks"])))
    add("| stats hooks on / off: server CPU per request, same runs | %s | %.0f vs %.0f µs |"
        % (_ratio(on[1], off[1]), on[1], off[1]))
    p = h["paired"]
    add("| stats hooks on / off: server CPU per request, paired (both sides up at once, one "
        "sync worker each on one core, requests alternating in batches; %d rounds of %d "
        "requests a side) | %.3fx | %.0f vs %.0f µs, +%.0f µs; rounds %.3f–%.3f |"
        % (len(h["paired_runs"]), h["paired_n"], p["ratio"],
           p["hooks"], p["no hooks"], p["extra_us"], p["low"], p["high"]))
    add("| the hooks' own code per request (pre_request + post_request, called in-process) "
        "| %s | %.2f µs vs %.0f µs of server CPU per request |"
        % (_ratio(h["call_us"], off[1]), h["call_us"], off[1]))
    c = h["collector"]
    add("| the collector thread's CPU per %d s history step (%d workers, a TCP and a unix "
        "listener, log rotation and memory guard passes; called in-process) | %.4f %% of a "
        "core | %.0f µs |" % (c["step"], c["workers"], 100 * c["core_share"], c["us_per_step"]))
    for row in s["status"]:
        add("| get_status CPU, %d worker%s, vs one `ps aux` (median of %d) | %s | %.2f ms "
            "polling (first call %.2f ms) vs %.2f ms |" % (
                row["workers"], "s" if row["workers"] > 1 else "", s["runs"],
                _ratio(row["steady"], row["ps"]), row["steady"] * 1000, row["first"] * 1000,
                row["ps"] * 1000))
    add("")
    add("What each side of the hooks A/B had, read from its master and files after every run "
        "(so that \"on\" is the whole cost and \"off\" none of it):")
    add("")
    add("- on: the generated gunicorn_conf.py: per-request hooks with latency histograms, the "
        "collector thread (started by when_ready) -- %s." % h["had"]["hooks"])
    add("- off: the same file without its hooks block: no hooks, no when_ready, no collector "
        "-- %s." % h["had"]["no hooks"])
    add("")
    if r.get("ops"):
        render_ops(r["ops"], add)
    if r.get("http_shape"):
        render_http_shape(r["http_shape"], add)
    if r.get("memory"):
        render_memory(r["memory"], add)
    return "\n".join(L)


def _view_rows(tp, add):
    """The throughput table's rows: medians of alternated runs, ratios first."""
    for name, path in VIEWS:
        u, g = tp["uwsgi"][name], tp["gunicorn"][name]
        med = {k: {m: statistics.median([x[m] or 0 for x in v])
                   for m in ("rps", "p50", "p99", "us_per_req")}
               for k, v in (("u", u), ("g", g))}
        add("| %s `%s` | %s | %.0f | %.0f | %.0f / %.0f | %s / %s | %s / %s | %s; %s |" % (
            name, path, _ratio(med["g"]["rps"], med["u"]["rps"]), med["u"]["rps"], med["g"]["rps"],
            med["u"]["us_per_req"], med["g"]["us_per_req"],
            _f(med["u"]["p50"]), _f(med["g"]["p50"]), _f(med["u"]["p99"]), _f(med["g"]["p99"]),
            " ".join("%.0f" % x["rps"] for x in u), " ".join("%.0f" % x["rps"] for x in g)))


VIEW_HEAD = ("| view | Gunicorn / uWSGI req/s | uWSGI req/s | Gunicorn req/s | server CPU µs per "
             "request uWSGI / Gunicorn | p50 ms uWSGI / Gunicorn | p99 ms uWSGI / Gunicorn "
             "| req/s per run uWSGI; Gunicorn |\n|---|---:|---:|---:|---:|---:|---:|---|")


def render_http_shape(hs, add):
    add("## 6. Baota's default uWSGI shape: the panel's Python project (`%s`), uWSGI `http=` "
        "behind proxy_pass" % HTTP_SITE)
    add("")
    add("wrk -t2 -c%d through nginx, %d s per run, %d alternated round(s), medians. uWSGI's CPU "
        "includes its HTTP router process (a child of its master)." % (CONNS, hs["seconds"], hs["rounds"]))
    add("")
    add(VIEW_HEAD)
    _view_rows(hs, add)
    add("")


def render_memory(mem, add):
    add("## 7. Memory of the whole server tree (master and workers), `/proc/<pid>/smaps_rollup`")
    add("")
    add("%s, same workers and threads; after warm-up (a second of wrk on each view), then "
        "after %d more requests through nginx." % (SITE, mem["requests"]))
    add("")
    add("| when | PSS Gunicorn / uWSGI | RSS Gunicorn / uWSGI | PSS MiB uWSGI / Gunicorn | "
        "RSS MiB uWSGI / Gunicorn | processes uWSGI / Gunicorn |")
    add("|---|---:|---:|---:|---:|---:|")
    mib = 2.0 ** 20
    for gk, gname in (("gunicorn", "generated conf"), ("gunicorn_preload", "with preload_app")):
        for when, label in (("warm", "after warm-up"),
                            ("after", "after %d requests" % mem["requests"])):
            u, g = mem["uwsgi"][when], mem[gk][when]
            add("| %s, %s | %s | %s | %.1f / %.1f | %.1f / %.1f | %d / %d |" % (
                gname, label, _ratio(g["pss"], u["pss"]), _ratio(g["rss"], u["rss"]),
                u["pss"] / mib, g["pss"] / mib, u["rss"] / mib, g["rss"] / mib,
                u["processes"], g["processes"]))
    add("")
    add("Where it goes, after the counted load (PSS MiB, master / all workers): uWSGI %s; "
        "Gunicorn %s; Gunicorn with preload_app %s." % tuple(
            "%.1f / %.1f" % (mem[k]["after"]["master"]["pss"] / mib,
                             mem[k]["after"]["workers"]["pss"] / mib)
            for k in ("uwsgi", "gunicorn", "gunicorn_preload")))
    add("")
    add("uWSGI imports the app in its master and forks the workers from it (no `lazy-apps`), "
        "so the workers share the app's pages; the generated Gunicorn conf leaves "
        "`preload_app` off, so its master is a bare Python with Gunicorn and every worker "
        "imports the app itself. `preload_app = True` shares those pages as uWSGI does, but "
        "then a reload (HUP, the page's 平滑重载) restarts the workers from the master's "
        "already-imported code: new code needs a restart (the USR2 upgrade) instead, where "
        "uWSGI's reload re-executes the master. The plugin keeps it off so that reload keeps "
        "meaning \"load my new code\". Measured here, after the counted load, turning it on "
        "changes the tree's PSS by %+.1f MiB (its master keeps the app; what the workers "
        "share depends on how much of it they touch again)." % (
            (mem["gunicorn_preload"]["after"]["pss"] - mem["gunicorn"]["after"]["pss"]) / mib))
    add("")
    add("Failed requests during the counted load: %s." % ", ".join(
        "%s %d / %d" % (name, mem[k]["load"]["failed"], mem[k]["load"]["total"])
        for k, name in (("uwsgi", "uWSGI"), ("gunicorn", "Gunicorn"),
                        ("gunicorn_preload", "Gunicorn with preload_app"))))
    add("")


def _op_note(op, res):
    o = res.get("op") or {}
    if op == "restart":
        return "%s, master %s → %s" % (o.get("method") or "stop, then start through the manager",
                                        o.get("master_before"), o.get("master_after"))
    if op == "max_requests storm":
        return "max_requests %d: %d workers recycled" % (ops_load.STORM_MAX_REQUESTS, o["recycled"])
    if op == "timeout kill":
        return "timeout %d s, a %d s request: %d worker(s) killed, that request got %s" % (
            ops_load.TIMEOUT, ops_load.TIMEOUT * 3, o["killed"], o["slow_request"])
    return "done" if o.get("done") else "not seen done in %.0f s" % ops_load.control.WAIT


def _failed_cell(res):
    kinds = dict(res["errors"], **{str(k): v for k, v in res["statuses"].items() if int(k) >= 500})
    return "%d / %d%s" % (res["failed"], res["total"], (" %s" % json.dumps(kinds)) if kinds else "")


def render_ops(ops, add):
    add("## 5. Every operation of the status page under load (%d concurrent connections "
        "through nginx, one connection per request)" % CONNS)
    add("")
    add("shop.test switched by the plugin with manager=daemon (restart is Gunicorn's USR2 "
        "upgrade there), 2 workers; sync with threads = 1. Each window ends 0.5 s after the "
        "operation has returned and the site answers.")
    add("")
    add("| operation | failed gthread | failed sync | failed / total gthread | failed / total "
        "sync | what happened (gthread; sync) |")
    add("|---|---:|---:|---:|---:|---|")
    for op in ops["gthread"]:
        g, s = ops["gthread"][op], ops["sync"][op]
        add("| %s | %.2f%% | %.2f%% | %s | %s | %s; %s |" % (
            op, 100.0 * g["failed"] / max(g["total"], 1), 100.0 * s["failed"] / max(s["total"], 1),
            _failed_cell(g), _failed_cell(s), _op_note(op, g), _op_note(op, s)))
    m = ops["manager"]
    res = m["restart"]
    add("| restart under %s | %.2f%% | - | %s | - | the default manager, generated conf "
        "(Supervisor runs the keeper, keeper.py): %s |" % (
        m["manager"], 100.0 * res["failed"] / max(res["total"], 1), _failed_cell(res),
        _op_note("restart", res)))
    add("")
    add("The timeout row's slow request is the one the timeout is there to kill; the failed "
        "column counts the load's requests only. A gthread worker's timeout watches its main "
        "loop, which a request in a thread does not block, so nothing is killed there.")
    add("")


# ---- the run ---------------------------------------------------------------------------------------

def confirm_switch(site):
    """The page's switch: the plan shown first (once discovery sees the uWSGI a rollback just
    brought back), then confirmed by its id (the timed part)."""
    return run_task("switch", site, plan_id=first_plan(site)["plan_id"])


def record_timing(r, task, took):
    t = r["timing"]
    t["switch"].append(took)
    # get_task's serving_since is the commit point (nginx sends the site to Gunicorn): the
    # page shows it while uWSGI's exit finishes; wall clock, so measured back from the end
    t["serving"].append(took - (task["finished"] - task["serving_since"]))
    t["task"].append(task["finished"] - task["created"])
    t["steps"] = step_times(task)


def bench_sandbox(sb, tmp, quick, site=SITE):
    rounds = 1 if quick else 3
    seconds = 1 if quick else 5
    r = {"cutover": {}, "timing": {"switch": [], "serving": [], "task": [], "boot": []},
         "throughput": {"rounds": rounds, "seconds": seconds, "uwsgi": {}, "gunicorn": {}}}
    for k in ("uwsgi", "gunicorn"):
        r["throughput"][k] = {name: [] for name, _ in VIEWS}

    def record(kind, res):
        for name, v in res.items():
            r["throughput"][kind][name].append(v)
        log("%-8s %s" % (kind, "  ".join("%s %.0f req/s" % (n, v["rps"]) for n, v in res.items())))

    plan = first_plan(site)
    s = plan["settings"]
    r["nginx_upstream"] = "keepalive" in "".join(plan["nginx_files"].values())
    r["throughput"]["workers"] = "%s workers, worker_class %s%s" % (
        s.get("workers"), s.get("worker_class"),
        (", %s threads" % s["threads"]) if s.get("threads") else "")
    for i in range(rounds):
        assert server_of(sb, site) == "uWSGI"
        record("uwsgi", measure_views(sb, site, seconds))
        if i == 0:
            log("switch under load (installs Gunicorn)...")
            task, res = under_load(sb, site, lambda: run_task("switch", site))
            r["cutover"]["switch"] = res
            log("switch: %d failed of %d" % (res["failed"], res["total"]))
        else:
            task, took = confirm_switch(site)
            record_timing(r, task, took)
            log("switch, confirm to done: %.2f s (task %.2f s)" % (took, r["timing"]["task"][-1]))
        assert server_of(sb, site).startswith("gunicorn/")
        record("gunicorn", measure_views(sb, site, seconds))
        if i == 0:
            log("rollback under load...")
            _task, res = under_load(sb, site, lambda: run_task("rollback", site))
            r["cutover"]["rollback"] = res
            log("rollback: %d failed of %d" % (res["failed"], res["total"]))
        else:
            run_task("rollback", site)
    if not r["timing"]["switch"]:  # quick mode: one quiet switch for the timing
        task, took = confirm_switch(site)
        record_timing(r, task, took)
        run_task("rollback", site)

    # before the runs below start Gunicorn as root by hand on the site's files
    log("the realistic page, uWSGI and Gunicorn side by side...")
    batches, per = (4, 5) if quick else (20, 20)
    r["paired_page"] = paired_page(sb, site, tmp, 2 if quick else 10, batches, per)
    r["paired_variants"] = {name: paired_page(sb, site, tmp, 1 if quick else 4, batches, per,
                                              extra=VARIANTS[name][0])
                            for name, _words in PAGE_VARIANTS}
    log("every page operation under load...")
    r["ops"] = ops_section(sb, quick, site)
    log("Baota's default shape (%s) on the four views..." % HTTP_SITE)
    r["http_shape"] = http_shape_section(sb, quick)
    log("memory...")
    r["memory"] = memory_section(sb, quick, site)
    plan = call("plan", site=site)  # uWSGI serves again: its pid changed
    for _ in range(1 if quick else 3):
        r["timing"]["boot"].append(gunicorn_boot(plan, tmp))
        log("gunicorn alone, exec to healthy: %.2f s" % r["timing"]["boot"][-1])

    naive = Naive(sb, site, call("plan", site=site), tmp)
    try:
        log("naive cut-over under load...")
        _, r["cutover"]["naive_switch"] = under_load(sb, site, naive.switch)
        log("naive switch: %d failed of %d" % (r["cutover"]["naive_switch"]["failed"],
                                              r["cutover"]["naive_switch"]["total"]))
        _, r["cutover"]["naive_rollback"] = under_load(sb, site, naive.rollback)
        log("naive rollback: %d failed of %d" % (r["cutover"]["naive_rollback"]["failed"],
                                                r["cutover"]["naive_rollback"]["total"]))
    finally:
        naive.cleanup()
    wait_serving(sb, site)
    return r


def main(argv=None, sandbox=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one short round of everything "
                    "(the smoke test): seconds of load instead of minutes")
    ap.add_argument("--out", default=str(REPO / "bench" / "results.md"))
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    head = {"when": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(),
            "loadavg": " ".join("%.2f" % x for x in os.getloadavg()), "quick": args.quick,
            "python": platform.python_version()}
    tmp = Path(tempfile.mkdtemp(prefix="gsw-bench-"))
    own = sandbox is None
    sb, saved = sandbox, None
    try:
        if own:
            log("building the sandbox (the first build fills the wheel cache: a minute or two)...")
            sb = Sandbox().build().start()
            saved = sb.activate()
        r = bench_sandbox(sb, tmp, args.quick)
        r["uwsgi_shape"] = "daemonized `uwsgi --ini`, uwsgi_pass over TCP"
        if own:
            sb.deactivate(saved)
            sb.destroy()
            sb = None
        log("status page costs (bench/status_cost.py)...")
        r["status"] = status_section(tmp, args.quick)
    finally:
        if own and sb is not None:
            sb.deactivate(saved)
            sb.destroy()
        shutil.rmtree(str(tmp), ignore_errors=True)
    r.update(head)
    r["elapsed"] = time.monotonic() - t0
    text = render(r)
    print(text)
    Path(args.out).write_text(text + "\n")
    log("wrote %s (%.0f s)" % (args.out, r["elapsed"]))
    return r, text


if __name__ == "__main__":
    main()
