"""Property tests (Hypothesis) for the discount rules, and the monthly report at two scales."""
from hypothesis import given, settings, strategies as st

from discount import CATEGORY_RATES, PROMO_CODES, TIER_RATES, calculate_discount, monthly_report, orders

prices = st.integers(min_value=0, max_value=10_000_000)
tiers = st.sampled_from(sorted(TIER_RATES))
categories = st.sampled_from(sorted(CATEGORY_RATES))
promos = st.one_of(st.none(), st.sampled_from(sorted(PROMO_CODES) + ["EXPIRED", ""]))


@settings(max_examples=300, deadline=None)
@given(prices, tiers, categories, promos)
def test_discount_is_never_negative_nor_above_the_price(price, tier, category, promo):
    discount = calculate_discount(price, tier, category, promo)
    assert 0 <= discount <= price


@settings(max_examples=300, deadline=None)
@given(prices, categories, promos)
def test_a_higher_tier_never_gets_less(price, category, promo):
    ordered = ["bronze", "silver", "gold", "platinum"]
    discounts = [calculate_discount(price, tier, category, promo) for tier in ordered]
    assert discounts == sorted(discounts)


@settings(max_examples=200, deadline=None)
@given(prices, tiers, categories)
def test_the_cap_holds_with_every_promo(price, tier, category):
    for promo in PROMO_CODES:
        assert calculate_discount(price, tier, category, promo) <= int(price * 0.40)


def test_monthly_report_for_a_test_month():
    totals = monthly_report(orders(2_000))
    assert set(totals) == set(CATEGORY_RATES)
    assert all(total > 0 for total in totals.values())


def test_monthly_report_at_production_scale():
    # A production month: 400,000 order lines, all in memory at once.
    totals = monthly_report(orders(400_000))
    assert sum(totals.values()) > 0
