"""wrk (Debian's) as the benchmarks run it, and the CPU a server's process tree used.

One place for the load generator and its parsing, shared by run.py, status_cost.py and
variants.py. Every target is on 127.0.0.1 and every run is bounded in time.
"""
import os
import re
import shutil
import socket
import subprocess

import psutil

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text.strip())
    return float(m.group(1)) * _UNITS[m.group(2)] if m else None


def parse_wrk(out):
    """req/s, p50 and p99 in ms, non-2xx/3xx responses and socket errors of wrk --latency."""
    rps = re.search(r"Requests/sec:\s*([\d.]+)", out)
    p50 = re.search(r"^\s*50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s*99%\s+(\S+)", out, re.M)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {"rps": float(rps.group(1)) if rps else 0.0,
            "p50": _ms(p50.group(1)) if p50 else None,
            "p99": _ms(p99.group(1)) if p99 else None,
            "non2xx": int(bad.group(1)) if bad else 0,
            "socket_errors": sum(int(x) for x in errs.groups()) if errs else 0}


def ensure_wrk():
    if not shutil.which("wrk"):  # make setup installs it; a bare checkout may not have run it
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True,
                       stdout=subprocess.DEVNULL)
    return shutil.which("wrk")


def wrk(url, seconds, conns, host=None):
    """One bounded wrk run (2 threads) against ``url``; parse_wrk's dict."""
    argv = [ensure_wrk(), "-t2", "-c%d" % conns, "-d%ds" % seconds, "--latency"]
    if host:
        argv += ["-H", "Host: %s" % host]
    out = subprocess.run(argv + [url], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         timeout=seconds + 30, check=True).stdout.decode()
    return parse_wrk(out)


def tree_cpu(pid):
    """user + system CPU seconds of a process and its descendants, living or reaped (a
    master that recycles workers, max-requests, keeps their time as its children's)."""
    try:
        root = psutil.Process(pid)
        procs = [root] + root.children(recursive=True)
    except psutil.Error:
        return 0.0
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.Error:
            pass
    return total


def run_ns(pid):
    """Nanoseconds a process's live threads have run (/proc/<pid>/task/*/schedstat: the
    scheduler's own clock, not the 10 ms ticks of cpu_times)."""
    total = 0
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:  # gone
        return 0
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as fh:
                total += int(fh.read().split()[0])
        except OSError:  # a thread that ended just now
            pass
    return total


_TICK_NS = 1e9 / os.sysconf("SC_CLK_TCK")


def reaped_ns(pid):
    """CPU of a process's children that exited and were reaped (cutime + cstime of
    /proc/<pid>/stat, in clock ticks): a worker recycled by its master (max-requests) takes
    its run time out of the live tree and its master keeps it here."""
    try:
        with open("/proc/%d/stat" % pid) as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0
    return (int(fields[13]) + int(fields[14])) * _TICK_NS  # cutime, cstime (stat(5) 16, 17)


def tree_ns(pid):
    """Run time of a master and every process under it (workers; uWSGI's router): the live
    threads' (run_ns) and the reaped children's (reaped_ns)."""
    try:
        procs = [pid] + [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return 0
    return sum(run_ns(p) + reaped_ns(p) for p in procs)


def get_closed(port, path, host, n):
    """``n`` GETs of ``path`` on 127.0.0.1:port with ``host`` as the Host header, one
    connection each and one at a time (a paired A/B's client: nothing queues)."""
    req = ("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (path, host)).encode()
    for _ in range(n):
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            s.sendall(req)
            while s.recv(65536):
                pass


def paired_round(sides, batches, per, flip=False):
    """One round of a side-by-side A/B: ``sides`` {name: (port, path, host, pid)}, all up at
    once; ``batches`` batches of ``per`` get_closed() requests each, alternating ABBA...
    (``flip``: BA first), so whatever slows the machine in the round slows every side alike.
    Returns {name: µs of the server tree's run time per request}."""
    start = {k: tree_ns(pid) for k, (_port, _path, _host, pid) in sides.items()}
    names = list(sides)[::-1] if flip else list(sides)
    for b in range(batches):
        for k in (names if b % 2 == 0 else names[::-1]):
            port, path, host, _pid = sides[k]
            get_closed(port, path, host, per)
    return {k: (tree_ns(pid) - start[k]) / (batches * per) / 1000.0
            for k, (_port, _path, _host, pid) in sides.items()}


def wrk_with_cpu(url, seconds, conns, pid, host=None):
    """A wrk run plus ``us_per_req``: the server tree's CPU time per request served (steadier
    than req/s on a shared machine). A worker that dies mid-run counts once its master reaps
    it; one still unreaped at the end is missed."""
    c0 = tree_cpu(pid)
    res = wrk(url, seconds, conns, host)
    used = tree_cpu(pid) - c0
    n = res["rps"] * seconds
    res["us_per_req"] = used / n * 1e6 if n else None
    return res


def _smaps(pid):
    """{"rss", "pss"} in bytes of one process, or None when it is gone."""
    try:
        with open("/proc/%d/smaps_rollup" % pid) as fh:
            text = fh.read()
    except OSError:
        return None
    out = {}
    for key in ("rss", "pss"):
        m = re.search(r"^%s:\s+(\d+) kB" % key.capitalize(), text, re.M)
        out[key] = int(m.group(1)) * 1024 if m else 0
    return out


def tree_memory(pid):
    """{"rss", "pss", "processes", "master", "workers"} in bytes of a server's master and its
    descendants that run the same executable (uWSGI's workers and HTTP router, Gunicorn's
    workers), from /proc/<pid>/smaps_rollup: not uWSGI's attached daemons, which run
    elsewhere after the switch. PSS shares the pages the workers inherited from their master
    (copy-on-write) among them, so the tree's PSS is what the site costs the machine, where
    RSS counts those pages in every process."""
    out = {"rss": 0, "pss": 0, "processes": 0, "master": {"rss": 0, "pss": 0},
           "workers": {"rss": 0, "pss": 0}}
    try:
        root = psutil.Process(pid)
        exe = root.exe()
        kids = [c.pid for c in root.children(recursive=True) if _exe(c) == exe]
    except psutil.Error:
        return out
    for p in [pid] + kids:
        m = _smaps(p)
        if m is None:
            continue
        out["processes"] += 1
        part = out["master"] if p == pid else out["workers"]
        for key in ("rss", "pss"):
            out[key] += m[key]
            part[key] += m[key]
    return out


def _exe(proc):
    try:
        return proc.exe()
    except psutil.Error:
        return None
