"""The pure parts of status/control/logs: error-log parsing, exit causes, rate deltas,
replacement matching, the conf's workers line, log tails."""
import datetime

import pytest

from gunicorn_switch_core import worker_exits, control, logs, processes, status

LOG = """\
[2026-03-01 10:00:00 +0800] [100] [INFO] Starting gunicorn 27.0.1
[2026-03-01 10:00:00 +0800] [100] [INFO] Booting worker with pid: 101
[2026-03-01 10:00:05 +0800] [100] [CRITICAL] WORKER TIMEOUT (pid:101)
[2026-03-01 10:00:05 +0800] [101] [ERROR] Error handling request /slow/?s=9
[2026-03-01 10:00:06 +0800] [100] [ERROR] Worker (pid:101) was sent SIGKILL! Perhaps out of memory?
[2026-03-01 10:01:00 +0800] [100] [ERROR] Worker (pid:102) was sent SIGKILL! Perhaps out of memory?
[2026-03-01 10:02:00 +0800] [100] [WARNING] Worker (pid:103) was sent SIGSEGV!
[2026-03-01 10:03:00 +0800] [100] [ERROR] Worker (pid:104) exited with code 3.
[2026-03-01 10:03:30 +0800] [100] [ERROR] Worker (pid:106) exited with code: 1
[2026-03-01 10:04:00 +0800] [100] [INFO] Worker (pid:105) was sent SIGTERM!
[2026-03-01 10:05:00 +0800] [100] [WARNING] Worker (pid:107) was sent signal 64!
garbage line Worker (pid:999) was sent SIGKILL!
"""


def ts(text):
    return datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S %z").timestamp()


def test_parse_error_log():
    ev = worker_exits.parse_error_log(LOG)
    assert sorted(ev) == [101, 102, 103, 104, 105, 106, 107]  # 999: not a log line
    assert ev[101]["timeout"] and ev[101]["signal"] == 9 and ev[101]["oom"]
    assert ev[101]["time"] == ts("2026-03-01 10:00:06 +0800")
    assert len(ev[101]["lines"]) == 2
    assert ev[102]["oom"] and not ev[102]["timeout"]
    assert ev[103]["signal"] == 11 and not ev[103]["oom"]
    assert ev[104]["code"] == 3 and ev[106]["code"] == 1  # 27.x and 23.0 wording
    assert ev[105]["signal"] == 15
    assert ev[107]["signal"] == 64


def test_parse_log_time_of_other_formats_is_none():
    assert worker_exits.parse_log_time("Mar 1 10:00:00") is None


def rec(pid, cause, t=0.0, code=0, sig=0):
    return {"pid": pid, "time": t, "requests": 5, "age": 10.0, "exitcode": code,
            "signal": sig, "cause": cause}


def test_causes_from_records_and_log():
    ev = worker_exits.parse_error_log(LOG)
    t = ts("2026-03-01 10:00:06 +0800")
    exits = worker_exits.merge_exits([
        rec(101, "timeout", t, 1), rec(102, "killed", t + 54, -1), rec(103, "killed", t + 114, -1),
        rec(104, "exit", t + 174, 0), rec(105, "exit", t + 234), rec(108, "max_requests", t + 300),
        rec(109, "killed", t + 301, -1), rec(110, "boot_error", t + 302),
        rec(111, "reload_on_rss", t + 303),
    ], ev)
    causes = {e["pid"]: e["cause"] for e in exits}
    assert causes == {101: "timeout", 102: "oom", 103: "signal", 104: "crash", 105: "exit",
                      108: "max_requests", 109: "crash", 110: "crash",
                      111: "reload_on_rss", 106: "crash", 107: "signal"}
    assert [e["time"] for e in exits] == sorted((e["time"] for e in exits), reverse=True)
    by = {e["pid"]: e for e in exits}
    assert by[102]["signal"] == 9 and "Perhaps out of memory" in by[102]["detail"]
    assert by[104]["code"] == 3
    assert by[109]["code"] is None  # -1: the hooks did not see an exit code
    assert by[106]["requests"] is None  # known from the log only


def test_a_log_line_about_a_reused_pid_is_not_taken():
    ev = worker_exits.parse_error_log(LOG)
    t = ts("2026-03-01 10:01:00 +0800") + 3 * worker_exits.EXIT_MATCH_WINDOW
    [e102] = [e for e in worker_exits.merge_exits([rec(102, "exit", t)], ev) if e["pid"] == 102
              and e["time"] == t]
    assert e102["cause"] == "exit"


def test_merge_keeps_the_newest():
    exits = worker_exits.merge_exits([rec(i, "exit", float(i)) for i in range(50)], {}, limit=5)
    assert [e["pid"] for e in exits] == [49, 48, 47, 46, 45]


def test_rates_first_call_is_cumulative_then_deltas():
    cpu, rps = status.rates(None, 110.0, 7, 100.0, 2.0, 40)
    assert cpu == 20.0 and rps is None
    prev = {"t": 110.0, "procs": {"7": [100.0, 2.0, 40]}}
    assert status.rates(prev, 112.0, 7, 100.0, 2.5, 50) == (25.0, 5.0)
    # Too soon: cumulative again, no rate.
    assert status.rates(prev, 110.1, 7, 100.0, 2.0, 40) == (19.8, None)
    # Same pid, another process (pid reused): no delta against the old one.
    assert status.rates(prev, 112.0, 7, 111.0, 0.1, 1)[1] is None
    # Counters that went back (a slot re-created) give no rate, never a negative one.
    assert status.rates(prev, 112.0, 7, 100.0, 2.5, 3)[1] is None
    # No stats: a CPU rate, no request rate.
    assert status.rates(prev, 112.0, 7, 100.0, 2.5, None) == (25.0, None)


def test_match_replacements():
    workers = [{"pid": 1, "started": 0.0}, {"pid": 2, "started": 50.0},
               {"pid": 3, "started": 100.5}, {"pid": 4, "started": 101.0}]
    exits = [{"pid": 9, "time": 100.0, "cause": "timeout"},
             {"pid": 8, "time": 101.9, "cause": "oom"}]
    got = worker_exits.match_replacements(workers, exits)
    assert got[1] is None and got[2] is None
    assert got[3]["pid"] == 8 or got[3]["pid"] == 9
    assert {got[3]["pid"], got[4]["pid"]} == {8, 9}


CONF = """\
# uWSGI processes = 4 (uwsgi.ini:3)
workers = 4
# threads
threads = 2
# a comment mentioning workers = 9 is not the setting
"""


def test_conf_workers_line():
    assert control.conf_workers(CONF) == 4
    out = control.set_conf_workers(CONF, 5, "add_worker, was 4")
    assert control.conf_workers(out) == 5
    assert out.splitlines()[1] == "workers = 5  # set by the status page: add_worker, was 4"
    assert [a for a, b in zip(CONF.splitlines(), out.splitlines()) if a != b] == ["workers = 4"]
    again = control.set_conf_workers(out, 4, "remove_worker, was 5")
    assert again.count("# set by the status page") == 1
    own = CONF.replace("workers = 4", "workers = 4  # tuned for 2 GB")
    assert control.set_conf_workers(own, 3, "x").splitlines()[1] == "workers = 3  # tuned for 2 GB"


@pytest.mark.parametrize("text", ["threads = 2\n", "workers = 2\nworkers = 3\n",
                                  "if x:\n    workers = 2\n", "workers = int(os.environ['W'])\n"])
def test_conf_without_one_plain_workers_line(text):
    assert control.conf_workers(text) is None
    with pytest.raises(ValueError):
        control.set_conf_workers(text, 2, "x")


def test_tail_bytes():
    assert logs.tail_bytes(b"a\nb\nc\n", 2, False) == "b\nc\n"
    assert logs.tail_bytes(b"partial\nb\nc", 5, True) == "b\nc\n"
    assert logs.tail_bytes(b"", 5, False) == ""
    assert logs.tail_bytes(b"\xff\xfeok\n", 1, False) == "\ufffd\ufffdok\n"


def test_inside(tmp_path):
    d = tmp_path / "logs"
    d.mkdir()
    assert logs.inside(str(d / "a.log"), str(d))
    assert not logs.inside(str(d), str(d))
    assert not logs.inside(str(d / ".." / "x.log"), str(d))
    assert not logs.inside(str(tmp_path / "logs2" / "a.log"), str(d))


def test_parse_proc_stat_agrees_with_psutil():
    import os

    import psutil

    with open("/proc/%d/stat" % os.getpid()) as fh:
        got = processes.parse_proc_stat(fh.read(), psutil.boot_time(),
                                     os.sysconf("SC_CLK_TCK"), os.sysconf("SC_PAGE_SIZE"))
    p = psutil.Process()
    assert abs(got["started"] - p.create_time()) < 0.02
    assert got["name"] == p.name() and got["zombie"] is False
    assert got["rss"] > 0 and got["cpu_s"] >= 0


def test_parse_proc_stat_with_odd_names():
    line = ("42 (gunicorn: wo) r)) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 "
            "1000 123456 789 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0")
    got = processes.parse_proc_stat(line, 1000.0, 100, 4096)
    assert got == {"name": "gunicorn: wo) r)", "zombie": False, "cpu_s": 3.0,
                   "started": 1010.0, "rss": 789 * 4096}
