"""Every operation the status page offers, each under 50 concurrent connections through the
sandbox's nginx (one connection per request, like the switch rows): the plugin's API drives
the switch and the page's control(); the load counts what failed.

Shared by bench/run.py (section 5) and tests/e2e/test_ops_under_load.py. Loads are bounded in
requests and seconds, on 127.0.0.1; the confs changed for the storm and the timeout are put
back byte for byte, and the sites rolled back, by the caller's finally.
"""
import threading
import time
from pathlib import Path

from gunicorn_switch_core import api, control, processes, records
from tests.sandbox.load import Load

CONNS = 50
LOAD_PATHS = ["/", "/db/", "/static/css/app.css"]
PAGE_OPS = ("reload", "add_worker", "remove_worker", "restart")
STORM_MAX_REQUESTS = 100  # on this busy 2-core machine (a few hundred req/s) a worker recycles every second or two
TIMEOUT = 2               # Gunicorn's worker timeout for the kill row, in seconds


def call(method, **args):
    res = api.call(method, {k: str(v) for k, v in args.items()})
    if not res["status"]:
        raise RuntimeError("%s(%s): %s" % (method, args, res["msg"]))
    return res["data"]


def run_task(method, site, wait=300, **opts):
    """Start a switch/rollback with the plan's ``opts`` (workers, timeout, ...) and wait for it
    at most ``wait`` seconds: (task view, seconds from the call to done)."""
    t0 = time.monotonic()
    if method == "switch":
        opts.setdefault("plan_and_apply", 1)  # plan and apply in one call, as the CLI's --yes
    task_id = call(method, site=site, **opts)["task_id"]
    end = t0 + wait
    while time.monotonic() < end:
        task = call("get_task", task_id=task_id)
        if task["state"] not in ("pending", "running"):
            took = time.monotonic() - t0
            if task["state"] != "succeeded":
                raise RuntimeError("%s of %s: %s %s" % (method, site, task["state"], task["error"]))
            return task, took
        time.sleep(0.05)
    raise RuntimeError("%s of %s did not finish in %d s" % (method, site, wait))


def serves(sb, site, want=200):
    try:
        return sb.get(site, "/", timeout=2)[0] == want
    except OSError:
        return False


def wait_serving(sb, site, timeout=60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if serves(sb, site):
            return True
        time.sleep(0.02)
    return False


def under_load(sb, site, action):
    """Run ``action`` under CONNS concurrent clients through nginx; the window closes 0.5 s
    after the site answers through nginx again. Returns (action's result, load result)."""
    load = Load(sb.nginx_port, sb.sites[site].domain, paths=LOAD_PATHS, concurrency=CONNS,
                max_seconds=300).start()
    time.sleep(0.5)
    t0 = time.monotonic()
    try:
        out = action()
        wait_serving(sb, site)
    finally:
        time.sleep(0.5)
        res = load.stop()
    res["window"] = time.monotonic() - t0 + 0.5
    return out, res


def _master_pid(site):
    rec = records.load(site)
    m = processes.gunicorn_master(processes.read_pidfile(rec["pidfile"]), processes.record_uids(rec))
    return m["pid"] if m else None


def _with_conf(site, extra):
    """The site's conf with ``extra`` appended (a later assignment wins in a Python conf),
    then a HUP so that the master reads it. Returns the original bytes."""
    conf = Path(records.load(site)["gunicorn_conf"])
    saved = conf.read_bytes()
    conf.write_bytes(saved + ("\n# bench: %s\n%s\n" % (extra.split()[0], extra)).encode())
    control.control(site, "reload")
    return saved


def _restore_conf(site, saved):
    Path(records.load(site)["gunicorn_conf"]).write_bytes(saved)
    control.control(site, "reload")


def _watch_workers(site, seconds):
    """Every worker pid seen while ``seconds`` pass: more than the count means recycling."""
    seen = set()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pid = _master_pid(site)
        if pid:
            seen.update(processes.worker_pids(pid, site))
        time.sleep(0.1)
    return seen


def storm(sb, site, seconds):
    """max_requests small enough that every worker recycles every few seconds."""
    saved = _with_conf(site, "max_requests = %d\nmax_requests_jitter = %d"
                       % (STORM_MAX_REQUESTS, STORM_MAX_REQUESTS // 4))
    try:
        before = set(processes.worker_pids(_master_pid(site), site))
        seen, res = under_load(sb, site, lambda: _watch_workers(site, seconds))
    finally:
        _restore_conf(site, saved)
    res["op"] = {"recycled": len(seen - before), "done": len(seen - before) > 0}
    return res


def _slow_request(sb, site, seconds, out):
    try:
        out["status"] = sb.get(site, "/slow/?s=%d" % seconds, timeout=seconds + 30)[0]
    except OSError as e:
        out["status"] = type(e).__name__


def timeout_kill(sb, site):
    """One request that sleeps past ``timeout`` beside the load: a sync worker is killed by
    its master (the slow request itself gets an error, as it does with uWSGI's harakiri); the
    load's requests must not be. A gthread worker's timeout watches its main loop, which a
    request in a thread does not block: there nothing is killed, and the row says so."""
    saved = _with_conf(site, "timeout = %d" % TIMEOUT)
    slow = {}
    try:
        before = set(processes.worker_pids(_master_pid(site), site))

        def action():
            t = threading.Thread(target=_slow_request, args=(sb, site, TIMEOUT * 3, slow))
            t.start()
            t.join(TIMEOUT * 3 + 40)
            # the aborted worker answers its request (500) before it exits and is reaped
            end = time.monotonic() + 10
            while time.monotonic() < end:
                now = set(processes.worker_pids(_master_pid(site), site))
                if before - now:
                    break
                time.sleep(0.1)
            return now

        after, res = under_load(sb, site, action)
    finally:
        _restore_conf(site, saved)
    res["op"] = {"killed": len(before - after), "slow_request": slow.get("status"),
                 "done": True}
    return res


def operations(sb, site, storm_seconds=4):
    """{op: load result with res["op"] the page's answer} for every operation, in order."""
    out = {}
    for op in PAGE_OPS:
        answer, res = under_load(sb, site, lambda op=op: control.control(site, op))
        res["op"] = answer
        out[op] = res
    out["max_requests storm"] = storm(sb, site, storm_seconds)
    out["timeout kill"] = timeout_kill(sb, site)
    return out
