"""quote-service: a small FastAPI service for `confine load` and `confine capacity`.

    python3 examples/quote-service/quote_service.py --port 8080

GET /health  cheap readiness check
GET /quote   ~6 ms of pure-Python CPU work per request: under a CPU quota its latency climbs
             with concurrency (CFS throttling)
GET /cart    keeps ~64 KiB per request forever: memory grows with every call (a leak)

Each handler's work is probed for confine (`measure`); outside confine the probe is a no-op.
"""
import argparse
import hashlib

try:
    from confine_probe import measure  # on PYTHONPATH under confine
except ImportError:  # run without confine: no probes
    class measure:  # noqa: N801 - same name and shape as confine_probe.measure
        def __init__(self, name=None):
            pass

        def __call__(self, function):
            return function

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

try:
    import uvicorn
    from fastapi import FastAPI, Query
except ImportError as error:  # e.g. a pyenv/venv python3 that does not see Debian's packages
    raise SystemExit(f"quote-service: {error}; install python3-fastapi and python3-uvicorn "
                     "(apt-get) and run Debian's /usr/bin/python3, or pip install fastapi uvicorn")

# Iterations of the pricing loop. Timed with Debian's python3 (3.11.2) on the 2-core dev machine
# at full speed: ~93 ns an iteration, so one quote takes 6.1 ms median, 5.8-5.9 ms fastest (200
# calls of price_quote; confine's probe saw a 6.2 ms median under hey -c 1). Retune if you move it.
QUOTE_ITERATIONS = 65_000
CART_ITEM_BYTES = 64 * 1024

app = FastAPI(title="quote-service")
_cart: list[bytes] = []  # module-level and never freed: the leak /cart demonstrates


@measure("quote")
def price_quote(sku: str, quantity: int) -> dict:
    """A deterministic 'risk-adjusted' price: a linear congruential walk seeded by the SKU, pure
    Python arithmetic, so it holds the GIL and burns one core for the whole loop."""
    h = int.from_bytes(hashlib.blake2b(sku.encode(), digest_size=4).digest(), "little")
    acc = 0
    for _ in range(QUOTE_ITERATIONS):
        h = (h * 1103515245 + 12345) & 0x7FFFFFFF
        acc += h % 97
    unit_cents = 1_000 + acc % 9_000
    return {"sku": sku, "quantity": quantity, "unit_cents": unit_cents, "total_cents": unit_cents * quantity}


@app.get("/health")
async def health() -> dict:
    return {"ok": True}


# /quote is a plain `def`: FastAPI runs it in its threadpool, so the event loop stays free to
# accept connections and answer /health (confine's --ready probe) between quotes. That buys no
# throughput: the GIL lets one thread run Python at a time, so the process is one core of quote
# work (~140 req/s here) whatever -c is. What rising concurrency shows is the quota: under 250m
# the process may run 25 ms per 100 ms period (~3 quotes with the framework's share) and is then
# frozen for 75 ms, so even at -c 1 every few requests wait out a throttled period (p95 ~87 ms
# against ~10 ms unthrottled) and at -c 16 p95 is ~0.7 s. An `async def` handler would run the loop
# on the event loop itself: the same one core and a similar curve, but /health and new
# connections would queue behind every quote in flight.
@app.get("/quote")
def quote(sku: str = Query("SKU-1"), quantity: int = Query(1, ge=1)) -> dict:
    return price_quote(sku, quantity)


@app.get("/cart")
def cart_add() -> dict:
    with measure("cart_add"):
        # bytes * n writes every byte, so the pages are really resident (a zeroed calloc'd
        # buffer might not be).
        _cart.append(b"\xa5" * CART_ITEM_BYTES)
        return {"items": len(_cart)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    # uvicorn installs SIGTERM/SIGINT handlers: in-flight requests finish, then exit status 0.
    uvicorn.run(app, host=args.host, port=args.port, workers=1, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
