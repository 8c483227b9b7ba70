"""pytest plugin confine enables through PYTEST_PLUGINS: each test's start (with the worker's
RSS then) and end (with its peak RSS during the test) go to confine over the probe channel.

The peak is exact per process: /proc/self/clear_refs (5) resets the kernel's RSS high-water
mark at the start of the test, and VmHWM in /proc/self/status is read at its end. Works in
pytest-xdist workers too (each is its own process with its own tests).
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


def _status_bytes(field):
    try:
        status = os.pread(_proc_file("status", os.O_RDONLY), 8192, 0)
        start = status.index(field.encode())
        return int(status[start + len(field):status.index(b"\n", start)].split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    if not probe.enabled:
        yield
        return
    reset = _reset_peak()
    rss = _status_bytes("VmRSS:") if reset else None
    start = time.monotonic_ns()
    probe.send_event(probe.KIND_TEST_START, item.nodeid, start, 0,
                     probe.FLAG_PEAK if rss is not None else 0, rss or 0)
    yield
    end = time.monotonic_ns()
    outcome = _outcomes.pop(item.nodeid, "passed")
    peak = _status_bytes("VmHWM:") if reset else None
    flags = probe.OUTCOMES.get(outcome, 3) | (probe.FLAG_PEAK if peak is not None else 0)
    probe.send_event(probe.KIND_TEST_END, item.nodeid, start, end - start, flags, peak or 0)


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
