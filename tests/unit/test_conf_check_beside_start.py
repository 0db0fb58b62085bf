"""The conf check runs beside Gunicorn's start (switch._begin_check, awaited by health): which
error a step reports when the check, the step or both fail, and that the check runs once."""
import pytest

from gunicorn_switch_core import switch, tasks


class Runner(object):
    def __init__(self):
        self.task, self.outputs, self.inputs, self.lines = {"id": "t1"}, {}, {}, []

    def log(self, text):
        self.lines.append(text)


@pytest.fixture
def check(monkeypatch):
    """Set the check's (exit code, output); counts how often it is started."""
    said = {"rc": 0, "text": "", "started": 0}

    def begin(p):
        said["started"] += 1
        return said["rc"], said["text"]  # host.finish() takes a command that did not start
    monkeypatch.setattr(switch, "_begin_check", begin)
    switch._CHECKS.clear()
    return said


def fails(msg):
    def step(r):
        raise tasks.StepError(msg)
    return step


def test_a_failed_step_reports_the_failed_check_first(check):
    check.update(rc=1, text="ModuleNotFoundError: No module named 'uwsgi'")
    r = Runner()
    with pytest.raises(tasks.StepError) as e:
        switch._check_first(fails("Gunicorn did not start"))(r)
    assert str(e.value) == ("gunicorn --check-config failed: ModuleNotFoundError: No module "
                            "named 'uwsgi'; then: Gunicorn did not start")


def test_a_failed_step_with_a_passed_check_reports_its_own(check):
    r = Runner()
    with pytest.raises(tasks.StepError) as e:
        switch._check_first(fails("Gunicorn answered 500 where uWSGI answers 200"))(r)
    assert str(e.value) == "Gunicorn answered 500 where uWSGI answers 200"


def test_health_that_passes_still_waits_for_the_check_and_says_it_once(check, monkeypatch):
    check.update(rc=1, text="boom")
    monkeypatch.setattr(switch.health, "wait_status", lambda *a, **k: (True, 200))
    r = Runner()
    r.inputs = {"bind": "127.0.0.1:1", "domain": "x.test", "baseline_status": 200}
    with pytest.raises(tasks.StepError) as e:
        switch._check_first(switch.health_do)(r)
    assert str(e.value) == "gunicorn --check-config failed: boom"
    assert check["started"] == 1
    # asked again (a later step's failure): the answer kept, the check not run twice
    with pytest.raises(tasks.StepError):
        switch._await_check(r)
    assert check["started"] == 1


def test_the_check_started_by_write_conf_is_the_one_awaited(check):
    r = Runner()
    switch._CHECKS["t1"] = (0, "ok")
    switch._await_check(r)
    assert check["started"] == 0 and r.outputs["conf_check"] == ""
