"""Just enough PromQL reading for the tests: which aiops_* series an expression selects."""

from __future__ import annotations

import re
from collections.abc import Iterable

from prometheus_client.metrics import MetricWrapperBase

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_LABELS = re.compile(r"\{[^}]*\}")
_IDENTIFIER = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_SUFFIXES = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count"),
             "summary": ("", "_sum", "_count")}


def aiops_names(expr: str) -> set[str]:
    """The aiops_* metric names an expression refers to (label matchers and string literals left out)."""
    bare = _LABELS.sub(" ", _STRING.sub(" ", expr))
    return {name for name in _IDENTIFIER.findall(bare) if name.startswith("aiops_")}


def exposed_names(metrics: Iterable[MetricWrapperBase]) -> dict[str, MetricWrapperBase]:
    """Series name -> metric, for the names Prometheus stores from each metric as aiops/core/metrics.py defines it."""
    names: dict[str, MetricWrapperBase] = {}
    for metric in metrics:
        for suffix in _SUFFIXES[metric._type]:
            names[metric._name + suffix] = metric
    return names
