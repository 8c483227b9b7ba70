"""A suite for confine's attribution: one test that allocates, touches and frees 100 MiB,
small tests around it, and a probed function that sleeps 2 ms."""
import time

from confine_probe import measure

MIB = 1024 * 1024


def test_small_before():
    assert sum(range(1000)) == 499500


def test_big_allocation():
    block = b"\x01" * (100 * MIB)  # written, so every page is resident
    assert len(block) == 100 * MIB
    del block


def test_small_after():
    time.sleep(0.02)
    assert "confine".upper() == "CONFINE"


@measure("sleep_2ms")
def sleep_2ms():
    # Sleep to 600 us short of 2 ms, then spin: a plain sleep overshoots by 50-500 us on a busy machine.
    deadline = time.monotonic_ns() + 2_000_000
    time.sleep(0.0014)
    while time.monotonic_ns() < deadline:
        pass


def test_probed_function():
    for _ in range(500):
        sleep_2ms()


def test_small_last():
    assert [1, 2, 3][::-1] == [3, 2, 1]
