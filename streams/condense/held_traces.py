"""Spans held per trace until the trace has gone quiet, then read whole by the per-line mode's trace reader
(streams/anomaly/traces.py): the span condensing stage's per-service root-cause statistics.

A trace is read once event time has moved `trace_idle_s` past its latest span (as in the per-line mode), or
when no input came for `force_after_s` of wall time (what is open is all there will be), or early, oldest
first, when more than `max_spans` are held. Held spans outlive a flush: their input offsets are committed
with it, so a crash loses the statistics of the traces still open (never a count: the operation stats and
edges are counted at once and written with their offsets).
"""

from __future__ import annotations

import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from streams.anomaly.traces import TraceCondenser, TraceCondenserConfig
from streams.condense.records import ServiceSpanStats

MAX_HELD_SPANS = 200_000


class HeldTraces:
    def __init__(self, config: TraceCondenserConfig, force_after_s: float, max_spans: int = MAX_HELD_SPANS,
                 wall: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.force_after_s = force_after_s
        self.max_spans = max_spans
        self.wall = wall
        self._traces: OrderedDict[tuple[str, str], list[Any]] = OrderedDict()  # least recently touched first
        self._latest: dict[tuple[str, str], float] = {}  # trace → end of its latest span
        self._spans = 0
        self._watermark = float("-inf")
        self._last_input = wall()

    def add(self, views: Iterable[Any]) -> None:
        """Spans with scope, trace_id, end_s and the Span fields the trace reader uses (streams.condense.spans)."""
        for view in views:
            key = (view.scope, view.trace_id)
            spans = self._traces.get(key)
            if spans is None:
                spans = self._traces[key] = []
            else:
                self._traces.move_to_end(key)
            spans.append(view)
            self._latest[key] = max(self._latest.get(key, float("-inf")), view.end_s)
            self._watermark = max(self._watermark, view.end_s)
            self._spans += 1
        self._last_input = self.wall()

    def holding(self) -> bool:
        return bool(self._traces)

    def clear(self) -> None:
        self._traces.clear()
        self._latest.clear()
        self._spans = 0

    def read(self) -> list[ServiceSpanStats]:
        """The statistics of the traces that are done (see the module docstring)."""
        stopped = self.wall() - self._last_input >= self.force_after_s
        ready = [key for key, latest in self._latest.items()
                 if stopped or self._watermark - latest >= self.config.trace_idle_s]
        taken = {key: self._traces.pop(key) for key in ready}
        for key in ready:
            del self._latest[key]
        self._spans -= sum(len(spans) for spans in taken.values())
        while self._traces and self._spans > self.max_spans:
            key, spans = self._traces.popitem(last=False)
            del self._latest[key]
            taken[key] = spans
            self._spans -= len(spans)
        by_scope: dict[str, list[tuple[str, list[Any]]]] = defaultdict(list)
        for (scope, trace_id), spans in taken.items():
            by_scope[scope].append((trace_id, spans))
        return [ServiceSpanStats(service=stats.service, bucket_start=stats.bucket_start.timestamp(),
                                 stats=stats.model_dump(mode="json"), scope=scope)
                for scope, whole in sorted(by_scope.items())
                for stats in TraceCondenser(self.config).read_whole(whole)]
