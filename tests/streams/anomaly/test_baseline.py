"""The robust baseline (median/MAD, frozen while anomalous) and the binomial tail."""

from __future__ import annotations

import math

from streams.anomaly.baseline import BaselineConfig, RobustBaseline, binomial_log10_tail


def test_z_uses_median_and_mad_with_floors():
    baseline = RobustBaseline(BaselineConfig(min_values=4), [10, 11, 9, 10, 10, 12, 9])
    assert baseline.median == 10
    assert baseline.z(10.0, 1.0, 0.1) == 0.0
    # MAD is 1 → spread 1.48; the absolute floor of 5 wins over it, the relative floor 0.1*10 does not.
    assert math.isclose(baseline.z(30.0, 5.0, 0.1), 4.0)
    assert math.isclose(baseline.z(30.0, 1.0, 0.1), 20 / 1.4826, rel_tol=1e-6)


def test_nothing_is_judged_before_enough_values():
    baseline = RobustBaseline(BaselineConfig(min_values=4), [1, 2, 3])
    assert baseline.z(100.0, 1.0, 0.0) is None


def test_anomalous_values_are_not_learned_until_they_persist():
    baseline = RobustBaseline(BaselineConfig(size=10, min_values=2, accept_after=3), [10, 10, 10])
    baseline.learn(500, anomalous=True)
    baseline.learn(500, anomalous=True)
    assert baseline.values == [10, 10, 10] and baseline.streak == 2
    baseline.learn(500, anomalous=True)  # the third in a row: a level shift, accepted
    assert baseline.values[-1] == 500 and baseline.streak == 0


def test_state_round_trips_and_is_bounded():
    baseline = RobustBaseline(BaselineConfig(size=3), [])
    for value in (1, 2, 3, 4):
        baseline.learn(value, anomalous=False)
    again = RobustBaseline.from_dict(BaselineConfig(size=3), baseline.to_dict())
    assert again.values == [2, 3, 4]


def test_binomial_tails():
    assert math.isclose(binomial_log10_tail(0, 10, 0.5, upper=False), math.log10(0.5 ** 10), rel_tol=1e-9)
    assert binomial_log10_tail(5, 10, 0.5, upper=True) > -1  # an ordinary outcome
    assert binomial_log10_tail(0, 30, 0.95, upper=False) < -30  # a line every call wrote, written by none
