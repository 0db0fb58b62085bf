"""The live nginx: test and gracefully reload the real files, and wait for the workers from
before a reload to finish their requests (after them, nothing reaches the old backend)."""
import psutil

from . import host, paths, tasks


def nginx_bin():
    return paths.real(paths.NGINX_BIN)


def nginx_conf():
    return paths.real(paths.NGINX_CONF)


def workers():
    """The pids of nginx's current worker processes (taken just before a reload)."""
    pid = host.read_pid(paths.real(paths.NGINX_PID))
    try:
        return [c.pid for c in psutil.Process(pid).children()] if pid else []
    except psutil.Error:
        return []


def reload(log):
    """`nginx -t` on the live files, then a graceful reload; returns the pids of the workers
    that were serving before it (the ones to drain). A failure is a tasks.StepError."""
    rc, out = host.run([nginx_bin(), "-t", "-c", nginx_conf()], timeout=60)
    log(out.strip())
    if rc != 0:
        raise tasks.StepError("nginx -t failed: %s" % out.strip()[-500:])
    old = workers()
    rc, out = host.run([nginx_bin(), "-s", "reload", "-c", nginx_conf()], timeout=60)
    if rc != 0:
        raise tasks.StepError("nginx reload failed: %s" % out.strip()[-500:])
    log("nginx reloaded")
    return old


def drain(old_pids, timeout):
    """Wait (bounded) for the nginx workers that predate a reload to exit. Returns how many
    are still alive. By pid, not by start time: psutil's create_time is only accurate to
    about a second."""
    procs = []
    for pid in old_pids or ():
        try:
            procs.append(psutil.Process(pid))
        except psutil.Error:
            continue
    _gone, alive = psutil.wait_procs(procs, timeout=timeout)
    return len(alive)
