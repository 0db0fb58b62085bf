import socket
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "plugin"))

from gunicorn_switch_core import saturation as S  # noqa: E402

# /proc/net/tcp as the kernel prints it: 127.0.0.1:8000 LISTEN with 3 waiting, a wildcard
# listener on 9000, and an established connection on 8000 (not a listener: ignored).
TCP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F40 00000000:0000 0A 00000000:00000003 00:00000000 00000000  1000        0 1 1
   1: 00000000:2328 00000000:0000 0A 00000000:00000001 00:00000000 00000000  1000        0 2 1
   2: 0100007F:1F40 0100007F:D431 01 00000000:00000009 00:00000000 00000000  1000        0 3 1
"""
TCP6 = """  sl  local_address                         remote_address                        st tx_queue rx_queue
   0: 00000000000000000000000001000000:1F40 00000000000000000000000000000000:0000 0A 00000000:00000002 00
"""


def test_proc_net_tcp_listeners_by_address_and_port():
    assert S.parse_proc_net_tcp(TCP, "127.0.0.1", 8000) == [(3, 0)]
    assert S.parse_proc_net_tcp(TCP, "127.0.0.1", 9000) == [(1, 0)]  # 0.0.0.0 takes it
    assert S.parse_proc_net_tcp(TCP, "127.0.0.2", 8000) == []
    assert S.parse_proc_net_tcp(TCP6, "::1", 8000) == [(2, 0)]


def test_parse_bind():
    assert S.parse_bind("127.0.0.1:8000") == ("tcp", "127.0.0.1", 8000)
    assert S.parse_bind("[::1]:8000") == ("tcp", "::1", 8000)
    assert S.parse_bind(":8000") == ("tcp", "0.0.0.0", 8000)
    assert S.parse_bind("unix:/run/x.sock") == ("unix", "/run/x.sock", None)


def nlmsg(kind, payload):
    return struct.pack("=IHHII", 16 + len(payload), kind, 0, 1, 0) + payload + \
        b"\0" * (-len(payload) % 4)


def attr(kind, payload):
    return struct.pack("=HH", 4 + len(payload), kind) + payload + b"\0" * (-len(payload) % 4)


def test_netlink_dumps_are_decoded():
    msg = struct.pack("=BBBBIII", socket.AF_UNIX, 1, 10, 0, 77, 0, 0)
    unix = msg + attr(0, b"/run/g.sock") + attr(4, struct.pack("=II", 3, 128))
    data = nlmsg(20, unix) + nlmsg(3, b"\0" * 4)
    kinds = [k for k, _ in S.nl_messages(data)]
    assert kinds == [20, 3]
    assert S.unix_listeners([p for k, p in S.nl_messages(data) if k == 20]) == {
        "/run/g.sock": (3, 128)}
    sockid = struct.pack(">HH", 8000, 0) + socket.inet_aton("127.0.0.1") + b"\0" * 12 + \
        b"\0" * 16 + b"\0" * 12
    inet = struct.pack("=BBBB", socket.AF_INET, 10, 0, 0) + sockid + \
        struct.pack("=IIIII", 0, 2, 511, 1000, 5)
    assert S.inet_listeners([inet], socket.AF_INET) == {("127.0.0.1", 8000): (2, 511)}


def test_the_queue_is_saturation_only_once_it_stays():
    assert S.queue_since(None, 0, 10.0) is None
    assert S.queue_since(None, 3, 10.0) == 10.0
    assert S.queue_since(10.0, 1, 13.0) == 10.0
    assert S.queue_since(10.0, 0, 13.0) is None


def test_advice():
    ws = [{"rss": 100 << 20}, {"rss": 120 << 20}]
    kind, v = S.advice(ws, 2, 3, 0, 8 << 30, {"p95": 40.0})
    assert kind == "add_workers" and v == {"n": 2, "mb": 220, "per": 110}
    assert S.advice(ws, 2, 3, 0, 300 << 20, None)[0] == "no_memory"
    assert S.advice(ws, 2, 3, 2, 8 << 30, {"p95": 900.0}) == ("slow", {"n": 2, "p95": 900.0})
