"""The shared interval cell of the report's tables."""

from normtheory._cells import interval


def test_an_interval_cell_shows_what_it_has() -> None:
    assert interval(0.5, 0.25, 0.75, ".2f") == "0.50 [0.25, 0.75]"
    assert interval(0.123456, -0.5, 1.0, "+.3f") == "+0.123 [-0.500, +1.000]"
    assert interval(0.5, None, 0.75, ".2f") == "0.50"  # an interval needs both ends
    assert interval(0.5, 0.25, None, ".2f") == "0.50"
    assert interval(None, 0.25, 0.75, ".2f") == "n/a"
