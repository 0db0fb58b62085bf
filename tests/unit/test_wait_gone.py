"""processes.wait_gone: a process that has exited is gone even while its parent, not us, has
not reaped it (a daemon's master under an init that reaps orphans every couple of seconds)."""
import subprocess
import sys

import psutil

from gunicorn_switch_core import processes

# The parent forks a child that exits at once, prints the child's pid, and does not reap it.
PARENT = """
import os, sys, time
pid = os.fork()
if pid == 0:
    os._exit(0)
print(pid, flush=True)
time.sleep(60)
"""


def test_an_unreaped_exited_process_is_gone():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE)
    try:
        pid = int(parent.stdout.readline())
        child = psutil.Process(pid)
        assert child.ppid() == parent.pid  # not ours: psutil cannot reap it
        assert processes.wait_gone(pid, timeout=10) is True
        assert child.status() == psutil.STATUS_ZOMBIE and parent.poll() is None
    finally:
        parent.kill()
        parent.wait(10)


def test_a_live_process_is_not_gone():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert processes.wait_gone(proc.pid, timeout=0.3) is False
    finally:
        proc.kill()
        proc.wait(10)
