"""Fixtures of the unit tests: the host layer's users faked (tests/unit/host_fakes.py), and
messages in English with no prefix, whatever the machine's panel says."""
import pytest

from gunicorn_switch_core import host, i18n
from tests.unit import host_fakes


@pytest.fixture
def fake_users(monkeypatch):
    """pwd and host.User over host_fakes.USERS (root, toor = uid 0, www 1000, alice 1001), in
    host and in the modules that call pwd themselves."""
    from gunicorn_switch_core import plan

    monkeypatch.setattr(host, "pwd", host_fakes.FakePwd)
    monkeypatch.setattr(host, "User", host_fakes.FakeUser)
    monkeypatch.setattr(host, "user_for_uid", host_fakes.fake_user_for_uid)
    monkeypatch.setattr(plan, "pwd", host_fakes.FakePwd)
    return host_fakes.USERS


@pytest.fixture
def english(monkeypatch):
    monkeypatch.delenv("GUNICORN_SWITCH_ROOT", raising=False)
    with i18n.use("en"):
        yield
