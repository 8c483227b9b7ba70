"""A discount calculator and a monthly report, probed for confine (docs/probe-protocol.md)."""
try:
    from confine_probe import measure  # on PYTHONPATH under confine
except ImportError:  # without confine: no probes
    def measure(name=None):
        return lambda function: function

TIER_RATES = {"bronze": 0.00, "silver": 0.05, "gold": 0.10, "platinum": 0.15}
CATEGORY_RATES = {"grocery": 0.00, "electronics": 0.03, "books": 0.05, "clearance": 0.20}
PROMO_CODES = {"WELCOME10": 0.10, "SPRING5": 0.05, "VIP20": 0.20}
MAX_RATE = 0.40


@measure("calculate_discount")
def calculate_discount(price_cents: int, tier: str, category: str, promo: str | None = None) -> int:
    """The discount in cents: tier, category and promo rates add up, capped at 40%."""
    if price_cents < 0:
        raise ValueError("price must not be negative")
    rate = TIER_RATES.get(tier, 0.0) + CATEGORY_RATES.get(category, 0.0) + PROMO_CODES.get(promo or "", 0.0)
    return int(price_cents * min(rate, MAX_RATE))


@measure("monthly_report")
def monthly_report(orders: list[dict]) -> dict[str, int]:
    """Revenue per category after discounts. Loads every order line into memory first, as the
    production job does: fine for a test month, hungry for a production one."""
    lines = [dict(order, discount=calculate_discount(order["price"], order["tier"], order["category"], order.get("promo")))
             for order in orders]
    totals: dict[str, int] = {}
    for line in lines:
        totals[line["category"]] = totals.get(line["category"], 0) + line["price"] - line["discount"]
    return totals


def orders(count: int) -> list[dict]:
    """Deterministic orders, as many as a month has."""
    tiers, categories, promos = list(TIER_RATES), list(CATEGORY_RATES), [None, *PROMO_CODES]
    return [{"id": index, "price": 100 + (index * 7919) % 50_000, "tier": tiers[index % 4], "category": categories[index % 4],
             "promo": promos[index % 4], "customer": f"customer-{index % 10_000:05d}"} for index in range(count)]
