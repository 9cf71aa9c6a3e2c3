"""A robust baseline of one quantity: median and MAD of its recent values, frozen while the quantity is anomalous.

The state is a small JSON-compatible dict, so it can live in a Faust table and survive restarts. Values judged
anomalous are not learned (a fault must not become its own baseline), unless they persist for
`accept_after` values in a row: then the level shift is accepted as the new normal.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any

MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution times this is its standard deviation


@dataclass(frozen=True)
class BaselineConfig:
    size: int = 60  # recent values kept
    min_values: int = 4  # fewer values judge nothing
    accept_after: int = 30  # anomalous values in a row after which they are learned anyway


class RobustBaseline:
    """Median/MAD of the last `size` values learned."""

    __slots__ = ("config", "values", "streak")

    def __init__(self, config: BaselineConfig, values: list[float] | None = None, streak: int = 0):
        self.config = config
        self.values = list(values or [])
        self.streak = streak

    @classmethod
    def from_dict(cls, config: BaselineConfig, state: dict[str, Any] | None) -> RobustBaseline:
        if not state:
            return cls(config)
        return cls(config, [float(v) for v in state.get("v", [])], int(state.get("s", 0)))

    def to_dict(self) -> dict[str, Any]:
        return {"v": [round(v, 4) for v in self.values], "s": self.streak}

    @property
    def ready(self) -> bool:
        return len(self.values) >= self.config.min_values

    @property
    def median(self) -> float | None:
        return statistics.median(self.values) if self.values else None

    def spread(self) -> float:
        """The robust standard deviation (MAD scaled); 0 with fewer than two values."""
        if len(self.values) < 2:
            return 0.0
        middle = statistics.median(self.values)
        return MAD_TO_SIGMA * statistics.median(abs(v - middle) for v in self.values)

    def z(self, value: float, floor_abs: float, floor_rel: float) -> float | None:
        """How many robust deviations `value` lies above the median; the deviation is at least
        `floor_abs` and `floor_rel` times the median, so tiny or flat baselines do not make noise look huge.
        None until the baseline has `min_values`."""
        if not self.ready:
            return None
        middle = statistics.median(self.values)
        scale = max(self.spread(), floor_abs, floor_rel * abs(middle))
        return (value - middle) / scale if scale > 0 else math.inf * (value > middle)

    def learn(self, value: float, anomalous: bool) -> None:
        if anomalous and self.streak + 1 < self.config.accept_after:
            self.streak += 1
            return
        self.streak = 0
        self.values = [*self.values, value][-self.config.size:]


def binomial_log10_tail(k: int, n: int, p: float, upper: bool) -> float:
    """log10 of P(X >= k) (upper) or P(X <= k) for X ~ Binomial(n, p): how surprising k of n is."""
    p = min(max(p, 1e-9), 1 - 1e-9)
    terms = range(k, n + 1) if upper else range(0, k + 1)
    logs = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * math.log(p)
            + (n - i) * math.log1p(-p) for i in terms]
    if not logs:
        return 0.0
    top = max(logs)
    return min(0.0, (top + math.log(sum(math.exp(x - top) for x in logs))) / math.log(10))
