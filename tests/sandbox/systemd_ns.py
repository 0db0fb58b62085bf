"""A private systemd, booted as PID 1 of a new PID + mount (+ cgroup) namespace.

A booting systemd once emptied this machine's whole /tmp (systemd-tmpfiles' `D /tmp` deletes
files, and deleting crosses a private mount namespace). So, inside the new namespace and
before systemd is exec'd, the boot script:
  1. puts private tmpfs on /tmp, /var/tmp and /run (then carries the sandbox's directory
     into the new /tmp by a bind mount and `mount --move`), and checks that they are tmpfs,
     aborting otherwise;
  2. binds the sandbox's etc/systemd/system over /etc/systemd/system, where every unit the
     host ships is masked (only targets and slices are left: nothing of the host's is
     started, not tmpfiles, udev, journald, sysctl, hwclock, utmp...);
  3. masks every generator (fstab, sysv, getty... would make units from the host's files);
  4. mounts cgroup2 (the namespace's own cgroup subtree) and execs systemd.
With journal=True, journald runs too (what a Gunicorn unit writes to stdout/stderr is then
in `journalctl -u`): its service and main socket are left unmasked (the /dev/log socket,
which would make a link in the host's /dev, and the audit socket stay masked), its storage
is volatile (a drop-in in the private /run) and a private tmpfs lies over /var/log/journal
all the same, and it forwards nothing (no kmsg, console, wall or syslog); systemd logs to
the journal (console before journald is up; never kmsg, the host's kernel log).
The environment variable `container` makes systemd keep the stdio it is given (a log file)
instead of the host's console.

Everything of a systemd test runs inside the namespace (run()): PIDs differ inside and out.
stop() is SIGKILL to systemd's PID: the whole PID namespace goes with it.
"""
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import psutil

SYSTEMD = "/lib/systemd/systemd"
UNIT_DIRS = ("/lib/systemd/system", "/usr/lib/systemd/system", "/usr/local/lib/systemd/system")
GENERATOR_DIRS = ("/lib/systemd/system-generators", "/usr/lib/systemd/system-generators",
                  "/usr/local/lib/systemd/system-generators")
# named by the issue: masked even if some future systemd made them targets or slices
ALWAYS_MASKED = (
    "systemd-tmpfiles-setup.service", "systemd-tmpfiles-setup-dev.service",
    "systemd-tmpfiles-setup-dev-early.service", "systemd-tmpfiles-clean.service",
    "systemd-tmpfiles-clean.timer", "systemd-udevd.service", "systemd-udevd-control.socket",
    "systemd-udevd-kernel.socket", "systemd-udev-trigger.service", "systemd-journal-flush.service",
)
# journald, with journal=True: its service and the socket units' stdout/native socket
JOURNAL_UNITS = ("systemd-journald.service", "systemd-journald.socket")
JOURNALD_CONF = """[Journal]
Storage=volatile
ReadKMsg=no
ForwardToSyslog=no
ForwardToKMsg=no
ForwardToConsole=no
ForwardToWall=no
RuntimeMaxUse=16M
"""
# what a boot to multi-user.target needs of the host's units, and nothing that acts
KEPT_SUFFIXES = (".target", ".slice")
CGROUP_V2 = "/sys/fs/cgroup/unified"

BOOT_SCRIPT = r"""#!/bin/sh
# args: SANDBOX_ROOT UNIT_DIR TARGET [JOURNALD_CONF]  (PID 1's parent-to-be, in the namespace)
set -eu
SB="$1"; UNITS="$2"; TARGET="$3"; JCONF="${4:-}"
fail() { echo "systemd_ns: $*" >&2; exit 97; }
# 1. the sandbox's directory, carried out of the way of the new /tmp
mount --bind "$SB" /media
mount -t tmpfs -o mode=1777 gsw-tmp /tmp
mount -t tmpfs -o mode=1777 gsw-vartmp /var/tmp
mount -t tmpfs -o mode=755 gsw-run /run
for d in /tmp /var/tmp /run; do
    [ "$(findmnt -n -o FSTYPE --mountpoint "$d")" = tmpfs ] || fail "$d is not a private tmpfs"
done
case "$SB" in
    /tmp/*) mkdir -p "$SB"; mount --move /media "$SB" ;;
    *) umount /media ;;
esac
[ -f "$SB/.gsw-systemd-sandbox" ] || fail "the sandbox is not at $SB inside the namespace"
# 2. private unit directory, every host unit masked
mount --bind "$UNITS" /etc/systemd/system
[ -L /etc/systemd/system/systemd-tmpfiles-setup.service ] || fail "masks are not in place"
# 3. no generator runs
mkdir -p /run/systemd/system-generators
for dir in /lib/systemd/system-generators /usr/lib/systemd/system-generators \
           /usr/local/lib/systemd/system-generators; do
    [ -d "$dir" ] || continue
    for g in "$dir"/*; do
        [ -e "$g" ] && ln -sf /dev/null "/run/systemd/system-generators/$(basename "$g")"
    done
done
# journald (when asked for): volatile, and nothing of the host's journal within its reach
if [ -n "$JCONF" ]; then
    if [ -d /var/log/journal ]; then
        mount -t tmpfs -o mode=2755 gsw-journal /var/log/journal
        [ "$(findmnt -n -o FSTYPE --mountpoint /var/log/journal)" = tmpfs ] \
            || fail "/var/log/journal is not a private tmpfs"
    fi
    mkdir -p /run/systemd/journald.conf.d
    cp "$JCONF" /run/systemd/journald.conf.d/gsw-sandbox.conf
    # systemd's own lines about units ("Reloading...", "Stopped...") go to the journal, as
    # on a server; to the console (boot.log) until journald is up. Never "journal-or-kmsg":
    # /dev/kmsg is the host's kernel log.
    LOG_TARGET=journal
else
    LOG_TARGET=console
fi
# 4. the namespace's own cgroup tree
mount -t cgroup2 none /sys/fs/cgroup
export container=gsw-sandbox
exec /lib/systemd/systemd --system --unit="$TARGET" --log-target="$LOG_TARGET" --show-status=false
"""


def available():
    """None when a private systemd can boot here, else why not."""
    for prog in ("unshare", "nsenter", "findmnt"):
        if not shutil.which(prog):
            return "no %s here" % prog
    if not os.access(SYSTEMD, os.X_OK):
        return "no systemd binary at %s" % SYSTEMD
    if os.geteuid() != 0:
        return "booting a systemd needs root"
    if not os.path.isdir("/media"):
        return "no /media to carry the sandbox through"
    return None


def host_units():
    names = set(ALWAYS_MASKED)
    for d in UNIT_DIRS:
        if os.path.isdir(d):
            names.update(n for n in os.listdir(d) if not n.endswith(KEPT_SUFFIXES)
                         and "." in n and not n.endswith(".d") and not n.endswith(".wants"))
    # a target's drop-ins and wants are fine: what they name is masked
    return sorted(n for n in names if n not in ("-.slice",))


class Systemd(object):
    """One private systemd for a sandbox rooted at `root` (a directory under /tmp).

    Units live in root/etc/systemd/system: the plugin writes its units there (it is the root
    prefix's /etc/systemd/system) and the boot script binds it over /etc/systemd/system."""

    def __init__(self, root, target="multi-user.target", journal=False):
        self.root = Path(root)
        self.target = target
        self.journal = journal
        self.unit_dir = self.root / "etc/systemd/system"
        self.state = self.root / "systemd-ns"
        self.proc = None  # unshare
        self.pid = None   # systemd, as the host sees it
        self.cgroup = None

    def prepare(self):
        self.unit_dir.mkdir(parents=True, exist_ok=True)
        self.state.mkdir(parents=True, exist_ok=True)
        (self.root / ".gsw-systemd-sandbox").write_text("")
        for name in host_units():
            link = self.unit_dir / name
            if self.journal and name in JOURNAL_UNITS:
                if os.path.islink(link) and os.readlink(link) == "/dev/null":
                    link.unlink()
                continue
            if not os.path.lexists(link):
                link.symlink_to("/dev/null")
        (self.state / "journald.conf").write_text(JOURNALD_CONF)
        script = self.state / "boot.sh"
        script.write_text(BOOT_SCRIPT)
        script.chmod(0o700)
        return self

    def _cgroup(self):
        """A cgroup of its own in the host's v2 tree, so that systemd's cgroups are under it
        (and not at the root, shared with anything else)."""
        if not os.path.isdir(CGROUP_V2):
            return None
        path = Path(CGROUP_V2) / ("gsw-systemd-%d-%d" % (os.getpid(), time.monotonic_ns()))
        path.mkdir()
        return path

    def boot(self, timeout=60):
        self.prepare()
        self.cgroup = self._cgroup()
        procs = str(self.cgroup / "cgroup.procs") if self.cgroup else None

        def enter_cgroup():
            if procs:
                with open(procs, "w") as f:
                    f.write(str(os.getpid()))

        argv = ["unshare", "--pid", "--fork", "--mount-proc", "--mount", "--propagation",
                "private"] + (["--cgroup"] if procs else []) + [
                "/bin/sh", str(self.state / "boot.sh"), str(self.root), str(self.unit_dir),
                self.target] + ([str(self.state / "journald.conf")] if self.journal else [])
        log = open(self.state / "boot.log", "ab")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                     preexec_fn=enter_cgroup, start_new_session=True)
        log.close()
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("the private systemd did not boot (exit %s): %s" % (
                    self.proc.returncode, self.log_tail()))
            self.pid = self._systemd_pid()
            if self.pid:
                rc, out = self.run(["systemctl", "is-system-running", "--wait"], timeout=30,
                                   check=False)
                if out.strip() in ("running", "degraded"):
                    return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("the private systemd did not come up: %s" % self.log_tail())

    def _systemd_pid(self):
        try:
            for child in psutil.Process(self.proc.pid).children():
                if child.exe() == os.path.realpath(SYSTEMD):
                    return child.pid
        except psutil.Error:
            pass
        return None

    def log_tail(self, n=4000):
        try:
            return (self.state / "boot.log").read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def argv(self, argv):
        """argv run inside the namespace (its mounts, its PIDs)."""
        return ["nsenter", "-t", str(self.pid), "-m", "-p", "--"] + list(argv)

    def run(self, argv, timeout=120, check=True, env=None, cwd=None):
        """Run argv inside the namespace; (rc, stdout+stderr)."""
        res = subprocess.run(self.argv(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, timeout=timeout, env=env, cwd=cwd)
        out = res.stdout.decode("utf-8", "replace")
        if check and res.returncode != 0:
            raise RuntimeError("%s -> %d: %s" % (" ".join(argv), res.returncode, out[-2000:]))
        return res.returncode, out

    def systemctl(self, *args, check=True):
        return self.run(["systemctl"] + list(args), check=check)

    def stop(self):
        """SIGKILL to systemd (never poweroff: that would run the host's shutdown units);
        every process of the PID namespace dies with it."""
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc is not None:
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.pid = None
        self.proc = None
        self._remove_cgroup()

    def _remove_cgroup(self):
        if not self.cgroup or not self.cgroup.exists():
            return
        # deepest first: a cgroup is removed by rmdir once it is empty of processes
        dirs = sorted((p for p in self.cgroup.rglob("*") if p.is_dir()),
                      key=lambda p: len(p.parts), reverse=True)
        for d in dirs + [self.cgroup]:
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.1)
        self.cgroup = None

    def __enter__(self):
        return self.boot()

    def __exit__(self, *exc):
        self.stop()
