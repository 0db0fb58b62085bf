"""tasks.Runner's recovery rules and the one-task-per-site rule, without a sandbox (fast).

A runner that died before the commit point is undone on recovery, even when it died between
two steps; after the commit point it goes on. Two tasks of one site cannot both be created.
"""
import pytest

from gunicorn_switch_core import tasks


@pytest.fixture
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("GUNICORN_SWITCH_ROOT", str(tmp_path))
    monkeypatch.delenv("GUNICORN_SWITCH_FAULT", raising=False)
    return tmp_path


def procedure(calls):
    def step(name):
        return tasks.Step(name, name, name, lambda r: calls.append("do " + name),
                          lambda r: calls.append("undo " + name))
    return tasks.Procedure("switch", [step(n) for n in ("a", "b", "c", "d")], commit="c")


STEPS = procedure([]).listing()


def _died_after(task, done):
    """The journal of a runner SIGKILLed after ``done`` steps were journaled done."""
    task["state"] = "running"
    for st in task["steps"][:done]:
        st["state"] = "done"
    task["committed"] = done >= 3  # commit step: "c"
    tasks.save(task)
    return tasks.load(task["id"])


@pytest.mark.parametrize("done,state,expect", [
    (1, "rolled_back", ["undo a"]),
    (2, "rolled_back", ["undo b", "undo a"]),
    (3, "succeeded", ["do d"]),
])
def test_resume_between_steps(tmp_path, monkeypatch, done, state, expect):
    monkeypatch.setenv("GUNICORN_SWITCH_ROOT", str(tmp_path))
    calls = []
    task = _died_after(tasks.create("switch", "shop.test", STEPS, {}), done)
    result = tasks.Runner(task, procedure(calls)).run()
    assert (result, calls) == (state, expect)
    t = tasks.load(task["id"])
    assert t["state"] == state
    if state == "rolled_back":
        assert "interrupted before the commit point" in t["error"]


def test_fresh_task_runs_every_step(state):
    calls = []
    task = tasks.create("switch", "shop.test", STEPS, {})
    assert tasks.Runner(task, procedure(calls)).run() == "succeeded"
    assert calls == ["do a", "do b", "do c", "do d"]


def test_one_task_per_site(state):
    first = tasks.create_exclusive("switch", "shop.test", STEPS, {})
    with pytest.raises(tasks.Busy):
        tasks.create_exclusive("switch", "shop.test", STEPS, {})
    tasks.create_exclusive("switch", "blog.test", STEPS, {})  # another site is free
    fd = tasks.try_lock("api")  # a runner holds the site's lock
    try:
        with pytest.raises(tasks.Busy):
            tasks.create_exclusive("switch", "api", STEPS, {})
    finally:
        import os
        os.close(fd)
    t = tasks.load(first["id"])
    t["state"] = "succeeded"
    tasks.save(t)
    with pytest.raises(tasks.Busy):  # the site changed since the plan
        tasks.create_exclusive("switch", "shop.test", STEPS, {}, check=lambda: False)
    tasks.create_exclusive("switch", "shop.test", STEPS, {}, check=lambda: True)


def test_state_dirs_are_private(state):
    import stat
    tasks.create("switch", "shop.test", STEPS, {})
    root = state / "www/server/panel/data/gunicorn_switch"
    for d in (root, root / "tasks"):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700, d


def test_fault_hook_is_inert_on_a_server(state, monkeypatch):
    """GUNICORN_SWITCH_FAULT does nothing without a sandbox prefix."""
    monkeypatch.setenv("GUNICORN_SWITCH_ROOT", "/")
    monkeypatch.setenv("GUNICORN_SWITCH_FAULT", "kill-after:a")
    tasks._test_fault("after", "a")  # still alive


def test_a_procedure_names_each_step_once_and_its_commit_point():
    step = tasks.Step("a", "a", "a", lambda r: None)
    with pytest.raises(ValueError):
        tasks.Procedure("switch", [step, step], commit="a")
    with pytest.raises(ValueError):
        tasks.Procedure("switch", [step], commit="b")
    assert step.undo(None) is None  # a step without an undo has nothing to undo
