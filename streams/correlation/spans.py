"""Condensing spans into signals: error spans, spans far slower than their operation's baseline, and
caller → callee edges of the dependency graph."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiops.core.limits import cap_map
from streams.correlation.incident import MAX_ENTRY_CHARS, MAX_SPAN_ATTRIBUTES
from streams.correlation.signals import EdgeSignal, SpanSignal
from streams.records import Placement, Span, SpanKind

MAX_TRACES = 20_000
MAX_STACKTRACE_CHARS = 4000  # evidence, not a core dump: the top of the stack says where


def _origin(span: Span) -> dict[str, Any]:
    """Where the span ran and the exception it recorded, for its signal."""
    placement = Placement.of(span.service, span.resource)
    exception = span.exception
    attributes = exception.attributes if exception else {}
    stacktrace = attributes.get("exception.stacktrace")
    return {"placement": placement if placement.known else None,
            "exception_type": attributes.get("exception.type"),
            "exception_message": attributes.get("exception.message"),
            "exception_stacktrace": stacktrace[:MAX_STACKTRACE_CHARS] if stacktrace else None}


@dataclass(frozen=True)
class SpanProfileConfig:
    slow_factor: float = 5.0
    slow_min_ms: float = 100.0
    min_samples: int = 20
    ewma_alpha: float = 0.05


class SpanProfiler:
    """Per-operation latency baselines live in a table (survive restarts); the parent lookup that turns
    parent/child spans of different services into edges is a bounded in-memory cache, because edges are
    re-learned continuously anyway."""

    def __init__(self, config: SpanProfileConfig, baselines: MutableMapping[str, Any]):
        self.config = config
        self.baselines = baselines
        self._services: OrderedDict[str, dict[str, str]] = OrderedDict()  # trace → span id → service
        self._orphans: OrderedDict[str, list[tuple[str, str, bool]]] = OrderedDict()  # trace → children
        self.pending_edges: dict[tuple[str, str], list[int]] = {}
        self.pending_edges_time: datetime | None = None

    def _edge(self, caller: str, callee: str, error: bool, when: datetime) -> None:
        if caller == callee:
            return
        counts = self.pending_edges.setdefault((caller, callee), [0, 0])
        counts[0] += 1
        counts[1] += int(error)
        self.pending_edges_time = max(self.pending_edges_time or when, when)

    @staticmethod
    def _touch(cache: OrderedDict, trace_id: str) -> None:
        """Keep the cache bounded: the least recently seen traces are forgotten first."""
        if trace_id in cache:
            cache.move_to_end(trace_id)
        while len(cache) > MAX_TRACES:
            cache.popitem(last=False)

    def observe(self, span: Span) -> list[SpanSignal]:
        signals: list[SpanSignal] = []
        errored = span.status == "error"
        # Edges: a client span naming its peer, and a child span whose parent belongs to another service.
        if span.kind in (SpanKind.client, SpanKind.producer) and span.peer_service:
            self._edge(span.service, span.peer_service, errored, span.end_time)
        by_span = self._services.setdefault(span.trace_id, {})
        self._touch(self._services, span.trace_id)
        by_span[span.span_id] = span.service
        if span.parent_span_id:
            parent_service = by_span.get(span.parent_span_id)
            if parent_service is not None:
                if span.kind == SpanKind.server:
                    self._edge(parent_service, span.service, errored, span.end_time)
            else:
                self._orphans.setdefault(span.trace_id, []).append(
                    (span.parent_span_id, span.service, errored and span.kind == SpanKind.server))
                self._touch(self._orphans, span.trace_id)
        for parent_id, child_service, child_error in self._orphans.pop(span.trace_id, []):
            if parent_id == span.span_id:
                self._edge(span.service, child_service, child_error, span.end_time)
            else:
                self._orphans.setdefault(span.trace_id, []).append((parent_id, child_service, child_error))

        key = f"{span.service}|{span.name}"
        baseline = self.baselines.get(key) or {"n": 0, "mean_ms": span.duration_ms}
        if errored:
            signals.append(SpanSignal(trace_id=span.trace_id, span_id=span.span_id, service=span.service,
                                      operation=span.name, evidence="error", duration_ms=span.duration_ms,
                                      baseline_ms=baseline["mean_ms"] if baseline["n"] else None,
                                      message=span.status_message, event_time=span.end_time,
                                      attributes=self._attributes(span), **_origin(span)))
        elif (baseline["n"] >= self.config.min_samples
              and span.duration_ms > self.config.slow_factor * baseline["mean_ms"]
              and span.duration_ms - baseline["mean_ms"] > self.config.slow_min_ms):
            signals.append(SpanSignal(trace_id=span.trace_id, span_id=span.span_id, service=span.service,
                                      operation=span.name, evidence="slow", duration_ms=span.duration_ms,
                                      baseline_ms=baseline["mean_ms"], message=span.status_message,
                                      event_time=span.end_time, attributes=self._attributes(span),
                                      **_origin(span)))
        if not errored:  # errors (timeouts especially) would drag the baseline towards the failure
            alpha = self.config.ewma_alpha if baseline["n"] else 1.0
            self.baselines[key] = {"n": baseline["n"] + 1,
                                   "mean_ms": (1 - alpha) * baseline["mean_ms"] + alpha * span.duration_ms}
        return signals

    @staticmethod
    def _attributes(span: Span) -> dict[str, str]:
        return cap_map(span.attributes, MAX_SPAN_ATTRIBUTES, MAX_ENTRY_CHARS)

    def drain_edges(self) -> list[EdgeSignal]:
        """The edges seen since the last call, as signals (sent by a timer, not per span)."""
        if not self.pending_edges or self.pending_edges_time is None:
            return []
        when = self.pending_edges_time
        signals = [EdgeSignal(caller=a, callee=b, calls=c[0], errors=c[1], event_time=when)
                   for (a, b), c in sorted(self.pending_edges.items())]
        self.pending_edges = {}
        self.pending_edges_time = None
        return signals
