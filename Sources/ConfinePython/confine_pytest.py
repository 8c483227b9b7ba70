"""pytest plugin confine enables through PYTEST_PLUGINS: each test's start (with the worker's
RSS then) and end (with its peak RSS during the test) go to confine over the probe channel.

The peak is exact per process: /proc/self/clear_refs (5) resets the kernel's RSS high-water
mark at the start of the test, and VmHWM in /proc/self/status is read at its end. Works in
pytest-xdist workers too (each is its own process with its own tests).

Cost per test (bench/attribution-overhead): one datagram (a test's end carries the next
test's start), one read of /proc/self/status, one write to clear_refs.
"""
import time

import pytest

import confine_probe as probe

_outcomes = {}


import os

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


def _start_event(nodeid, start, rss):
    return (probe.KIND_TEST_START, nodeid, start, 0, probe.FLAG_PEAK if rss is not None else 0, rss or 0)


# The test whose start went out with the previous test's end: (nodeid, start ns).
_announced = None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    global _announced
    if not probe.enabled:
        yield
        return
    if _announced is not None and _announced[0] == item.nodeid:
        start = _announced[1]
    else:
        reset = _reset_peak()
        rss = _status_bytes(b"VmRSS:")[0] if reset else None
        start = time.monotonic_ns()
        probe.send_events([_start_event(item.nodeid, start, rss)])
    _announced = None
    yield
    end = time.monotonic_ns()
    outcome = _outcomes.pop(item.nodeid, "passed")
    # One read gives this test's peak (VmHWM since the reset) and the next test's starting RSS.
    peak, rss = _status_bytes(b"VmHWM:", b"VmRSS:")
    flags = probe.OUTCOMES.get(outcome, 3) | (probe.FLAG_PEAK if peak is not None else 0)
    events = [(probe.KIND_TEST_END, item.nodeid, start, end - start, flags, peak or 0)]
    # The next test starts now: announce it with this end, one datagram per test instead of
    # two. Not when the session stops here (-x, --maxfail, an interrupt): it would never end.
    session = item.session
    if nextitem is not None and not session.shouldstop and not session.shouldfail:
        reset = _reset_peak()
        events.append(_start_event(nextitem.nodeid, end, rss if reset else None))
        _announced = (nextitem.nodeid, end)
    probe.send_events(events)


def pytest_runtest_logreport(report):
    if not probe.enabled:
        return
    previous = _outcomes.get(report.nodeid, "passed")
    if report.failed:
        outcome = "failed" if report.when == "call" else "error"
    elif report.skipped:
        outcome = "skipped"
    else:
        outcome = "passed"
    # The worst phase wins: error/failed over skipped over passed.
    rank = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}
    _outcomes[report.nodeid] = max(previous, outcome, key=rank.get)
