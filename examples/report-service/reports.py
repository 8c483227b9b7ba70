"""A toy report service: enough real work to show memory, CPU and worker processes."""
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

try:
    from confine_probe import measure  # on PYTHONPATH under confine
except ImportError:  # run without confine: no probes
    def measure(name=None):
        return lambda function: function


@measure("monthly_report")
def monthly_report(rows: int) -> int:
    """Builds the month's table in memory (about 100 bytes a row) and sums it."""
    table = [bytearray(64) for _ in range(rows)]
    for index, row in enumerate(table):
        row[0] = index % 251
    return sum(row[0] for row in table)


@measure("calculate_discount")
def calculate_discount(total_cents: int, loyalty_years: int) -> int:
    """CPU-bound pricing: iterate a loyalty curve."""
    rate = 0.0
    for year in range(loyalty_years * 20_000):
        rate = (rate + 0.0001 * (year % 7)) % 0.3
    return int(total_cents * (1 - rate))


def _render(rows: int) -> int:
    return monthly_report(rows)


def render_in_workers(jobs: list[int]) -> list[int]:
    """Renders several reports in worker processes, as a batch job would."""
    # ProcessPoolExecutor, not multiprocessing.Pool: a Pool waits forever for a worker that
    # was OOM-killed, the executor raises BrokenProcessPool.
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("fork")) as pool:
        return list(pool.map(_render, jobs))
