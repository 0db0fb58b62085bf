"""Is a site saturated? The listen queue of its socket, read from the kernel, and the advice.

When every worker slot is busy, new connections wait in the kernel's accept queue of the
listening socket: the first place a saturated Gunicorn shows, before any request is slow
in the workers' own numbers.

- TCP: the INET_DIAG netlink dump of listeners, as ``ss -lt`` reads it: the read queue is
  the connections waiting to be accepted, the write queue the backlog (after the kernel
  capped it at net.core.somaxconn). /proc/net/tcp and tcp6 carry the same queue as the LISTEN
  row's ``rx_queue`` but list every connection of the host (50 000 lines, 50 ms to read on a
  busy test host) and no backlog (``tx_queue`` is write_seq - snd_una, 0 for a listener): they
  are the fallback where netlink is not allowed.
- unix: /proc/net/unix has no queue columns; ``ss -lx`` gets its Recv-Q / Send-Q from the
  sock_diag netlink interface (UNIX_DIAG_RQLEN), so that is asked here, from Python, without a
  shell or a subprocess.

Nothing here reads a file the site's user can write: /proc/net and /proc/sys are the kernel's.
"""
import os
import socket
import struct
from typing import Any, Dict

from .addresses import is_any_host

SOMAXCONN_PATH = "/proc/sys/net/core/somaxconn"
TCP_LISTEN = 0x0A

# netlink sock_diag (linux/sock_diag.h, linux/unix_diag.h). DIAG is also rendered into
# gunicorn_conf.py (render.py), whose collector asks for its own unix listener by inode.
DIAG: Dict[str, Any] = {
    "netlink_sock_diag": 4, "sock_diag_by_family": 20, "nlm_f_request": 0x1,
    "nlmsg_error": 2, "nlmsg_done": 3, "nlmsg_hdr": "=IHHII",
    "unix_diag_req": "=BBHIIIII", "unix_diag_msg": "=BBBBIII", "rtattr": "=HH",
    "udiag_show_name": 0x01, "udiag_show_rqlen": 0x10,
    "unix_diag_name": 0, "unix_diag_rqlen": 4,
    "listen_states": 1 << TCP_LISTEN,  # the unix LISTEN state has the TCP number
    "no_cookie": 0xFFFFFFFF,  # INET_DIAG_NOCOOKIE: an exact query without the cookie check
}
_NETLINK_SOCK_DIAG = DIAG["netlink_sock_diag"]
_SOCK_DIAG_BY_FAMILY = DIAG["sock_diag_by_family"]
_NLM_F_REQUEST, _NLM_F_DUMP = DIAG["nlm_f_request"], 0x300
_NLMSG_ERROR, _NLMSG_DONE = DIAG["nlmsg_error"], DIAG["nlmsg_done"]
_UDIAG_SHOW_NAME, _UDIAG_SHOW_RQLEN = DIAG["udiag_show_name"], DIAG["udiag_show_rqlen"]
_UNIX_DIAG_NAME, _UNIX_DIAG_RQLEN = DIAG["unix_diag_name"], DIAG["unix_diag_rqlen"]
_NLMSG_HDR = struct.Struct(DIAG["nlmsg_hdr"])
_UNIX_DIAG_REQ = struct.Struct(DIAG["unix_diag_req"])
_UNIX_DIAG_MSG = struct.Struct(DIAG["unix_diag_msg"])
_INET_DIAG_REQ = struct.Struct("=BBBBI")  # then the 48-byte inet_diag_sockid, zero: all
_RTATTR = struct.Struct(DIAG["rtattr"])


def somaxconn(path=SOMAXCONN_PATH):
    try:
        with open(path) as fh:
            return int(fh.read().strip())
    except (OSError, ValueError):
        return None


def _hex_addr(text):
    """(address string, port) of a /proc/net/tcp* ``local_address`` field."""
    addr, _, port = text.partition(":")
    raw = bytes.fromhex(addr)
    # the kernel prints each 32-bit word in host order (little-endian on the panels' hosts)
    raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    family = socket.AF_INET if len(raw) == 4 else socket.AF_INET6
    return socket.inet_ntop(family, raw), int(port, 16)


def parse_proc_net_tcp(text, host, port):
    """[(queue, tx_queue)] of the LISTEN sockets on ``host:port`` (a wildcard listener counts:
    it is the one that takes the bind's connections)."""
    out = []
    for line in text.splitlines()[1:]:
        f = line.split()
        if len(f) < 5 or int(f[3], 16) != TCP_LISTEN:
            continue
        try:
            addr, p = _hex_addr(f[1])
        except ValueError:
            continue
        if p != port or (addr != host and not is_any_host(addr) and
                         addr != "::ffff:" + host):
            continue
        tx, _, rx = f[4].partition(":")
        out.append((int(rx, 16), int(tx, 16)))
    return out


def parse_bind(bind):
    """("tcp", host, port) or ("unix", path, None) of a Gunicorn bind string."""
    if bind.startswith("unix:"):
        return "unix", bind[5:], None
    host, _, port = bind.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"  # nosec B104 -- Gunicorn's ":8000" is every address
    if host == "localhost":
        host = "127.0.0.1"
    return "tcp", host, int(port)


def tcp_queue(host, port, proc="/proc/net"):
    """/proc/net/tcp*, where sock_diag is not there: the queue, without the backlog (a
    listener's tx_queue there is write_seq - snd_una, 0)."""
    found = []
    for name in ("tcp", "tcp6"):
        try:
            with open(os.path.join(proc, name)) as fh:
                found += parse_proc_net_tcp(fh.read(), host, port)
        except OSError:
            continue
    if not found:
        return None
    return {"queue": sum(q for q, _ in found), "backlog": None}


def nl_messages(data):
    """(kind, payload) of each netlink message in one datagram."""
    off = 0
    while off + _NLMSG_HDR.size <= len(data):
        length, kind = _NLMSG_HDR.unpack_from(data, off)[:2]
        if length < _NLMSG_HDR.size:
            return
        yield kind, data[off + _NLMSG_HDR.size:off + length]
        off += (length + 3) & ~3


def rtattrs(data):
    """{type: payload} of a run of netlink attributes."""
    out = {}
    a = 0
    while a + _RTATTR.size <= len(data):
        alen, atype = _RTATTR.unpack_from(data, a)
        if alen < _RTATTR.size:
            break
        out[atype] = data[a + _RTATTR.size:a + alen]
        a += (alen + 3) & ~3
    return out


def _diag_dump(req):
    """The payloads of a sock_diag dump (a request for one address family)."""
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG)
    try:
        s.settimeout(2.0)
        s.send(_NLMSG_HDR.pack(_NLMSG_HDR.size + len(req), _SOCK_DIAG_BY_FAMILY,
                               _NLM_F_REQUEST | _NLM_F_DUMP, 1, 0) + req)
        out = []
        for _ in range(1024):  # every listening socket of the family, a few per datagram
            for kind, payload in nl_messages(s.recv(65536)):
                if kind in (_NLMSG_DONE, _NLMSG_ERROR):
                    return out
                if kind == _SOCK_DIAG_BY_FAMILY:
                    out.append(payload)
        return out
    finally:
        s.close()


def unix_listeners(payloads):
    """{path: (queue, backlog)} of listening unix sockets in a UNIX_DIAG dump."""
    out = {}
    for p in payloads:
        attrs = rtattrs(p[_UNIX_DIAG_MSG.size:])
        name, rq = attrs.get(_UNIX_DIAG_NAME), attrs.get(_UNIX_DIAG_RQLEN)
        if name and rq and len(rq) >= 8:
            out[name.rstrip(b"\0").decode("utf-8", "replace")] = struct.unpack_from("=II", rq)
    return out


def unix_queue(path):
    """What ``ss -lx`` shows for the listening socket at ``path``: Recv-Q (connections not yet
    accepted) and Send-Q (the backlog)."""
    req = _UNIX_DIAG_REQ.pack(socket.AF_UNIX, 0, 0, DIAG["listen_states"], 0,
                              _UDIAG_SHOW_NAME | _UDIAG_SHOW_RQLEN, DIAG["no_cookie"],
                              DIAG["no_cookie"])
    try:
        found = unix_listeners(_diag_dump(req)).get(path)
    except (OSError, AttributeError):
        return None
    return {"queue": found[0], "backlog": found[1]} if found else None


def inet_listeners(payloads, family):
    """{(address, port): (queue, backlog)} of listening TCP sockets in an INET_DIAG dump: for
    a listener the kernel reports its accept queue as the read queue and its backlog as the
    write queue (what ss -lt shows as Recv-Q and Send-Q)."""
    out = {}
    n = 4 if family == socket.AF_INET else 16
    for p in payloads:
        if len(p) < 64:
            continue
        port = struct.unpack_from(">H", p, 4)[0]
        addr = socket.inet_ntop(family, p[8:8 + n])
        out[(addr, port)] = struct.unpack_from("=II", p, 56)
    return out


def _matches(addr, p, host, port):
    return p == port and (addr == host or is_any_host(addr) or addr == "::ffff:" + host)


def tcp_queue_diag(host, port):
    """The listen queue from sock_diag: a dump of the listeners only, however many
    connections the host has (/proc/net/tcp lists them all: 50 ms for 50 000 sockets)."""
    found = []
    for family in (socket.AF_INET, socket.AF_INET6):
        req = _INET_DIAG_REQ.pack(family, socket.IPPROTO_TCP, 0, 0, 1 << TCP_LISTEN) + bytes(48)
        try:
            found += [v for (a, p), v in inet_listeners(_diag_dump(req), family).items()
                      if _matches(a, p, host, port)]
        except (OSError, AttributeError):
            return None
    if not found:
        return None
    return {"queue": sum(q for q, _ in found), "backlog": max(b for _, b in found)}


def listen_queue(bind):
    """{"queue", "backlog", "somaxconn"} of the socket Gunicorn listens on, or None."""
    if not bind:
        return None
    try:
        kind, host, port = parse_bind(bind)
    except ValueError:
        return None
    if kind == "unix":
        q = unix_queue(host)
    else:
        q = tcp_queue_diag(host, port) or tcp_queue(host, port)
    if q is not None:
        q["somaxconn"] = somaxconn()
    return q


# A queue seen non-empty for this long, on consecutive looks, is saturation, not a burst.
SATURATED_AFTER = 2.0


def queue_since(prev_since, queue, now):
    """When the queue became non-empty (kept across calls), or None when it is empty."""
    if not queue:
        return None
    return prev_since if prev_since and prev_since <= now else now


def advice(workers, capacity, queue, timeouts, available, latency):
    """One piece of advice for a saturated site: ("slow", vars) when requests are slow or
    time out (more workers only queue more of them), else ("add_workers", vars) with the
    memory the extra workers cost from the measured RSS, or ("no_memory", vars)."""
    rss = [w["rss"] for w in workers if w.get("rss")]
    per = (sum(rss) / len(rss)) if rss else 0
    p95 = (latency or {}).get("p95")
    if timeouts:
        return "slow", {"n": timeouts, "p95": p95 if p95 is not None else "-"}
    per_worker = max(1, capacity // max(1, len(workers)))
    n = max(1, min(len(workers), -(-queue // per_worker)))  # enough slots for the queue
    cost = n * per
    if available is not None and cost and cost * 2 > available:
        return "no_memory", {"per": round(per / 1048576.0), "free": round(available / 1048576.0),
                             "p95": p95 if p95 is not None else "-"}
    return "add_workers", {"n": n, "mb": round(cost / 1048576.0), "per": round(per / 1048576.0)}
