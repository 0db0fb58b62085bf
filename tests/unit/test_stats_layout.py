import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "plugin"))

from gunicorn_switch_core import stats_layout as L  # noqa: E402


def slot(**kw):
    values = dict(magic=L.MAGIC, version=L.VERSION, last_status=200, pid=42, seq=2,
                  boot_time=1.0, last_end=2.0, requests=4, total_us=8000, cur_start=0.0,
                  in_flight=0, retire_at=0.0, exit_flags=0, capacity=1, cur_method=b"GET",
                  cur_path="/é".encode())
    values.update(kw)
    head = struct.pack(L.FORMAT, *(values[f] for f in L.FIELDS))
    return head + bytes(L.SLOT_SIZE - len(head))


def test_offsets_match_format():
    buf = bytearray(slot())
    off, fmt = L.OFFSETS["requests"]
    struct.pack_into(fmt, buf, off, 10)
    assert L.read_slot(bytes(buf))["requests"] == 10
    assert L.HEAD_SIZE == struct.calcsize(L.FORMAT) <= L.HIST_OFFSET
    assert L.SLOT_SIZE == len(buf) == L.HIST_OFFSET + L.HIST_WINDOWS * L.HIST_WINDOW_SIZE


def test_read_slot():
    s = L.read_slot(slot())
    assert (s["pid"], s["avg_ms"], s["cur_path"], s["busy"]) == (42, 2.0, "/é", False)
    assert L.read_slot(slot(seq=3)) is None  # update in progress
    assert L.read_slot(slot(magic=b"XXXX")) is None
    assert L.read_slot(b"short") is None


def test_read_exits_and_dir(tmp_path):
    rec = struct.pack(L.EXIT_FORMAT, 7, 1.0, 3, 2.0, 0, 9, b"killed", 5 << 20)
    (tmp_path / L.EXITS_NAME).write_bytes(rec * 2 + b"\0" * 5)
    (tmp_path / "42.slot").write_bytes(slot())
    got = L.read_stats_dir(str(tmp_path))
    assert [e["cause"] for e in got["exits"]] == ["killed", "killed"]
    assert got["exits"][0]["rss"] == 5 << 20
    assert list(got["workers"]) == [42]


def test_spans_store_neighbouring_fields_in_one_pack():
    buf = bytearray(slot(requests=1, cur_start=5.0, in_flight=1))
    off, fmt = L.span("last_end", "in_flight")
    struct.pack_into(fmt, buf, off, 9.0, 11, 22000, 0.0, 0)
    s = L.read_slot(bytes(buf))
    assert (s["last_end"], s["requests"], s["total_us"], s["cur_start"], s["in_flight"]) == \
        (9.0, 11, 22000, 0.0, 0)
    assert (s["pid"], s["retire_at"], s["last_status"]) == (42, 0.0, 200)  # neighbours kept
    for first, last in L.SPANS.values():
        off, fmt = L.span(first, last)
        assert off == L.OFFSETS[first][0]
        assert off + struct.calcsize(fmt) == L.OFFSETS[last][0] + struct.calcsize(L.OFFSETS[last][1])


def test_span_refuses_a_reversed_run():
    import pytest
    with pytest.raises(ValueError):
        L.span("in_flight", "last_end")


def put_window(buf, k, stamp, counts):
    base = L.HIST_OFFSET + k * L.HIST_WINDOW_SIZE
    struct.pack_into("<I", buf, base, stamp)
    for i, n in counts.items():
        struct.pack_into("<I", buf, base + 4 * (1 + i), n)


def test_buckets_are_within_five_percent_of_their_middle():
    for ms in (0.05, 0.9, 3.3, 100.0, 250.0, 1234.5, 29000.0):
        got = L.bucket_value_ms(L.bucket_of(ms * 1000))
        assert abs(got - ms) / ms < 0.045, (ms, got)
    assert L.bucket_of(0) == 0 and L.bucket_of(10 ** 12) == L.HIST_BUCKETS - 1


def test_the_last_minute_is_summed_and_older_windows_left_out():
    now = 1000005.0
    cur = int(now // L.HIST_WINDOW_S)
    buf = bytearray(slot())
    b100, b300 = L.bucket_of(100000), L.bucket_of(300000)
    put_window(buf, cur % L.HIST_WINDOWS, cur, {b100: 80})
    put_window(buf, (cur - 6) % L.HIST_WINDOWS, cur - 6, {b300: 20})
    # a window of 80 s ago whose place was not reused since (no request then): left out
    put_window(buf, (cur - 8) % L.HIST_WINDOWS, cur - 8, {b300: 50})
    s = L.read_slot(bytes(buf), now)
    assert s["hist"][b100] == 80 and s["hist"][b300] == 20 and sum(s["hist"]) == 100
    p = L.percentiles(s["hist"])
    assert p["count"] == 100
    assert abs(p["p50"] - 100) < 5 and abs(p["p95"] - 300) < 14 and p["p99"] == p["p95"]
    later = L.read_slot(bytes(buf), now + 20)  # the window of cur - 6 has left the minute
    assert sum(later["hist"]) == 80
    assert L.percentiles([0] * L.HIST_BUCKETS)["p95"] is None
    merged = L.merge_hists([s["hist"], later["hist"]])
    assert merged[b100] == 160


def test_a_slot_of_the_previous_layout_is_not_read():
    assert L.read_slot(slot(version=1)) is None


def test_read_abort(tmp_path):
    import json
    rec = {"pid": 7, "time": 5.0, "method": "GET", "path": "/slow/", "elapsed": 2.5,
           "stacks": [{"thread": "MainThread", "stack": "  File \"x.py\", line 1, in slow\n"}]}
    (tmp_path / "7.abort").write_text(json.dumps(rec))
    got = L.read_abort(str(tmp_path), 7)
    assert got["path"] == "/slow/" and got["stacks"][0]["thread"] == "MainThread"
    assert L.read_abort(str(tmp_path), 8) is None
    (tmp_path / "8.abort").write_text(json.dumps(dict(rec, pid=9)))  # not its own
    assert L.read_abort(str(tmp_path), 8) is None
    (tmp_path / "9.abort").write_text("{not json")
    assert L.read_abort(str(tmp_path), 9) is None
