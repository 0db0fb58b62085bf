import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "plugin"), str(ROOT)]

from gunicorn_switch_core import log_rotation  # noqa: E402
from tests.corpus.uwsgi_cases import conf_of  # noqa: E402


def test_the_rendered_conf_has_the_defaults_and_they_can_be_changed():
    text = conf_of("baota_socket.ini")
    assert log_rotation.read_settings(text) == {"max_mb": 100, "keep": 7, "max_age_hours": 24,
                                                "memory_limit_mb": 0}
    new = log_rotation.set_settings(text, {"max_mb": 20, "keep": 3})
    assert log_rotation.read_settings(new) == {"max_mb": 20, "keep": 3, "max_age_hours": 24,
                                               "memory_limit_mb": 0}
    assert "_LOG_ROTATE_MAX_BYTES = 20971520  # set by the 设置 tab on " in new
    compile(new, "gunicorn_conf.py", "exec")
    # everything else is as it was
    assert [a for a in text.splitlines() if "_LOG_ROTATE_" not in a] == \
        [b for b in new.splitlines() if "_LOG_ROTATE_" not in b]
    again = log_rotation.set_settings(new, {"max_age_hours": 0})
    assert log_rotation.read_settings(again)["max_age_hours"] == 0


def test_a_conf_without_the_lines_is_refused():
    assert log_rotation.read_settings("workers = 2\n") is None
    with pytest.raises(ValueError):
        log_rotation.set_settings("workers = 2\n", {"keep": 3})
