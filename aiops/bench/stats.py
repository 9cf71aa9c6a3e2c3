"""Percentiles as every bench reports them."""

from __future__ import annotations

import statistics


def percentile(values: list[float], q: float, digits: int = 1) -> float:
    """The q-quantile (0.5, 0.99) of the values, inclusive method, rounded; a single value is its own quantile."""
    if len(values) < 2:
        return round(values[0], digits) if values else 0.0
    return round(statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1], digits)
