import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "plugin"))

from gunicorn_switch_core import stats_layout as L  # noqa: E402


def slot(**kw):
    values = dict(magic=L.MAGIC, version=L.VERSION, last_status=200, pid=42, seq=2,
                  boot_time=1.0, last_end=2.0, requests=4, total_us=8000, cur_start=0.0,
                  in_flight=0, retire_at=0.0, exit_flags=0, cur_method=b"GET",
                  cur_path="/é".encode())
    values.update(kw)
    return struct.pack(L.FORMAT, *(values[f] for f in L.FIELDS))


def test_offsets_match_format():
    buf = bytearray(slot())
    off, fmt = L.OFFSETS["requests"]
    struct.pack_into(fmt, buf, off, 10)
    assert L.read_slot(bytes(buf))["requests"] == 10
    assert L.SLOT_SIZE == struct.calcsize(L.FORMAT) == len(buf)


def test_read_slot():
    s = L.read_slot(slot())
    assert (s["pid"], s["avg_ms"], s["cur_path"], s["busy"]) == (42, 2.0, "/é", False)
    assert L.read_slot(slot(seq=3)) is None  # update in progress
    assert L.read_slot(slot(magic=b"XXXX")) is None
    assert L.read_slot(b"short") is None


def test_read_exits_and_dir(tmp_path):
    rec = struct.pack(L.EXIT_FORMAT, 7, 1.0, 3, 2.0, 0, 9, b"killed")
    (tmp_path / "exits").write_bytes(rec * 2 + b"\0" * 5)
    (tmp_path / "42.slot").write_bytes(slot())
    got = L.read_stats_dir(str(tmp_path))
    assert [e["cause"] for e in got["exits"]] == ["killed", "killed"]
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
