"""The process Supervisor runs for a site's Gunicorn, so that a restart loses nothing.

    python -I keeper.py --pidfile <Gunicorn's pidfile> -- <gunicorn> -c <gunicorn_conf.py>

Supervisor watches the pid it started. Run directly, Gunicorn's re-exec (USR2: a new master
on the same listening sockets, the old one stopped once the new one serves) cannot be used:
when the old master exits, Supervisor takes its program for dead and starts another master
while the new one, orphaned to init, holds the port. So Supervisor runs this instead: it makes
itself a child subreaper (Linux >= 3.4), starts Gunicorn as its child, forwards the signals
Gunicorn understands to the current master, and exits only when no child is left, with the
status of the last one. After a re-exec the new master becomes its child when the old one
exits, and Supervisor sees nothing die (control.reexec; docs/ARCHITECTURE.md).

It runs as the site's user (Supervisor's ``user=``) on the site's venv Python, which may be
3.7: standard library only, and nothing of the package is imported. Where the subreaper cannot
be had, it execs Gunicorn in its own place: the site then runs as before this file existed,
and the status page sees no keeper above the master and restarts by stop-then-start.
"""
import ctypes
import ctypes.util
import errno
import os
import signal
import sys

PR_SET_CHILD_SUBREAPER = 36  # prctl(2), Linux >= 3.4
FORWARDED = ("SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGTTIN",
             "SIGTTOU", "SIGWINCH")
# Signals that stop Gunicorn go to every master, the one a re-exec is starting included:
# otherwise a stop in the middle of a restart would leave one serving.
STOPPING = ("SIGTERM", "SIGINT", "SIGQUIT")


class Usage(Exception):
    pass


# -- pure parts ---------------------------------------------------------------------------

def parse_args(argv):
    """(pidfile, command) from ``--pidfile PATH -- COMMAND...``."""
    if len(argv) < 4 or argv[0] != "--pidfile" or argv[2] != "--":
        raise Usage("usage: keeper.py --pidfile PATH -- COMMAND [ARG...]")
    if not os.path.isabs(argv[1]) or not os.path.isabs(argv[3]):
        raise Usage("the pidfile and the command must be absolute paths")
    return argv[1], list(argv[3:])


def parse_pid(text):
    """The pid a pidfile holds, or None (empty, half written, not a number)."""
    text = (text or "").strip()
    return int(text) if text.isdigit() and int(text) > 1 else None


def parse_ppid(stat_text):
    """The parent pid from the text of /proc/<pid>/stat (proc(5): the name, in parentheses,
    may hold spaces and parentheses; the state and ppid follow the last ')')."""
    return int(stat_text.rpartition(")")[2].split()[1])


def current_master(pidfile_pid, pidfile_ppid, me, first, first_alive):
    """The master a signal goes to: the pidfile's, when it is our own child (a pidfile is the
    site's to write, and a re-exec renames ``<pidfile>.2`` onto it only once it is our child);
    else the master we started, while it lives; else None."""
    if pidfile_pid and pidfile_ppid == me:
        return pidfile_pid
    return first if first_alive else None


def targets(signame, master, children, upgrading):
    """Who gets ``signame``: the current master; for a stop, every child of ours and the
    master a re-exec is starting (``upgrading``, a child of one of them)."""
    if signame not in STOPPING:
        return [master] if master else []
    out = sorted(set(([master] if master else []) + list(children) +
                     ([upgrading] if upgrading else [])))
    return out


def exit_code(status):
    """A shell's exit code for a wait status: the code, or 128 + the signal."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1


# -- /proc -----------------------------------------------------------------------------------

def _read(path):
    try:
        with open(path) as fh:
            return fh.read()
    except (OSError, ValueError):
        return None


def ppid_of(pid):
    text = _read("/proc/%d/stat" % pid)
    try:
        return parse_ppid(text) if text else None
    except (IndexError, ValueError):
        return None


def children_of(pid):
    """The direct children of ``pid`` (/proc/<pid>/task/*/children, else a scan of /proc)."""
    kids = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            text = _read("/proc/%d/task/%s/children" % (pid, tid))
            if text is None:
                raise OSError("no children file")
            kids.extend(int(x) for x in text.split())
        return kids
    except (OSError, ValueError):
        pass
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and ppid_of(int(p)) == pid]


# -- the keeper --------------------------------------------------------------------------------

def become_subreaper():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


class Keeper(object):
    def __init__(self, pidfile, command):
        self.pidfile = pidfile
        self.command = command
        self.me = os.getpid()
        self.first = None
        self.first_alive = False
        self.pending = []  # signals that came before the master was started

    def master(self):
        pid = parse_pid(_read(self.pidfile))
        return current_master(pid, ppid_of(pid) if pid else None, self.me, self.first,
                              self.first_alive)

    def upgrading(self, children):
        pid = parse_pid(_read(self.pidfile + ".2"))
        return pid if pid and ppid_of(pid) in children else None

    def forward(self, signum, frame=None):
        name = signal.Signals(signum).name
        if self.first is None:
            self.pending.append(signum)
            return
        children = children_of(self.me)
        for pid in targets(name, self.master(), children, self.upgrading(children)):
            try:
                os.kill(pid, signum)
            except OSError:
                pass

    def spawn(self):
        sigs = [getattr(signal, n) for n in FORWARDED]
        signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
        pid = os.fork()
        if pid == 0:  # the child: Gunicorn, with the signals as they were
            try:
                for s in sigs:
                    signal.signal(s, signal.SIG_DFL)
                signal.pthread_sigmask(signal.SIG_UNBLOCK, sigs)
                os.execv(self.command[0], self.command)
            finally:
                os._exit(127)
        self.first, self.first_alive = pid, True
        signal.pthread_sigmask(signal.SIG_UNBLOCK, sigs)
        for signum in self.pending:
            self.forward(signum)

    def run(self):
        for name in FORWARDED:
            signal.signal(getattr(signal, name), self.forward)
        self.spawn()
        code, master_code = 1, None
        while True:
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:
                return code if master_code is None else master_code
            except OSError as e:  # pragma: no cover - EINTR is retried by Python >= 3.5
                if e.errno == errno.EINTR:
                    continue
                raise
            # A master that stops cleanly outlives its workers and removes its pidfile: the
            # last status is its own. A master killed outright leaves its pidfile, and its
            # orphaned workers come to us and exit 0 after it: its status is what the
            # manager must see, or it would take a crash for a clean stop and not restart.
            if pid == self.first or pid == parse_pid(_read(self.pidfile)):
                master_code = exit_code(status)
            if pid == self.first:
                self.first_alive = False
            code = exit_code(status)


def main(argv=None):
    try:
        pidfile, command = parse_args(sys.argv[1:] if argv is None else argv)
    except Usage as e:
        sys.stderr.write("%s\n" % e)
        return 2
    if not become_subreaper():
        sys.stderr.write("keeper: no child subreaper here; running Gunicorn directly "
                         "(restarts will stop, then start)\n")
        sys.stderr.flush()
        os.execv(command[0], command)
    return Keeper(pidfile, command).run()


if __name__ == "__main__":
    sys.exit(main())
