"""Find the uWSGI and Gunicorn masters running on this host, read-only (psutil reads /proc).

Reading must never change a live site (docs/ARCHITECTURE.md, facts: uwsgi --get): nothing here runs the
site's uWSGI, sends a signal or touches a pidfile.
"""
import os
import pwd
import socket
import time

import psutil

from . import addresses, host, records

# How long a stopped master may take to exit before it is reported as still running.
STOP_WAIT = 30.0

# Environment variables that tell how a master was started; nothing else is kept (the rest of
# a process's environment may hold secrets and is not ours to carry around).
KEPT_ENV = ("BT_PYTHON_SERVICE_SID", "VIRTUAL_ENV", "PWD", "SUPERVISOR_PROCESS_NAME",
            "SUPERVISOR_GROUP_NAME", "UWSGI_EMPEROR_FD", "INVOCATION_ID", "PATH")


def server_kind(cmdline, name=""):
    """'uwsgi', 'gunicorn' or None, from a process's command line and name."""
    words = [os.path.basename(w) for w in cmdline[:3]]
    title = " ".join(cmdline)
    if name.startswith("uwsgi") or "uwsgi" in words or title.startswith("uwsgi"):
        return "uwsgi"
    if name.startswith("gunicorn") or title.startswith("gunicorn:") or "gunicorn" in words or any(
            w.endswith("gunicorn") for w in cmdline[:3]):
        return "gunicorn"
    # `python -m gunicorn ...`
    if len(cmdline) >= 3 and cmdline[1] == "-m" and cmdline[2] in ("gunicorn", "uwsgi"):
        return cmdline[2]
    return None


def _cwd(proc):
    """A process's working directory, or None (init's is often not readable)."""
    try:
        return proc.cwd()
    except (psutil.Error, OSError):
        return None


def _is_vassal(proc):
    """An Emperor's vassal master: the Emperor hands it UWSGI_EMPEROR_FD (a worker of a
    vassal inherits it too, but its parent is then the vassal, not an Emperor)."""
    try:
        parent = proc.parent()
        return "UWSGI_EMPEROR_FD" in proc.environ() and parent is not None and \
            "UWSGI_EMPEROR_FD" not in parent.environ()
    except (psutil.Error, OSError):
        return False


def _address(c):
    """A listening socket as 'host:port' or 'unix:/path'; None for anything else."""
    laddr = c.laddr
    if isinstance(laddr, str):
        return "unix:" + laddr if laddr and c.status in (psutil.CONN_LISTEN, psutil.CONN_NONE) else None
    if laddr and c.status == psutil.CONN_LISTEN:
        host = laddr[0]
        return ("[%s]:%d" if ":" in host else "%s:%d") % (host, laddr[1])
    return None


def listening(tries=3):
    """{pid: [address]} of every listening socket on the host, read once: asking each process
    for its connections re-reads the kernel's whole socket tables every time. None when the
    host-wide read keeps failing (a process exiting mid-scan can make it fail)."""
    for _ in range(tries):
        try:
            conns = psutil.net_connections(kind="all")
        except (psutil.Error, OSError):
            continue
        out = {}
        for c in conns:
            a = _address(c) if c.pid is not None else None
            if a:
                out.setdefault(c.pid, []).append(a)
        return out
    return None


def _proc_listen(proc):
    """One process's listening sockets (the slow way, for when listening() failed)."""
    try:
        get = proc.net_connections if hasattr(proc, "net_connections") else proc.connections
        return [a for a in (_address(c) for c in get(kind="all")) if a]
    except (psutil.Error, OSError):
        return []


def _unit(pid):
    """The systemd unit a process belongs to, from its cgroup; None when not a service."""
    try:
        with open("/proc/%d/cgroup" % pid) as fh:
            for line in fh:
                for part in line.strip().split("/"):
                    if part.endswith(".service"):
                        return part
    except OSError:
        pass
    return None


def _output_files(pid):
    """The regular files a process writes its stdout/stderr to (a daemonized uWSGI's log)."""
    out = []
    for fd in (1, 2):
        try:
            target = os.readlink("/proc/%d/fd/%d" % (pid, fd))
        except OSError:
            continue
        if target.startswith("/") and not target.endswith(" (deleted)") and target not in out:
            out.append(target)
    return out


def _info(proc):
    with proc.oneshot():
        try:
            env = proc.environ()
        except (psutil.Error, OSError):
            env = {}
        return {
            "pid": proc.pid,
            "ppid": proc.ppid(),
            "cmdline": proc.cmdline(),
            "cwd": proc.cwd(),
            "exe": proc.exe(),
            "name": proc.name(),
            "started": proc.create_time(),
            "environ": {k: env[k] for k in KEPT_ENV if k in env},
            "username": proc.username(),
            "uid": proc.uids().real,
            "output_files": _output_files(proc.pid),
        }


def _own_children(proc, head_pids):
    """A master's descendants, leaving out other masters and theirs (an Emperor's vassals)."""
    out, todo = [], list(proc.children())
    while todo:
        c = todo.pop()
        if c.pid in head_pids:
            continue
        out.append(c)
        try:
            todo.extend(c.children())
        except psutil.Error:
            continue
    return out


def scan(keep=None):
    """The masters: [{pid, ppid, kind, cmdline, cwd, exe, environ, started, listen, parent,
    unit, children}]. A master is a server process whose parent is not the same server.
    ``keep(proc)`` filters masters before they are looked at closely (cheap first)."""
    procs = {}
    for proc in psutil.process_iter(["pid", "ppid", "name", "cmdline"]):
        try:
            kind = server_kind(proc.info.get("cmdline") or [], proc.info.get("name") or "")
        except psutil.Error:
            continue
        if kind:
            procs[proc.pid] = (proc, kind)
    heads = [(pid, proc, kind) for pid, (proc, kind) in procs.items()
             if not (proc.info.get("ppid") in procs and procs[proc.info["ppid"]][1] == kind
                     and not _is_vassal(proc))]  # the rest are workers or uWSGI's http router
    head_pids = set(pid for pid, _, _ in heads)
    if keep is not None:
        heads = [h for h in heads if keep(h[1])]
    sockets = (listening() if heads else {}) or {}
    masters = []
    for pid, proc, kind in heads:
        try:
            info = _info(proc)
            parent = proc.parent()
            info["parent"] = {"pid": parent.pid, "name": parent.name(),
                              "cmdline": parent.cmdline(), "cwd": _cwd(parent)} if parent else None
            children = _own_children(proc, head_pids)
            info["children"] = [c.pid for c in children]
            # the user the app runs as: uWSGI's master may be root and drop only its workers
            info["worker_uid"] = children[0].uids().real if children else info["uid"]
            family = [proc] + children
            listen = [a for c in family for a in sockets.get(c.pid, [])]
            if not listen:
                # The host-wide read gives a socket shared by several processes to one of
                # them only, which may lie outside this family; or it failed: ask directly.
                listen = [a for c in family for a in _proc_listen(c)]
        except (psutil.Error, OSError):
            continue
        info["kind"] = kind
        info["listen"] = sorted(set(listen))
        info["unit"] = _unit(pid)
        masters.append(info)
    masters.sort(key=lambda m: m["pid"])
    return masters


# -- a Gunicorn master and its workers ---------------------------------------------------------

def children(pid):
    """The master's direct children, from /proc (no scan of every process)."""
    kids = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as fh:
                kids.extend(int(x) for x in fh.read().split())
        return kids
    except (OSError, ValueError):
        pass
    try:
        return [c.pid for c in psutil.Process(pid).children()]
    except psutil.Error:
        return []


_BOOT: list = []
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def parse_proc_stat(data, boot_time, clk_tck=100, page=4096):
    """{started, cpu_s, rss, name, zombie} from the text of /proc/<pid>/stat (proc(5))."""
    head, _, tail = data.rpartition(")")
    f = tail.split()
    # f[0] is field 3 (state); utime 14, stime 15, starttime 22, rss 24 (pages)
    return {"name": head.partition("(")[2], "zombie": f[0] == "Z",
            "cpu_s": (int(f[11]) + int(f[12])) / float(clk_tck),
            "started": boot_time + int(f[19]) / float(clk_tck), "rss": int(f[21]) * page}


def worker_proc(pid):
    """``proc_info`` for a worker: psutil (with oneshot) reads three or four /proc files per
    process and /proc/stat for the boot time on every call; one read of /proc/<pid>/stat
    has everything a worker row needs, which keeps 32 workers cheaper than one `ps aux`."""
    if not _BOOT:
        _BOOT.append(psutil.boot_time())
    try:
        with open("/proc/%d/stat" % pid) as fh:
            info = parse_proc_stat(fh.read(), _BOOT[0], _CLK_TCK, _PAGE)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, IndexError):
        return proc_info(pid)
    info["pid"] = pid
    return info


def proc_info(pid):
    """{pid, started, cpu (s), rss, name} of one process, or None when it is gone."""
    try:
        p = psutil.Process(pid)
        with p.oneshot():
            t = p.cpu_times()
            return {"pid": pid, "started": p.create_time(), "cpu_s": t.user + t.system,
                    "rss": p.memory_info().rss, "name": p.name(), "proc": p,
                    "zombie": p.status() == psutil.STATUS_ZOMBIE}
    except psutil.Error:
        return None


def record_uids(record):
    """The uids a site's recorded master may run as: its user (root for a site switched
    before the master ran as the site's user)."""
    try:
        return (pwd.getpwnam(records.user_of(record)).pw_uid, 0)
    except KeyError:
        return (0,)


def gunicorn_master(pid, uids=None):
    """The process at ``pid`` when it is a Gunicorn master (running as one of ``uids``),
    else None: a pid read from a file the site's user can write must not make root look at,
    or signal, another process."""
    if not pid:
        return None
    info = proc_info(pid)
    if info is None:
        return None
    try:
        cmdline = info["proc"].cmdline()
        if uids is not None and info["proc"].uids().real not in uids:
            return None
    except psutil.Error:
        return None
    if server_kind(cmdline, info["name"]) != "gunicorn":
        return None
    info["cmdline"] = cmdline
    return info


def worker_pids(master_pid, proc_name=None):
    """The master's children but its dirty arbiter (Gunicorn >= 25, when configured)."""
    dirty = _dirty_arbiter(proc_name)
    return [p for p in children(master_pid) if p != dirty]


# The keeper Supervisor runs in front of a site's Gunicorn (keeper.py), by its real path: a
# master whose parent runs this file from here was started through it.
KEEPER = os.path.join(os.path.dirname(os.path.realpath(__file__)), "keeper.py")


def kept(master_pid):
    """Whether a Gunicorn master's parent is the plugin's keeper, running as the master's
    user: its child subreaper, so that a re-exec (USR2) stays under Supervisor. A master
    Supervisor runs directly (a program file of an older release) has supervisord above it."""
    try:
        proc = psutil.Process(master_pid)
        parent = proc.parent()
        return parent is not None and KEEPER in parent.cmdline()[1:3] and \
            parent.uids().real == proc.uids().real
    except psutil.Error:
        return False


def parent_pid(pid):
    """The parent of ``pid``, or None when it is gone."""
    try:
        return psutil.Process(pid).ppid()
    except psutil.Error:
        return None


def read_pidfile(path):
    return host.read_pid(path) if path else None


def _dirty_arbiter(proc_name):
    """The pid in Gunicorn's dirty-arbiter pidfile for ``proc_name`` (>= 25), if any."""
    if not proc_name:
        return None
    safe = proc_name.replace("/", "_").replace(" ", "_")
    # bandit B108 reviewed: reads Gunicorn's own pidfile, writes nothing
    return read_pidfile(os.path.join("/tmp", "gunicorn-dirty-%s.pid" % safe))  # nosec B108


# -- binds ------------------------------------------------------------------------------------

def port_holder(bind):
    """Who holds a TCP bind's port now: "pid N (name)", "another program", or None when the
    port is free (or the bind is a unix socket). The plan chose a free port, but something
    may have taken it since; Gunicorn would then retry for seconds, write its pidfile all the
    same, and the switch would only fail at the health check, for no clear reason."""
    addr = addresses.tcp_address(bind)
    if addr is None:
        return None
    s = socket.socket(socket.AF_INET6 if ":" in addr[0] else socket.AF_INET)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(addr)
        return None
    except OSError:
        pass
    finally:
        s.close()
    try:
        for c in psutil.net_connections(kind="tcp"):
            if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr[1] == addr[1] and c.pid:
                return "pid %d (%s)" % (c.pid, psutil.Process(c.pid).name())
    except (psutil.Error, OSError):
        pass
    return "another program"


def wait_listening(pid_of, bind, deadline):
    """Wait until the process ``pid_of()`` names listens on ``bind``; False when it died or
    never bound (Gunicorn writes its pidfile before it binds: a pid alone proves nothing)."""
    addr = addresses.tcp_address(bind)
    end = time.monotonic() + deadline
    while True:
        pid = pid_of()
        if pid:
            try:
                proc = psutil.Process(pid)
                conns = proc.net_connections(kind="all") if hasattr(proc, "net_connections") \
                    else proc.connections(kind="all")  # psutil < 6 (the panel's may be older)
                for c in conns:
                    if addr is not None and c.status == psutil.CONN_LISTEN and c.laddr \
                            and not isinstance(c.laddr, str) and c.laddr[1] == addr[1]:
                        return True
                    if addr is None and isinstance(c.laddr, str) and c.laddr == bind[5:]:
                        return True
            except (psutil.Error, OSError):
                pass
        if time.monotonic() >= end:
            return False
        time.sleep(host.POLL)


def wait_gone(pid, timeout=STOP_WAIT):
    """Whether ``pid`` exited within ``timeout``. A zombie has exited (its sockets are
    closed, it serves nothing): a daemon's master is reparented to init, and psutil's wait
    on a process that is not our child counts it alive until init reaps it, which some inits
    do only every couple of seconds (measured: 1.7-1.8 s on the dev machines' PID 1, most of
    the 2.3-2.5 s a drained uWSGI seemed to take to exit; uWSGI's own log says its workers
    were buried after 1 s, its master's cycle)."""
    if not pid:
        return True
    try:
        proc = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return True
    end = time.monotonic() + timeout
    while True:
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                return True
            proc.wait(0.05)
            return True
        except psutil.NoSuchProcess:
            return True
        except psutil.TimeoutExpired:
            if time.monotonic() >= end:
                return False
