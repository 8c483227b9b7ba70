"""Per-function timings for confine (docs/probe-protocol.md).

    from confine_probe import measure

    @measure("calculate_discount")
    def calculate_discount(order): ...

    with measure("load_fixtures"):
        ...

Outside confine (CONFINE_PROBE_SOCKET unset) the decorator returns the function unchanged
and the context manager does nothing. Under confine each call appends one record to an
in-process buffer, sent to confine as one datagram per batch (1024 records, or 200 ms, or at
exit). Sending blocks while confine's queue is full: a fast target is slowed, never cut.
"""
import atexit
import collections
import functools
import os
import signal
import socket
import struct
import sys
import threading
import time
import zlib

__all__ = ["measure", "record", "flush", "enabled", "dropped"]

_PATH = os.environ.get("CONFINE_PROBE_SOCKET") or None
enabled = _PATH is not None

_HEADER = struct.Struct("<4sBBHIII")  # magic, version, reserved, names, pid, records, dropped
RECORD = struct.Struct("<BBHIQQq")  # kind, flags, name index, tid, start ns, duration ns, value
NAME_LENGTH = struct.Struct("<H")
NAME_MAX = 1024
KIND_CALL, KIND_TEST_START, KIND_TEST_END, KIND_PHASE = 1, 2, 3, 4
FLAG_BYTES, FLAG_PEAK, FLAG_BATCHED = 1, 4, 8
OUTCOMES = {"passed": 0, "failed": 1, "skipped": 2, "error": 3}

BATCH = int(os.environ.get("CONFINE_PROBE_BATCH", "1024"))
FLUSH_NS = 200_000_000

_clock = time.monotonic_ns  # CLOCK_MONOTONIC, confine's clock
_tid = threading.get_native_id
_pending = collections.deque()  # append and popleft are atomic: no lock on the hot path
_send_lock = threading.Lock()
_socket = None
_dropped = 0
_last_flush = _clock()


def dropped():
    """Records this process could not deliver to confine."""
    return _dropped


def cut_name(raw):
    """The UTF-8 name `raw` as it goes on the wire: at most NAME_MAX bytes. A longer one is cut
    at a character boundary and ends in "…#" and the CRC-32 of the whole name, so two long
    names that share their first kilobyte stay two (confine refuses names that are not UTF-8)."""
    if len(raw) <= NAME_MAX:
        return raw
    mark = ("…#%08x" % (zlib.crc32(raw) & 0xFFFFFFFF)).encode("utf-8")
    return raw[:NAME_MAX - len(mark)].decode("utf-8", "ignore").encode("utf-8") + mark


def name_entry(raw):
    """A name table entry: NAME_LENGTH, then the UTF-8 name `raw`, cut as `cut_name` cuts it."""
    if len(raw) > NAME_MAX:
        raw = cut_name(raw)
    return NAME_LENGTH.pack(len(raw)) + raw


def _encode(batch):
    names = {}
    name_bytes = []
    records = []
    pack = RECORD.pack
    for kind, flags, name, tid, start, duration, value in batch:
        index = names.get(name)
        if index is None:
            index = names[name] = len(names)
            name_bytes.append(name_entry(name.encode("utf-8", "replace")))
        records.append(pack(kind, flags, index, tid & 0xFFFFFFFF, start, duration, value))
    return _datagram(name_bytes, b"".join(records), len(batch))


def _datagram(name_entries, body, count):
    """The header, the name table (NAME_LENGTH + UTF-8 each) and `count` packed records."""
    header = _HEADER.pack(b"CPRB", 1, 0, len(name_entries), os.getpid(), count, _dropped & 0xFFFFFFFF)
    return header + b"".join(name_entries) + body


def _send(batch):
    if batch:
        _send_bytes(_encode(batch), len(batch))


def _send_bytes(data, count):
    global _socket, _dropped
    with _send_lock:
        try:
            if _socket is None:
                _socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            _socket.sendto(data, _PATH)
        except OSError:
            _dropped += count


def flush():
    """Sends what is buffered now."""
    global _last_flush
    if not enabled:
        return
    _last_flush = _clock()
    _send(_take_batch())
    if _pending:
        flush()


def _take_batch():
    """Up to one datagram's worth (1800 records) of the buffered calls."""
    batch = []
    popleft = _pending.popleft
    try:
        while len(batch) < 1800:
            batch.append(popleft())
    except IndexError:
        pass
    return batch


def _record(name, start, end, value=0, flags=0):
    _pending.append((KIND_CALL, flags, name, _tid(), start, end - start, value))
    if len(_pending) >= BATCH or end - _last_flush >= FLUSH_NS:
        flush()


def record(name, start_ns, duration_ns, nbytes=None):
    """Records a call measured elsewhere (times from time.monotonic_ns())."""
    if enabled:
        _record(name, start_ns, start_ns + duration_ns, nbytes or 0, FLAG_BYTES if nbytes is not None else 0)


def send_packed(names, records):
    """Records the caller packed itself (RECORD each, or several in one bytes), naming entries
    of `names` (NAME_LENGTH + UTF-8 each) by position; sent behind the buffered calls."""
    global _last_flush
    if not enabled or not records:
        return
    if _pending:
        flush()
    _last_flush = _clock()
    body = b"".join(records)
    count = len(body) // RECORD.size
    _send_bytes(_datagram(names, body, count), count)


class measure:
    """Decorator (`@measure`, `@measure("name")`) and context manager (`with measure("name"):`)."""

    __slots__ = ("name", "start")

    def __new__(cls, name=None):
        if callable(name):  # @measure without arguments
            return cls(None)(name)
        return super().__new__(cls)

    def __init__(self, name=None):
        self.name = name
        self.start = 0

    def __call__(self, function):
        if not enabled:
            return function
        label = self.name or function.__qualname__
        clock = _clock
        append = _record

        @functools.wraps(function)
        def measured(*args, **kwargs):
            start = clock()
            try:
                return function(*args, **kwargs)
            finally:
                append(label, start, clock())

        return measured

    def __enter__(self):
        self.start = _clock()
        return self

    def __exit__(self, *exc):
        if enabled:
            _record(self.name or "anonymous", self.start, _clock())
        return False


def _after_fork_in_child():
    # The child must not send its parent's buffered records again.
    _pending.clear()
    # multiprocessing ends its forked workers with os._exit(), which skips atexit: flush from
    # its own exit hook instead.
    util = sys.modules.get("multiprocessing.util")
    if util is not None:
        util.Finalize(None, flush, exitpriority=100)


def _flush_then_die(signum, frame):
    """SIGTERM (confine load stopping a service, a runtime stopping its container): what is
    buffered goes out, then the process dies of the signal as it would have."""
    try:
        flush()
    except Exception:
        pass
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


if enabled:
    atexit.register(flush)
    os.register_at_fork(after_in_child=_after_fork_in_child)
    # Only where nothing else handles SIGTERM, and only from the main thread (signal's rule): a
    # service that handles it itself (uvicorn, gunicorn) exits through atexit.
    try:
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _flush_then_die)
    except ValueError:
        pass
