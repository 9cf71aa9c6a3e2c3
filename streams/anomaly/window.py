"""The recent buckets of one service's span statistics, pooled for judging, handed back for learning when old."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from streams.anomaly.records import EdgeStats, OpStats, SpanStats, TemplateStats

MAX_SAMPLES = 64  # per operation or caller in a pooled window


def _cap(values: list[float]) -> list[float]:
    if len(values) <= MAX_SAMPLES:
        return values
    step = len(values) / MAX_SAMPLES
    return [values[int(i * step)] for i in range(MAX_SAMPLES)]


def merge_stats(parts: Iterable[SpanStats]) -> SpanStats:
    """Several buckets (or partial statistics of one bucket) of one service as one."""
    parts = list(parts)
    ops: dict[str, dict[str, Any]] = {}
    edges: dict[str, dict[str, Any]] = {}
    templates: dict[tuple[str, str], dict[str, Any]] = {}
    for part in parts:
        for op in part.ops:
            acc = ops.setdefault(op.op, {"op": op.op, "spans": 0, "entries": 0, "errors": 0, "own_errors": 0,
                                         "latency_ms": [], "self_ms": [], "slowest": (-1.0, None)})
            for name in ("spans", "entries", "errors", "own_errors"):
                acc[name] += getattr(op, name)
            acc["latency_ms"] += op.latency_ms
            acc["self_ms"] += op.self_ms
            top = max(op.latency_ms, default=-1.0)
            if op.slowest_trace and top > acc["slowest"][0]:
                acc["slowest"] = (top, op.slowest_trace)
        for edge in part.edges:
            acc = edges.setdefault(edge.caller, {"caller": edge.caller, "calls": 0, "errors": 0, "client_ms": [],
                                                 "server_ms": [], "gap_ms": [], "slowest": (-1.0, None)})
            acc["calls"] += edge.calls
            acc["errors"] += edge.errors
            for name in ("client_ms", "server_ms", "gap_ms"):
                acc[name] += getattr(edge, name)
            top = max(edge.gap_ms or edge.client_ms, default=-1.0)
            if edge.slowest_trace and top > acc["slowest"][0]:
                acc["slowest"] = (top, edge.slowest_trace)
        for t in part.templates:
            acc = templates.setdefault((t.op, t.template_id), {"op": t.op, "template_id": t.template_id,
                                                               "template": t.template, "severity": t.severity,
                                                               "spans": 0})
            acc["spans"] += t.spans
            acc["template"] = t.template
    first = min(parts, key=lambda p: p.bucket_start)
    return SpanStats(
        service=first.service, bucket_start=first.bucket_start, bucket_s=first.bucket_s,
        logs_settled=all(p.logs_settled for p in parts),
        ops=[OpStats(op=a["op"], spans=a["spans"], entries=a["entries"], errors=a["errors"],
                     own_errors=a["own_errors"], latency_ms=_cap(a["latency_ms"]), self_ms=_cap(a["self_ms"]),
                     slowest_trace=a["slowest"][1]) for a in ops.values()],
        edges=[EdgeStats(caller=a["caller"], calls=a["calls"], errors=a["errors"], client_ms=_cap(a["client_ms"]),
                         server_ms=_cap(a["server_ms"]), gap_ms=_cap(a["gap_ms"]), slowest_trace=a["slowest"][1])
               for a in edges.values()],
        templates=[TemplateStats(**a) for a in templates.values()],
    )


class Window:
    """Buckets by start time; `learned_until` is the end of the newest bucket already learned."""

    def __init__(self, buckets: dict[str, SpanStats], learned_until: float):
        self._buckets = buckets
        self.learned_until = learned_until

    @classmethod
    def from_dict(cls, state: dict[str, Any] | None) -> Window:
        if not state:
            return cls({}, float("-inf"))
        return cls({k: SpanStats.model_validate(v) for k, v in state.get("b", {}).items()},
                   float(state.get("u", float("-inf"))))

    def to_dict(self) -> dict[str, Any]:
        return {"b": {k: v.model_dump(mode="json") for k, v in self._buckets.items()},
                "u": self.learned_until if self.learned_until != float("-inf") else -1e18}

    def add(self, stats: SpanStats) -> bool:
        """Merge a bucket in; False when that bucket was learned already (too late to judge)."""
        if stats.bucket_start.timestamp() < self.learned_until:
            return False
        key = stats.bucket_start.isoformat()
        known = self._buckets.get(key)
        self._buckets[key] = merge_stats([known, stats]) if known else stats
        return True

    def buckets(self) -> list[SpanStats]:
        return [self._buckets[k] for k in sorted(self._buckets)]

    def expire(self, keep: int) -> list[SpanStats]:
        """Remove and return (oldest first) the buckets older than the newest `keep` bucket widths."""
        if not self._buckets:
            return []
        newest = max(b.bucket_start for b in self._buckets.values())
        width = next(iter(self._buckets.values())).bucket_s
        cutoff: datetime = newest - timedelta(seconds=width * (keep - 1))
        old = [k for k, b in self._buckets.items() if b.bucket_start < cutoff]
        out = [self._buckets.pop(k) for k in sorted(old)]
        for b in out:
            self.learned_until = max(self.learned_until, b.bucket_start.timestamp() + b.bucket_s)
        return out
