"""pytest plugin confine enables through PYTEST_PLUGINS: each test's start and end go to confine
over the probe channel, with the worker's own memory figures.

Live boundaries. A datagram at the moment a test ends carries its end and the next test's start:
confine reads the group's counters as it arrives, so the test gets the group's exact figures.
The worker's peak is exact too: /proc/self/clear_refs (5) resets the kernel's RSS high-water
mark at the start, VmHWM in /proc/self/status is read at the end.

Batched boundaries. A datagram per test costs the suite ~0.1 ms per test on a small VM (the
send, the wakeup of confine, the /proc reads): 10-20% of a suite of sub-millisecond tests. So a
test that passed in under 10 ms and raised the worker's high-water mark by under 1 MiB has its end,
and the next test's start, held back (FLAG_BATCHED): sent with the next live boundary (after a
long test, after 1 MiB of growth, at the session's end), or on their own once they are 50 ms old
or 256 records. One getrusage (the thread's: the cheaper call, the same high-water mark) per held
boundary. The running test is also written to a slot of confine's `running` file (a memory
store), so confine knows a test whose start is held back while it runs. confine attributes
batched tests from its own readings of the group (attribution `window`, docs/ARCHITECTURE.md).
Only passing ends are held: a held end lost with its process (an OOM kill) is a pass confine can
infer from the next test's start. SIGTERM (confine's timeout) sends what is held before the
process dies, as does the exit path (atexit, pytest_sessionfinish).
pytest-xdist workers send every boundary live: the group mixes workers, and each test needs its
worker's exact figures.

Beyond boundaries: the collected tests go to confine's `collected` file once collection is done
(so tests that never ran are listed `not_run`), and the phases outside tests (`collection` from
the plugin's import, `session finish`) go as phase records, so an OOM kill there is named by phase. No thread: a thread would make every
fork() in a test warn (Python 3.12+) and change what the suite does.
"""
import atexit
import mmap
import os
import resource
import signal
import struct
import sys
import threading
import time

import pytest

import confine_probe as probe

# A pytest started by a test of the suite (pytester's runpytest_subprocess, a test that runs
# pytest) is not the suite: its tests are not reported. The suite's pytest marks its processes
# in the environment (an xdist worker as such: a worker never starts workers), and a process that
# finds the mark, other than a worker under its controller, is nested.
_SESSION_MARK = os.environ.get("CONFINE_PYTEST_SESSION", "")
_IS_WORKER = bool(os.environ.get("PYTEST_XDIST_WORKER"))
NESTED = bool(_SESSION_MARK) and (_SESSION_MARK.endswith(":worker") or not _IS_WORKER)
if probe.enabled and not NESTED:
    os.environ["CONFINE_PYTEST_SESSION"] = "%d%s" % (os.getpid(), ":worker" if _IS_WORKER else "")
# Whether this process reports tests (the probe channel is there and it is the suite's pytest).
_REPORTS = probe.enabled and not NESTED

# A test at least this long, or one that raised the worker's high-water mark this much, gets a
# live boundary at its end; a live boundary costs under 1% of such a test.
LIVE_AFTER_NS = int(float(os.environ.get("CONFINE_PYTEST_LIVE_AFTER_MS", "10")) * 1_000_000)
LIVE_GROWTH_BYTES = 1 << 20
HELD_MAX_AGE_NS = 50_000_000
HELD_MAX_NAMES = 128  # names of held tests: about 256 records
# xdist workers (and CONFINE_PYTEST_LIVE=1) send every boundary live.
ALWAYS_LIVE = bool(os.environ.get("PYTEST_XDIST_WORKER")) or os.environ.get("CONFINE_PYTEST_LIVE") == "1"
# CONFINE_PYTEST_HOOK=1: see tests through the hook, never by wrapping pytest's runtestprotocol
# (a way out should the wrapper clash with a plugin; bench/attribution-overhead compares the two).
HOOK_ONLY = os.environ.get("CONFINE_PYTEST_HOOK") == "1"

_outcomes = {}
_rank = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}

# Opened once per process and reused: an open per test costs more than the test's own
# bookkeeping (and under a container profile, an open for writing is a round trip to confine).
_files = {}


def _proc_file(name, flags):
    key = (os.getpid(), name)
    fd = _files.get(key)
    if fd is None:
        fd = os.open("/proc/self/" + name, flags | os.O_CLOEXEC)
        _files[key] = fd
    return fd


def _reset_peak():
    try:
        os.write(_proc_file("clear_refs", os.O_WRONLY), b"5")
        return True
    except OSError:
        return False


def _status_bytes(*fields):
    """The named /proc/self/status fields in bytes, from one read (None where unreadable)."""
    try:
        status = os.pread(_proc_file("status", os.O_RDONLY), 8192, 0)
    except OSError:
        return [None] * len(fields)
    values = []
    for field in fields:
        try:
            start = status.index(field)
            values.append(int(status[start + len(field):status.index(b"\n", start)].split()[0]) * 1024)
        except (ValueError, IndexError):
            values.append(None)
    return values


def _high_water_mark():
    """The process's RSS high-water mark (since the last reset), in bytes: one cheap syscall."""
    return resource.getrusage(resource.RUSAGE_THREAD).ru_maxrss * 1024


def _start_event(nodeid, start, rss):
    return (probe.KIND_TEST_START, nodeid, start, 0, probe.FLAG_PEAK if rss is not None else 0, rss or 0)


# Boundaries held back, sent together, packed as they happen (no per-record encoding at send
# time): the datagram's name table entries and its 32-byte records, the name the last entry
# holds, and when the oldest held boundary happened (monotonic ns).
_names = []
_records = []
_last_name = None
_held_since = 0
_tid = threading.get_native_id() & 0xFFFFFFFF
_BATCHED = probe.FLAG_BATCHED | probe.FLAG_PEAK
_END, _START = probe.KIND_TEST_END, probe.KIND_TEST_START
_RECORD = probe.RECORD
# A batched test's end and the next test's start, one pack.
_PAIR = struct.Struct("<" + probe.RECORD.format.lstrip("<") * 2)
_name_entry = probe.name_entry


def _send(events):
    """Sends what is held, then `events` (kind, name, start ns, duration ns, flags, value), in
    one datagram."""
    global _names, _records, _last_name
    names, records = _names, _records
    for kind, name, start, duration, flags, value in events:
        if name != _last_name:
            names.append(_name_entry(name.encode("utf-8", "replace")))
            _last_name = name
        records.append(_RECORD.pack(kind, flags, len(names) - 1, _tid, start, duration, value))
    _names, _records, _last_name = [], [], None
    probe.send_packed(names, records)


# The running test in a slot of confine's `running` file (next to the probe socket), a memory
# store with no syscall: confine reads it about every 50 ms, so a test whose start is held back is
# known while it runs — its peak credited, an OOM kill or a timeout charged to it.
SLOT_SIZE, SLOTS, SLOT_NAME_MAX = 512, 64, 494
_slots = None
_slot_sequence = 0


def _open_slots():
    global _slots
    if not _REPORTS or os.environ.get("CONFINE_PYTEST_NO_RUNNING_FILE") == "1":
        return
    try:
        fd = os.open(os.path.join(os.path.dirname(probe._PATH), "running"), os.O_RDWR | os.O_CLOEXEC)
        try:
            _slots = mmap.mmap(fd, SLOT_SIZE * SLOTS)
        finally:
            os.close(fd)
    except (OSError, ValueError):
        _slots = None


_PID_START = struct.Struct("<iQ")
_SEQUENCE = struct.Struct("<I")
_pid = os.getpid()
_slot_offset = (_pid % SLOTS) * SLOT_SIZE


def _store_slot(entry, start):
    """Slot layout (docs/probe-protocol.md): u32 sequence, odd while it changes; i32 pid;
    u64 start ns; then `entry`, a name table entry (u16 length, the name, UTF-8) of at most
    SLOT_NAME_MAX bytes of name."""
    global _slot_sequence
    if _slots is None:
        return
    offset = _slot_offset
    _slot_sequence += 2
    # Odd first, then the fields and the name, then even: three stores, in order (confine also
    # reads twice).
    _SEQUENCE.pack_into(_slots, offset, _slot_sequence - 1)
    _slots[offset + 4:offset + 16 + len(entry)] = _PID_START.pack(_pid, start) + entry
    _SEQUENCE.pack_into(_slots, offset, _slot_sequence)


def _mark_running(raw, start):
    """The test whose encoded name is `raw` runs from `start` (ns)."""
    if len(raw) > SLOT_NAME_MAX:
        raw = raw[:SLOT_NAME_MAX].decode("utf-8", "ignore").encode("utf-8")  # at a character boundary
    _store_slot(_name_entry(raw), start)


_open_slots()


def _after_fork_in_child():
    global _names, _records, _last_name, _pid, _slot_offset, _tid
    _names, _records, _last_name = [], [], None
    _tid = threading.get_native_id() & 0xFFFFFFFF
    _pid = os.getpid()
    _slot_offset = (_pid % SLOTS) * SLOT_SIZE


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(lambda: _send(()) if _REPORTS else None)


def _flush_then_die(signum, frame):
    """SIGTERM (confine's timeout, a runtime stopping the container): the held-back ends go out,
    then the process dies of the signal as it would have."""
    try:
        if _records:
            _send(())
        probe.flush()
    except Exception:
        pass
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _phase(name):
    """A phase of the run outside tests begins now (sent with what is held)."""
    if _REPORTS:
        _send([(probe.KIND_PHASE, name, time.monotonic_ns(), 0, 0, 0)])


if _REPORTS:
    # Only where nothing else handles SIGTERM, and only in the main thread (signal's rule).
    try:
        # confine_probe's own handler (installed at its import) only flushes the calls; this one sends both.
        if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, probe._flush_then_die):
            signal.signal(signal.SIGTERM, _flush_then_die)
    except ValueError:
        pass
    # From pytest's start (this module is imported with the plugins, before conftest.py) to the
    # end of collection.
    _phase("collection")

# The test whose start went out (live or held) with the previous test's end, and that start (ns).
_announced = None
_announced_start = 0
# Whether getrusage's high-water mark follows this process (None: not checked yet).
_marks_usable = None
# The running test's starting high-water mark, KiB (getrusage's unit): the RSS its live start
# reset the mark to, or the mark at its held start. None: unknown (the reset failed), so its end
# goes out live.
_baseline = None


def _started_live(rss):
    global _baseline, _marks_usable
    _baseline = rss // 1024 if rss is not None else None
    if _marks_usable is None and rss is not None:
        # getrusage reports at least the mark of the image before exec: when that is above this
        # process's own (just reset to its RSS), it cannot see growth, and every boundary goes live.
        _marks_usable = _high_water_mark() < rss + LIVE_GROWTH_BYTES
    if not _marks_usable:
        _baseline = None



def _started(nodeid):
    """A test whose start was not announced with the previous test's end starts live: its peak
    reset, its RSS read, a datagram now. Returns its start (ns)."""
    rss = _status_bytes(b"VmRSS:")[0] if _reset_peak() else None
    _started_live(rss)
    start = _clock()
    _mark_running(nodeid.encode("utf-8", "replace"), start)
    _send([_start_event(nodeid, start, rss)])
    return start


# How the plugin sees each test. pytest's own pytest_runtest_protocol calls
# _pytest.runner.runtestprotocol(item, nextitem=...) for each test: when no other plugin runs
# tests its own way, the plugin wraps that function: a plain call, cheaper than a hook wrapper
# through pluggy (bench/attribution-overhead --ablations). Otherwise (pytest-rerunfailures and
# the like implement the hook themselves) it wraps the hook.
_runner = None
_wrapped = None  # the runtestprotocol the plugin replaced
_engaged_by = None  # the session that replaced it (a nested pytester session must not undo it)


def _protocol(item, log=True, nextitem=None):
    global _announced
    if item.session is not _engaged_by:
        # A nested session (pytester's runpytest() in a test): its tests are not the suite's.
        return _wrapped(item, log=log, nextitem=nextitem)
    nodeid = item.nodeid
    start = _announced_start if _announced == nodeid else _started(nodeid)
    _announced = None
    try:
        result = _wrapped(item, log=log, nextitem=nextitem)
    except BaseException:
        _abandoned()
        raise
    _ended(item, nodeid, nextitem, start)
    return result


def _protocol_hook(item, nextitem):
    # _protocol's first lines again, not a shared helper: a call more per test on the fast path.
    global _announced
    if item.session is not _engaged_by:
        return (yield)
    nodeid = item.nodeid
    start = _announced_start if _announced == nodeid else _started(nodeid)
    _announced = None
    try:
        result = yield
    except BaseException:
        _abandoned()
        raise
    if getattr(result, "excinfo", None) is not None:  # an old-style wrapper's outcome object
        _abandoned()
        return result
    _ended(item, nodeid, nextitem, start)
    return result


def _abandoned():
    """The test did not end: an exception (KeyboardInterrupt on confine's SIGINT, an internal
    error) left pytest's protocol. What is held goes out; the test stays open, and confine says
    how the run ended it (interrupted, timed out, crashed)."""
    try:
        if _records:
            _send(())
    except Exception:
        pass


class _ProtocolHook:
    try:
        # A new-style wrapper: pluggy runs it without a Result object per test.
        pytest_runtest_protocol = staticmethod(pytest.hookimpl(wrapper=True)(_protocol_hook))
    except TypeError:
        # pluggy before 1.1 (pytest 7 as Debian 12 ships it): an old-style wrapper, same generator.
        pytest_runtest_protocol = staticmethod(pytest.hookimpl(hookwrapper=True)(_protocol_hook))


def _runs_tests_its_own_way(hook_impl, runner):
    wrapper = hook_impl.hookwrapper or getattr(hook_impl, "wrapper", False)
    return not wrapper and hook_impl.plugin is not runner


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session):
    # Every plugin and conftest is registered by now (after collection).
    global _runner, _wrapped, _engaged_by
    if not _REPORTS or _engaged_by is not None:
        return
    # pytest's internals, not its API: a pytest without them gets the hook.
    runner = sys.modules.get("_pytest.runner")
    current = getattr(runner, "runtestprotocol", None)
    if current is _protocol:  # left in place by a session that never finished: already seen
        return
    manager = session.config.pluginmanager
    implementations = manager.hook.pytest_runtest_protocol.get_hookimpls()
    if callable(current) and not HOOK_ONLY and not any(_runs_tests_its_own_way(impl, runner) for impl in implementations):
        _runner, _wrapped = runner, current
        runner.runtestprotocol = _protocol
    elif not manager.has_plugin("confine_pytest_protocol"):
        manager.register(_ProtocolHook(), "confine_pytest_protocol")
    _engaged_by = session


_clock = time.monotonic_ns
_getrusage = resource.getrusage
# The thread's getrusage costs less than the process's (no walk over its threads) and reports the
# same high-water mark: the address space's.
_THREAD = resource.RUSAGE_THREAD
_LIVE_GROWTH_KIB = LIVE_GROWTH_BYTES // 1024


def _ended(item, nodeid, nextitem, start):
    global _announced, _announced_start, _baseline, _held_since, _last_name, _passed_seen
    end = _clock()
    session = item.session
    passed = _stats.get("passed") if _stats is not None else None
    if passed and len(passed) == _passed_seen + 1 and session.testsfailed == _failed_seen:
        _passed_seen += 1
        outcome = 0
    else:
        outcome = _outcome(session, nodeid)
    # The next test starts now; not when the session stops here (-x, --maxfail, an interrupt).
    if nextitem is not None and (session.shouldstop or session.shouldfail):
        nextitem = None
    if outcome == 0 and nextitem is not None and end - start < LIVE_AFTER_NS and _baseline is not None and not ALWAYS_LIVE:
        mark = _getrusage(_THREAD).ru_maxrss
        if mark - _baseline < _LIVE_GROWTH_KIB:
            # Held: this end and the next start, the high-water mark (KiB here) as both figures.
            following = nextitem.nodeid
            raw = following.encode("utf-8", "replace")
            # The name's table entry is also the slot's tail when the slot holds the whole name.
            entry = _name_entry(raw)
            if len(raw) <= SLOT_NAME_MAX:
                _store_slot(entry, end)
            else:
                _mark_running(raw, end)
            names = _names
            if not names:
                _held_since = end
            if nodeid != _last_name:
                names.append(_name_entry(nodeid.encode("utf-8", "replace")))
            names.append(entry)
            _last_name = following
            index = len(names) - 1
            value = mark * 1024
            _records.append(_PAIR.pack(_END, outcome | _BATCHED, index - 1, _tid, start, end - start, value,
                                       _START, _BATCHED, index, _tid, end, 0, value))
            # Sent without a live boundary (no /proc reads): confine attributes them from its readings.
            if index >= HELD_MAX_NAMES or end - _held_since >= HELD_MAX_AGE_NS:
                _send(())
            _announced, _announced_start = following, end
            if mark > _baseline:
                _baseline = mark
            return
    # Live: one read gives this test's peak (VmHWM since the last reset) and the next test's RSS.
    peak, rss = _status_bytes(b"VmHWM:", b"VmRSS:")
    events = [(probe.KIND_TEST_END, nodeid, start, end - start, outcome | (probe.FLAG_PEAK if peak is not None else 0),
               peak or 0)]
    if nextitem is not None:
        following = nextitem.nodeid
        rss = rss if _reset_peak() else None
        events.append(_start_event(following, end, rss))
        _announced, _announced_start = following, end
        _started_live(rss)
        _mark_running(following.encode("utf-8", "replace"), end)
    _send(events)


# Outcomes. The terminal reporter files every report under its category: a test passed when
# its "passed" list grew by one and the session's failure count did not move (two reads, not a
# hook call per phase); otherwise its reports are found at the ends of the other lists.
_stats = None
_passed_seen = 0
_failed_seen = 0
_WORST_FIRST = (("error", 3), ("failed", 1), ("skipped", 2), ("xfailed", 2))


def _outcome(session, nodeid):
    global _passed_seen, _failed_seen
    if _stats is None:
        return probe.OUTCOMES.get(_outcomes.pop(nodeid, "passed"), 3) if _outcomes else 0
    # Not the plain pass _ended checks first: catch up with the lists, then look for its reports.
    passed = _stats.get("passed")
    _passed_seen, _failed_seen = len(passed) if passed else 0, session.testsfailed
    for category, outcome in _WORST_FIRST:
        reports = _stats.get(category)
        if reports and any(getattr(report, "nodeid", None) == nodeid for report in reports[-3:]):
            return outcome
    return 0


class _ReportOutcomes:
    """Without the terminal reporter (-p no:terminal), outcomes come from every report."""

    @staticmethod
    def pytest_runtest_logreport(report):
        if report.outcome == "passed" and (not _outcomes or report.nodeid not in _outcomes):
            return
        if report.failed:
            outcome = "failed" if report.when == "call" else "error"
        elif report.skipped:
            outcome = "skipped"
        else:
            outcome = "passed"
        # The worst phase wins: error/failed over skipped over passed.
        _outcomes[report.nodeid] = max(_outcomes.get(report.nodeid, "passed"), outcome, key=_rank.get)


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session):
    global _stats, _failed_seen
    if not _REPORTS:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    stats = getattr(reporter, "stats", None)
    if isinstance(stats, dict):
        _stats = stats
        _failed_seen = session.testsfailed
    else:
        session.config.pluginmanager.register(_ReportOutcomes(), "confine_pytest_outcomes")


# Sharding (`confine run --shard I/N`): this session runs only its part of the suite. A test
# goes where CONFINE_SHARD_FILE's durations put it (confine balanced them, longest first into
# the lightest shard), else by FNV-1a of its node id modulo the shard count — the same split
# confine and `confine shard --list` make (ConfineCore/Shard/Sharding.swift).
_SHARD_INDEX = int(os.environ.get("CONFINE_SHARD_INDEX", "0") or 0)
_SHARD_TOTAL = int(os.environ.get("CONFINE_SHARD_TOTAL", "0") or 0)


def shard_hash(name):
    """FNV-1a, 64 bits, over the name's UTF-8."""
    value = 0xCBF29CE484222325
    for byte in name.encode("utf-8"):
        value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return value


def _shard_assigned():
    path = os.environ.get("CONFINE_SHARD_FILE")
    if not path:
        return {}
    import json
    with open(path, encoding="utf-8") as f:
        return json.load(f).get("assigned", {})


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    """Keeps this shard's tests, deselecting the others as -k does (pytest says how many)."""
    if NESTED or _SHARD_TOTAL < 2 or not 1 <= _SHARD_INDEX <= _SHARD_TOTAL:
        return
    assigned = _shard_assigned()
    keep, other = [], []
    for item in items:
        # A node id longer than the wire's names is in a report (and so in the assignment) cut as
        # the probe cuts it; the hash still takes the whole id, as `confine shard --list` does.
        shard = (assigned.get(item.nodeid) or assigned.get(probe.cut_name(item.nodeid.encode("utf-8")).decode("utf-8"))
                 or shard_hash(item.nodeid) % _SHARD_TOTAL + 1)
        (keep if shard == _SHARD_INDEX else other).append(item)
    if other:
        config.hook.pytest_deselected(items=other)
        items[:] = keep
    global _shard_emptied
    _shard_emptied = bool(other) and not keep


# A shard the split left empty (more shards than tests) has nothing to fail: pytest's "no tests
# collected" (exit 5) is turned into success for it, as an empty swift test shard exits 0.
_shard_emptied = False



_collected_written = False


def pytest_collection_finish(session):
    """The tests this session will run, one per line, to confine's `collected` file: the ones it
    never sees start are `not_run`. Once per process (a nested pytester session is not the suite);
    xdist workers each collect the same set, so the first to find the file empty writes it."""
    global _collected_written
    if not _REPORTS or _collected_written or session.config.getoption("collectonly", False):
        return
    _collected_written = True
    try:
        fd = os.open(os.path.join(os.path.dirname(probe._PATH), "collected"), os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
    except OSError:
        return
    try:
        if os.fstat(fd).st_size > 0:
            return
        # One write: appends of workers that raced past the size check do not interleave. The
        # header says whether this process runs them all, in this order (not an xdist worker).
        header = "# confine-collected pid=%d in-order=%d\n" % (os.getpid(), 0 if os.environ.get("PYTEST_XDIST_WORKER") else 1)
        # Names as the boundaries carry them (cut at the wire's limit), one per line: a backslash,
        # a newline and a carriage return in one escaped (\\, \n, \r), so the name stays the test's.
        names = (probe.cut_name(item.nodeid.encode("utf-8", "replace")).decode("utf-8")
                 .replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r") for item in session.items)
        data = header.encode() + "".join(name + "\n" for name in names).encode("utf-8")
        while data:
            data = data[os.write(fd, data):]
    except OSError:
        pass
    finally:
        os.close(fd)


def pytest_sessionfinish(session, exitstatus):
    global _engaged_by
    if _shard_emptied and exitstatus == 5:
        session.exitstatus = 0
    if session is _engaged_by or _engaged_by is None:
        _phase("session finish")
    if session is _engaged_by:
        if _runner is not None and _runner.runtestprotocol is _protocol:
            _runner.runtestprotocol = _wrapped
        _engaged_by = None
    if _REPORTS:
        _send(())
