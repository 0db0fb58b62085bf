"""The binary layout of the per-worker stats the generated gunicorn_conf.py writes.

One definition for both sides: the hooks rendered into gunicorn_conf.py (which run in the
site's venv, without this package) get ``FORMAT``/``EXIT_FORMAT`` and the offsets rendered in
from here, and the status page decodes with ``read_slot``/``read_exits``.

A slot is a small file ``<stats_dir>/<pid>.slot`` that its worker ``mmap``s in ``post_fork``
and updates in place per request: a file write per request halves throughput, an in-place
store into a mapped page does not (docs/ARCHITECTURE.md, facts: stats cost). ``seq`` is bumped before and after
every update (odd = update in progress), so a reader can retry a torn read.

Behind the fixed fields lie ``HIST_WINDOWS`` latency histograms, one per 10-second window
(ring by window number): each a window stamp and ``HIST_BUCKETS`` counters on a log scale of
``HIST_PER_OCTAVE`` buckets per doubling of microseconds. A request adds 1 to one counter of
the current window, so the cost does not depend on the traffic and nothing is allocated; the
reader sums the windows of the last minute. Eight buckets an octave put any latency within
4.4 % of its bucket's geometric middle, which is what the percentiles report.

Exits go to ``<stats_dir>/exits``: fixed-size records appended with one ``write`` each
(atomic for O_APPEND on a local file system); the master trims it to the last ``EXITS_KEEP``.
A worker killed for timeout also leaves ``<pid>.abort``: the request it was serving and the
stack of each of its threads (``read_abort``).
"""
import json
import math
import os
import struct
import time

from . import safe_files

MAGIC = b"GSW1"
VERSION = 2  # 2: latency histograms, slot capacity

# (name, struct code). Little-endian, no padding: the same bytes for every Python.
LAYOUT = (
    ("magic", "4s"),         # b"GSW1"
    ("version", "H"),        # layout version
    ("last_status", "H"),    # HTTP status of the last finished request
    ("pid", "I"),
    ("seq", "Q"),            # odd while an update is in progress
    ("boot_time", "d"),      # wall clock, seconds
    ("last_end", "d"),       # wall clock of the last finished request (0 = none yet)
    ("requests", "Q"),       # requests finished
    ("total_us", "Q"),       # sum of request durations, microseconds
    ("cur_start", "d"),      # wall clock start of the latest request in progress
    ("in_flight", "I"),      # requests in progress (gthread/gevent may have several)
    ("retire_at", "d"),      # wall clock after which the worker retires (0 = never)
    ("exit_flags", "H"),     # bit 0: retiring after this request (rss / lifetime limit);
                             # bit 1: asked to retire by the master's memory guard
    ("capacity", "H"),       # requests the worker serves at once (threads / connections)
    ("cur_method", "8s"),
    ("cur_path", "256s"),    # truncated, UTF-8
)
FORMAT = "<" + "".join(code for _, code in LAYOUT)
FIELDS = tuple(name for name, _ in LAYOUT)
HEAD_SIZE = struct.calcsize(FORMAT)

HIST_WINDOW_S = 10
HIST_WINDOWS = 7           # the current window and the six before it: the last minute
HIST_PER_OCTAVE = 8
HIST_BUCKETS = 27 * HIST_PER_OCTAVE  # 1 us .. 2**27 us (134 s); the last one takes the rest
# Counters are native unsigned ints through a memoryview in the hooks: little-endian hosts
# only (x86, arm64, what the panels run on); the hooks skip the histograms elsewhere.
HIST_OFFSET = (HEAD_SIZE + 7) // 8 * 8
HIST_WINDOW_SIZE = 4 * (1 + HIST_BUCKETS)  # stamp (window number) + counters
SLOT_SIZE = HIST_OFFSET + HIST_WINDOWS * HIST_WINDOW_SIZE
# name -> (byte offset, single-field struct format) for in-place updates by the hooks.
OFFSETS = {}
_pos = 0
for _name, _code in LAYOUT:
    OFFSETS[_name] = (_pos, "<" + _code)
    _pos += struct.calcsize("<" + _code)
del _pos, _name, _code


def span(first, last):
    """(byte offset, struct format) of the fields ``first``..``last`` as they lie in a slot,
    so that a hook stores a run of neighbouring fields with one ``pack_into``: the per-request
    hooks do two of them instead of one store per field."""
    i, j = FIELDS.index(first), FIELDS.index(last)
    if j < i:
        raise ValueError("%s comes after %s" % (first, last))
    return OFFSETS[first][0], "<" + "".join(code for _, code in LAYOUT[i:j + 1])


# The runs the hooks store per request: the sequence number around every update, what
# pre_request sets, and what post_request sets.
SPANS = {"seq": ("seq", "seq"), "begin": ("cur_start", "in_flight"),
         "current": ("cur_method", "cur_path"), "done": ("last_end", "in_flight"),
         "status": ("last_status", "last_status")}

EXIT_FORMAT = "<IdQdii16sQ"
EXIT_FIELDS = ("pid", "time", "requests", "age", "exitcode", "signal", "cause", "rss")
EXIT_SIZE = struct.calcsize(EXIT_FORMAT)
EXITS_KEEP = 200
MAX_EXITS_BYTES = 4 * EXITS_KEEP * EXIT_SIZE  # trimmed at twice EXITS_KEEP; a margin more
SLOT_SUFFIX = ".slot"
# v2 records carry the RSS: a new name, so that records of an older conf's hooks still
# running are never read with this layout
EXITS_NAME = "exits.v2"
# What worker_abort leaves of a timed-out worker: <pid>.abort, JSON, at most ABORT_MAX bytes;
# the master keeps the newest ABORT_KEEP.
ABORT_SUFFIX = ".abort"
ABORT_MAX = 8192
ABORT_KEEP = 20


def bucket_of(us):
    """The histogram bucket of a duration in microseconds (what the hooks compute)."""
    if us < 1:
        return 0
    return min(int(math.log2(us) * HIST_PER_OCTAVE), HIST_BUCKETS - 1)


def bucket_value_ms(i):
    """The geometric middle of bucket ``i`` in milliseconds."""
    return 2.0 ** ((i + 0.5) / HIST_PER_OCTAVE) / 1000.0


def read_hist(data, now, windows=HIST_WINDOWS - 1):
    """The counters of the windows of a slot that are at most ``windows``
    windows older than the window of ``now``, summed: a list of HIST_BUCKETS ints."""
    cur = int(now // HIST_WINDOW_S)
    out = [0] * HIST_BUCKETS
    fmt = "<%dI" % (1 + HIST_BUCKETS)
    for w in range(HIST_WINDOWS):
        values = struct.unpack_from(fmt, data, HIST_OFFSET + w * HIST_WINDOW_SIZE)
        if 0 <= cur - values[0] <= windows:
            for i, n in enumerate(values[1:]):
                if n:
                    out[i] += n
    return out


def merge_hists(hists):
    out = [0] * HIST_BUCKETS
    for h in hists:
        for i, n in enumerate(h):
            if n:
                out[i] += n
    return out


def percentiles(hist, qs=(50, 95, 99)):
    """{"p50": ms, ...} of a histogram (None when it is empty), and "count"."""
    total = sum(hist)
    out = {"count": total}
    for q in qs:
        out["p%d" % q] = None
        if not total:
            continue
        need, acc = total * q / 100.0, 0
        for i, n in enumerate(hist):
            acc += n
            if n and acc >= need:
                out["p%d" % q] = round(bucket_value_ms(i), 2)
                break
    return out


def read_slot(data, now=None):
    """Decode one slot. Returns a dict, or None for a short/foreign/torn buffer. ``hist`` is
    the latency histogram of the last minute (before ``now``)."""
    if len(data) < SLOT_SIZE:
        return None
    values = struct.unpack_from(FORMAT, data)
    slot = dict(zip(FIELDS, values))
    if slot["magic"] != MAGIC or slot["version"] != VERSION or slot["seq"] % 2:
        return None
    slot["hist"] = read_hist(data, time.time() if now is None else now)
    slot["cur_method"] = slot["cur_method"].rstrip(b"\0").decode("ascii", "replace")
    slot["cur_path"] = slot["cur_path"].rstrip(b"\0").decode("utf-8", "replace")
    slot["busy"] = slot["in_flight"] > 0
    slot["avg_ms"] = (slot["total_us"] / 1000.0 / slot["requests"]) if slot["requests"] else 0.0
    del slot["magic"]
    return slot


def read_slot_file(path, tries=5):
    """Read a slot file, retrying while a writer is mid-update. None if unreadable."""
    for _ in range(tries):
        try:
            # the stats dir is the site user's: no FIFO, no link out of it is read
            data = safe_files.read_bytes(path, SLOT_SIZE)[:SLOT_SIZE]
        except OSError:
            return None
        slot = read_slot(data)
        if slot is not None:
            return slot
    return None


def read_exits(data):
    """Decode the exits file content (bytes), oldest first; a partial tail is ignored."""
    out = []
    for off in range(0, len(data) - EXIT_SIZE + 1, EXIT_SIZE):
        rec = dict(zip(EXIT_FIELDS, struct.unpack_from(EXIT_FORMAT, data, off)))
        rec["cause"] = rec["cause"].rstrip(b"\0").decode("ascii", "replace")
        out.append(rec)
    return out


def read_stats_dir(path):
    """All live slots (by pid) and the recent exits of one site's stats directory."""
    workers = {}
    try:
        names = safe_files.listdir(path)
    except OSError:
        return {"workers": workers, "exits": []}
    for name in names:
        if name.endswith(SLOT_SUFFIX):
            slot = read_slot_file(os.path.join(path, name))
            if slot is not None:
                workers[slot["pid"]] = slot
    return {"workers": workers, "exits": read_exits_file(path)}


def read_exits_file(stats_dir):
    """The recent exits recorded in a stats directory (the file is bounded by the hooks'
    trimming; what is read is bounded here too)."""
    try:
        return read_exits(safe_files.read_bytes(os.path.join(stats_dir, EXITS_NAME),
                                                MAX_EXITS_BYTES)[:MAX_EXITS_BYTES])
    except OSError:
        return []


def read_abort(stats_dir, pid):
    """What worker_abort recorded for ``pid``: {time, method, path, elapsed, stacks:
    [{thread, stack}]}, or None."""
    try:
        data = safe_files.read_bytes(os.path.join(stats_dir, "%d%s" % (pid, ABORT_SUFFIX)),
                                     ABORT_MAX)[:ABORT_MAX]
        rec = json.loads(data.decode("utf-8", "replace"))
    except (OSError, ValueError):
        return None
    if not isinstance(rec, dict) or rec.get("pid") != pid:
        return None
    stacks = [{"thread": str(s.get("thread", ""))[:100], "stack": str(s.get("stack", ""))}
              for s in rec.get("stacks") or [] if isinstance(s, dict)]
    return {"time": rec.get("time"), "method": str(rec.get("method") or ""),
            "path": str(rec.get("path") or ""), "elapsed": rec.get("elapsed"), "stacks": stacks}


# The history ring the master's collector thread keeps: one record per HISTORY_STEP seconds
# at index (t // HISTORY_STEP) % HISTORY_SLOTS of a file of fixed size (24 h at 10 s: 8640
# records, 450 KB), so it never grows and a record's place says its time; ``t`` tells a
# fresh record from one a day old.
HISTORY_NAME = "history.ring"
HISTORY_STEP = 10
HISTORY_SLOTS = 24 * 3600 // HISTORY_STEP
HISTORY_LAYOUT = (("t", "d"), ("requests", "I"), ("p50", "f"), ("p95", "f"), ("p99", "f"),
                  ("busy_ratio", "f"), ("queue", "i"), ("workers", "H"), ("exits", "H"),
                  ("rss_sum", "Q"), ("rss_max", "Q"))
HISTORY_FORMAT = "<" + "".join(c for _, c in HISTORY_LAYOUT)
HISTORY_FIELDS = tuple(n for n, _ in HISTORY_LAYOUT)
HISTORY_SIZE = struct.calcsize(HISTORY_FORMAT)
HISTORY_BYTES = HISTORY_SLOTS * HISTORY_SIZE


def read_history(data, now, span):
    """The records of the last ``span`` seconds in a ring file's bytes, oldest first; -1 in
    p50/p95/p99 (no request in that step) and queue (unknown) become None."""
    out = []
    for off in range(0, min(len(data), HISTORY_BYTES) - HISTORY_SIZE + 1, HISTORY_SIZE):
        rec = dict(zip(HISTORY_FIELDS, struct.unpack_from(HISTORY_FORMAT, data, off)))
        if not 0 <= now - rec["t"] <= span:
            continue
        # what one worker holds on average: the sum over the workers of that step
        rec["rss_mean"] = rec["rss_sum"] // rec["workers"] if rec["workers"] else None
        for k in ("p50", "p95", "p99", "queue"):
            if rec[k] < 0:
                rec[k] = None
            elif k != "queue":
                rec[k] = round(rec[k], 2)
        rec["busy_ratio"] = round(rec["busy_ratio"], 3)
        rec["rps"] = round(rec["requests"] / float(HISTORY_STEP), 2)
        out.append(rec)
    out.sort(key=lambda r: r["t"])
    return out


def read_history_file(stats_dir, now, span):
    try:
        data = safe_files.read_bytes(os.path.join(stats_dir, HISTORY_NAME), HISTORY_BYTES)
    except OSError:
        return []
    return read_history(data[:HISTORY_BYTES], now, span)
