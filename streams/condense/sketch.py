"""Latency sketches: DDSketch (relative-error quantiles, mergeable), as a small JSON-compatible dict.

The dict holds the relative accuracy, the zero count and the non-empty bins as parallel lists of keys and
weights; merging two records' sketches is exact (same accuracy), so buckets, flushes and processes combine.
"""

from __future__ import annotations

from ddsketch import DDSketch
from ddsketch.ddsketch import BaseDDSketch
from ddsketch.mapping import LogarithmicMapping
from ddsketch.store import DenseStore

RELATIVE_ACCURACY = 0.01


def new_sketch() -> DDSketch:
    return DDSketch(RELATIVE_ACCURACY)


def sketch_to_dict(sketch: BaseDDSketch) -> dict[str, list[float] | float]:
    store = sketch._store  # ddsketch exposes no iterator over bins; DenseStore keeps them from `offset`
    keys: list[float] = []
    weights: list[float] = []
    for index, weight in enumerate(store.bins):
        if weight:
            keys.append(float(store.offset + index))
            weights.append(weight)
    return {"accuracy": sketch._mapping.relative_accuracy, "zero": sketch._zero_count, "keys": keys,
            "weights": weights}


def sketch_from_dict(shown: dict[str, list[float] | float]) -> BaseDDSketch:
    """Raises ValueError for a dict that is not a sketch."""
    try:
        accuracy = float(shown["accuracy"])  # type: ignore[arg-type]
        keys, weights = shown["keys"], shown["weights"]
        zero = float(shown.get("zero", 0.0))  # type: ignore[arg-type]
        if not isinstance(keys, list) or not isinstance(weights, list) or len(keys) != len(weights):
            raise ValueError("keys and weights must be lists of one length")
        store = DenseStore()
        for key, weight in zip(keys, weights, strict=True):
            store.add(int(key), float(weight))
        return BaseDDSketch(LogarithmicMapping(accuracy), store, DenseStore(), zero)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not a latency sketch: {exc!r}") from None


def merge_sketches(sketches: list[dict[str, list[float] | float]]) -> BaseDDSketch:
    merged: BaseDDSketch = new_sketch()
    for shown in sketches:
        merged.merge(sketch_from_dict(shown))
    return merged
