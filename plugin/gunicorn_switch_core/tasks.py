"""Background tasks with a journal: each step's state and log, written as it goes.

A task runs in its own process (``python -m gunicorn_switch_core run-task ID``), started in a
new session so that a panel restart does not kill it, and holds a per-site lock (flock, freed
by the kernel when the process dies) so that one switch or rollback runs per site. The journal
(``<PLUGIN_STATE>/tasks/<id>.json``) is rewritten atomically after every change; a task whose
runner died (SIGKILL, reboot) is found by the next call and resumed: undone when it had not
reached its commit point, carried on when it had.
"""
from __future__ import annotations

import collections
import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid

import psutil
from typing import TYPE_CHECKING

from . import host, paths

if TYPE_CHECKING:
    from typing import Any, List, Tuple

    from .shapes import Task

TASK_ID = re.compile(r"^[0-9]{14}-[0-9a-f]{8}$")
LOG_LIMIT = 20000  # characters of log kept per step: pip can be chatty


def _dir(name):
    state = paths.real(paths.PLUGIN_STATE)
    d = os.path.join(state, name)
    if not os.path.isdir(d):
        os.makedirs(d, mode=0o700, exist_ok=True)
        os.chmod(state, 0o700)  # makedirs made it 0755: the state dir is root's only
    return d


def task_path(task_id):
    if not TASK_ID.match(task_id or ""):
        raise ValueError("bad task id")
    return os.path.join(_dir("tasks"), task_id + ".json")


def create(kind: str, site: str, steps: List[Tuple[str, str, str]], payload: Any) -> Task:
    task_id = time.strftime("%Y%m%d%H%M%S") + "-" + uuid.uuid4().hex[:8]
    task: Task = {
        "id": task_id, "kind": kind, "site": site, "state": "pending", "created": time.time(),
        "pid": None, "committed": False, "error": None, "finished": None,
        "steps": [{"name": n, "title": t, "title_en": te, "state": "pending", "started": None,
                   "finished": None, "log": ""} for n, t, te in steps],
        "payload": payload, "data": {},
    }
    save(task)
    return task


class Busy(Exception):
    """Another task of the site is pending or running, or the site changed since the plan."""


def create_exclusive(kind, site, steps, payload, check=None):
    """create() under the site's lock: refused (Busy) while another task of the site is
    pending or running, or when ``check()`` says the site is no longer as it was planned.

    Without it two clicks on 切换 at once both pass the API's busy check (make_plan takes
    a second), both create a task, and the second runner, started after the first one
    finished, re-runs a stale plan on a switched site and overwrites its record with
    backups of the switched files: rollback then "restores" Gunicorn's nginx config.
    """
    fd = try_lock(site)
    if fd is None:
        raise Busy(site)
    try:
        if any(t["state"] in ("pending", "running") for t in all_tasks(site)):
            raise Busy(site)
        if check is not None and not check():
            raise Busy(site)
        return create(kind, site, steps, payload)
    finally:
        os.close(fd)


def save(task):
    host.write_atomic(task_path(task["id"]), json.dumps(task, ensure_ascii=False), mode=0o600)


def load(task_id: str) -> Task:
    with open(task_path(task_id)) as fh:
        return json.load(fh)


def all_tasks(site=None):
    out = []
    for name in sorted(os.listdir(_dir("tasks"))):
        if name.endswith(".json") and TASK_ID.match(name[:-5]):
            try:
                t = load(name[:-5])
            except (OSError, ValueError):
                continue
            if site is None or t.get("site") == site:
                out.append(t)
    return out


def lock_path(site):
    return os.path.join(_dir("locks"), site + ".lock")


def try_lock(site):
    """An fd holding the site's lock, or None when another task holds it."""
    fd = os.open(lock_path(site), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return fd
    except OSError:
        os.close(fd)
        return None


def site_busy(site):
    fd = try_lock(site)
    if fd is None:
        return True
    os.close(fd)
    return False


def runner_alive(task):
    pid = task.get("pid")
    if not pid:
        return False
    try:
        proc = psutil.Process(pid)
        return task["id"] in " ".join(proc.cmdline()) and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def spawn(task_id):
    """Start the runner detached (own session, no inherited fds); returns its pid."""
    pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = pkg_parent + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    log = os.path.join(_dir("logs"), "tasks.log")
    # Inside the panel sys.executable is the panel's own Python. The sandbox's tests call the
    # plugin in-process on another one and name the panel's here, so that every switch step
    # runs on the interpreter a server has (3.7 on BaoTa).
    python = os.environ.get("GUNICORN_SWITCH_RUNNER_PYTHON") or sys.executable
    with open(log, "ab") as out:
        proc = subprocess.Popen([python, "-m", "gunicorn_switch_core", "run-task", task_id],
                                cwd=pkg_parent, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
    return proc.pid


def needs_recovery(task):
    return task["state"] in ("pending", "running") and not runner_alive(task) and \
        time.time() - task["created"] > 2.0


def recover(task):
    """Restart the runner of a task whose runner died; it finishes or undoes the task."""
    if needs_recovery(task) and not site_busy(task["site"]):
        task["pid"] = spawn(task["id"])
        save(task)
    return task


def recover_all():
    for t in all_tasks():
        if t["state"] in ("pending", "running"):
            recover(t)


def view(task):
    """What get_task shows: no payload, no internal data."""
    return {"id": task["id"], "kind": task["kind"], "site": task["site"], "state": task["state"],
            "committed": task["committed"], "error": task["error"], "created": task["created"],
            "finished": task["finished"], # the commit point: from then on the new server answers the site (a switch:
            # Gunicorn), while the steps after it (stopping the old server) still run
            "serving_since": task.get("committed_at"),
            "steps": [{k: s[k] for k in ("name", "title", "title_en", "state", "started",
                                         "finished", "log")} for s in task["steps"]]}


class StepError(Exception):
    """A step failed; the message says what happened (shown to the user)."""


FAULT_ENV = "GUNICORN_SWITCH_FAULT"


def _test_fault(when, step):
    """TEST-ONLY fault injection for tests/faults: ``GUNICORN_SWITCH_FAULT=<when>:<step>``
    SIGKILLs this runner at that point, as a reboot or the OOM killer would (``stop-...``
    SIGSTOPs it instead: a sync point for a test, which then SIGCONTs it). ``when`` is ``in``
    (the step's work done, its journal entry still "running") or ``after`` (the step
    journaled done, the next one not started): e.g. ``kill-after:start``. Honoured only
    under a sandbox prefix (GUNICORN_SWITCH_ROOT set and not "/"), never on a server."""
    spec = os.environ.get(FAULT_ENV)
    if not spec or not paths.root().rstrip("/"):
        return
    if spec == "kill-%s:%s" % (when, step):
        os.kill(os.getpid(), signal.SIGKILL)
    if spec == "stop-%s:%s" % (when, step):  # a sync point: the test SIGCONTs the runner
        os.kill(os.getpid(), signal.SIGSTOP)


def _nothing_to_undo(r):
    return None


class Step(collections.namedtuple("Step", "name title title_en do undo")):
    """One step of a procedure: its titles (zh, en) as the plan and the task show them, what
    it does and how that is undone (``undo`` must be safe on a half-done step)."""

    def __new__(cls, name, title, title_en, do, undo=_nothing_to_undo):
        return super(Step, cls).__new__(cls, name, title, title_en, do, undo)


class Procedure(object):
    """A task's steps, declared once: the plan lists them, the runner runs them. After the
    step named ``commit`` the task can only go forward."""

    def __init__(self, kind, steps, commit):
        self.kind = kind
        self.steps = tuple(steps)
        self.by_name = {s.name: s for s in self.steps}
        if commit not in self.by_name or len(self.by_name) != len(self.steps):
            raise ValueError("bad procedure %s" % kind)
        self.commit = commit

    def listing(self):
        """(name, zh title, en title) of each step, in order: what a task is created with."""
        return [(s.name, s.title, s.title_en) for s in self.steps]

    def names(self):
        return [s.name for s in self.steps]


class Runner(object):
    """Runs a task's steps as its procedure declares them.

    ``inputs`` is what the task was started with (the confirmed plan, or the record to roll
    back) and is never changed; ``outputs`` is what steps keep for later steps and for their
    undo (backups made, pids started). Both are journaled with the task, so a runner that
    resumes after a crash sees what the dead one saw."""

    def __init__(self, task, procedure):
        self.task = task
        self.procedure = procedure
        self.current = None
        self._saved = 0.0

    @property
    def outputs(self):
        return self.task["data"]

    @property
    def inputs(self):
        return self.task["payload"]

    def log(self, text):
        st = self.current
        if st is None:
            return
        st["log"] = (st["log"] + text.rstrip("\n") + "\n")[-LOG_LIMIT:]
        now = time.monotonic()
        if now - self._saved > 0.3:  # stream to get_task without rewriting on every line
            self._saved = now
            save(self.task)

    def _set(self, st, state):
        st["state"] = state
        st["finished" if state != "running" else "started"] = time.time()
        save(self.task)

    def run(self):
        task = self.task
        # A task already "running" lost its runner (SIGKILL, OOM, reboot). Before the commit
        # point it is undone even when it died between two steps (no step "running"): going
        # on would run a plan that may be hours old (uWSGI's pid, the port, the files).
        resumed = task["state"] == "running"
        task["state"] = "running"
        save(task)
        interrupted = [s for s in task["steps"] if s["state"] == "running"]
        for st in interrupted:
            self.current = st
            self.log("(the task was interrupted here; resuming)")
        if resumed and not task["committed"]:
            return self._undo("interrupted before the commit point: undone")
        for st in task["steps"]:
            if st["state"] in ("done", "skipped"):
                continue
            self.current = st
            self._set(st, "running")
            try:
                result = self.procedure.by_name[st["name"]].do(self)
                _test_fault("in", st["name"])
            except Exception as e:  # any failure of a step is reported, then undone
                self.log("ERROR: %s" % e)
                if not isinstance(e, StepError):
                    import traceback
                    self.log(traceback.format_exc())
                self._set(st, "failed")
                if task["committed"]:
                    return self._finish("failed", "%s: %s" % (st["name"], e))
                return self._undo("%s: %s" % (st["name"], e))
            self._set(st, "skipped" if result == "skipped" else "done")
            if st["name"] == self.procedure.commit:
                task["committed"] = True
                task["committed_at"] = st["finished"]
                save(task)
            _test_fault("after", st["name"])
        return self._finish("succeeded", None)

    def _undo(self, error):
        """Undo every step that did something, in reverse; the failed one included (each
        undo is written to be safe on a half-done step)."""
        problems = []
        for st in reversed(self.task["steps"]):
            if st["state"] not in ("done", "failed", "running"):
                continue
            self.current = st
            try:
                self.procedure.by_name[st["name"]].undo(self)
                self.log("undone")
                if st["state"] != "failed":
                    self._set(st, "undone")
            except Exception as e:  # keep undoing the rest: leave as little behind as we can
                problems.append("%s: %s" % (st["name"], e))
                self.log("UNDO FAILED: %s" % e)
        if problems:
            return self._finish("failed", error + "; undo incomplete: " + "; ".join(problems))
        return self._finish("rolled_back", error)

    def _finish(self, state, error):
        self.task["state"] = state
        self.task["error"] = error
        self.task["finished"] = time.time()
        save(self.task)
        return state


def run_task(task_id, procedures):
    """The runner process: take the site's lock, run or resume the task."""
    task = load(task_id)
    if task["state"] not in ("pending", "running"):
        return task["state"]
    fd = try_lock(task["site"])
    if fd is None:
        if task["state"] == "pending":
            task["state"], task["error"] = "failed", "another task is running on this site"
            task["finished"] = time.time()
            save(task)
        return task["state"]
    try:
        task["pid"] = os.getpid()
        save(task)
        return Runner(task, procedures[task["kind"]]).run()
    finally:
        os.close(fd)
