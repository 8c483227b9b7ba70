import reports


def test_monthly_report_fits():
    assert reports.monthly_report(600_000) > 0


def test_discount_is_bounded():
    price = reports.calculate_discount(10_000, loyalty_years=12)
    assert 7_000 <= price <= 10_000


def test_batch_rendering_in_workers():
    # Each worker builds a ~130 MiB table: fine at 512Mi, OOM-killed at 256Mi.
    results = reports.render_in_workers([1_200_000, 1_200_000])
    assert len(results) == 2
