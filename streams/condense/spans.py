"""Spans → per (scope, service, operation, peer, side, bucket) stats and caller → callee edges: the span
condensing stage's core.

Inputs: OTLP trace requests (otlp_spans) and canonical Spans (aiops.spans, Avro). A protobuf request small
enough that no field can be over the field limit is read straight from the protobuf objects; anything else
(OTLP/JSON, large requests, anything the fast checks doubt) goes through the normaliser's `decode_spans`, so
what is accepted, and the reason a request is refused, are the same. A request is counted whole or not at all.

Root-cause statistics: the spans are also held per trace until the trace goes quiet and then read whole by
the per-line mode's trace reader (streams/condense/held_traces.py), giving per service and bucket what the span
detector judges (entry latency, own time, calls timed from both sides: time on the wire). Approximated against
the per-line mode: a trace whose spans went to another condensing process is read in parts (a call whose
callee's span is not held counts as the caller's own time); errors come from span status only (the per-line
mode also fails a span that wrote an error-level log line); no log patterns (log lines are not joined to
requests at line rate).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import NamedTuple

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span as OtlpSpan
from opentelemetry.proto.trace.v1.trace_pb2 import Status as OtlpStatus

from aiops.core.avro import AvroCodec
from aiops.core.settings import Settings
from streams.anomaly.traces import TraceCondenserConfig
from streams.condense.held_traces import HeldTraces
from streams.condense.records import (
    MAX_EXEMPLARS,
    CallEdge,
    OperationStats,
    SpanExemplar,
    encode_condensed,
    exception_of,
    placement_of,
)
from streams.condense.sketch import new_sketch, sketch_to_dict
from streams.ingest.errors import IngestError
from streams.ingest.otlp import (
    _PEER_ATTRIBUTES,
    any_value_text,
    attributes_text,
    decode_spans,
    detect_encoding,
    resource_from,
)
from streams.ingest.verdicts import Rejected
from streams.records import Span, SpanKind
from streams.scopes import scope_from

MAX_TRACES = 20_000  # traces whose span → service map is kept, to learn edges across requests
SLOW_EXEMPLARS = 3
IDLE_FLUSHES = 3  # flush intervals without input after which every held trace is read
_SIDE_OF_OTLP = {OtlpSpan.SPAN_KIND_SERVER: "server", OtlpSpan.SPAN_KIND_CONSUMER: "server",
                 OtlpSpan.SPAN_KIND_CLIENT: "client", OtlpSpan.SPAN_KIND_PRODUCER: "client"}
_SIDE_OF_KIND = {SpanKind.server: "server", SpanKind.consumer: "server", SpanKind.client: "client",
                 SpanKind.producer: "client"}
_PEER_KEYS = frozenset(("peer.service", *_PEER_ATTRIBUTES))
_KIND_OF_SIDE = {"server": SpanKind.server, "client": SpanKind.client, "internal": SpanKind.unspecified}


class SpanView(NamedTuple):
    """The parts of a span the stats need."""

    scope: str
    service: str
    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    side: str  # server, client or internal
    end_s: float
    duration_ms: float
    error: bool
    message: str | None
    peer: str | None
    placement: dict[str, str] | None = None
    exception: tuple[str | None, str | None, str | None] | None = None  # type, message, stack (error spans)

    # The Span fields the trace reader (streams/anomaly/traces.py) uses.
    @property
    def parent_span_id(self) -> str | None:
        return self.parent_id

    @property
    def kind(self) -> SpanKind:
        return _KIND_OF_SIDE[self.side]

    @property
    def status(self) -> str:
        return "error" if self.error else "unset"

    @property
    def peer_service(self) -> str | None:
        return self.peer

    @property
    def start_time(self) -> datetime:
        return datetime.fromtimestamp(self.end_s - self.duration_ms / 1000.0, UTC)

    @property
    def end_time(self) -> datetime:
        return datetime.fromtimestamp(self.end_s, UTC)


class _Stats:
    __slots__ = ("count", "errors", "sum", "ok_count", "ok_sum", "exclusive", "max", "sketch", "error_exemplars",
                 "slow")

    def __init__(self) -> None:
        self.count = self.errors = self.ok_count = 0
        self.sum = self.ok_sum = self.exclusive = self.max = 0.0
        self.sketch = new_sketch()
        self.error_exemplars: list[SpanExemplar] = []
        self.slow: list[SpanExemplar] = []


def _exemplar(view: SpanView) -> SpanExemplar:
    kind, message, stack = view.exception or (None, None, None)
    return SpanExemplar(trace_id=view.trace_id, span_id=view.span_id, duration_ms=view.duration_ms,
                        end_time=view.end_s, error=view.error, message=view.message, placement=view.placement,
                        exception_type=kind, exception_message=message, exception_stacktrace=stack)


class SpanCondenser:
    def __init__(self, settings: Settings, canonical_codec: AvroCodec | None = None,
                 wall: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.bucket_s = settings.log_rate_bucket_s
        self.canonical_codec = canonical_codec
        self.scope_labels = list(settings.correlation_scope_labels)
        self._service_order = ["service.name", *[n for n in settings.service_labels if n != "service.name"]]
        self._fast_limit = min(settings.ingest_max_field_bytes, settings.ingest_max_message_bytes)
        self._stats: dict[tuple[str, str, str, str, str, float], _Stats] = {}
        self._edges: dict[tuple[str, str, str, float], list[int]] = {}
        self._services: OrderedDict[str, dict[str, str]] = OrderedDict()  # trace → span id → service
        self._orphans: OrderedDict[str, list[tuple[str, str, bool, float, str]]] = OrderedDict()
        self._held = HeldTraces(TraceCondenserConfig.from_settings(settings),
                                force_after_s=IDLE_FLUSHES * settings.condense_flush_s, wall=wall) \
            if settings.condense_trace_stats else None

    # --- input ------------------------------------------------------------------------------------
    def add(self, kind: str, value: bytes | None) -> list[Rejected]:
        """Count one input message; IngestError when it is refused as a whole (nothing counted), the spans of
        an OTLP request refused on their own otherwise (to be dead-lettered each; the others are counted)."""
        rejected: list[Rejected] = []
        if kind == "otlp":
            views = self._fast(value) if value is not None and len(value) <= self._fast_limit else None
            if views is None:
                decoded = decode_spans(value, self.settings)
                views, rejected = [self._view(s) for s in decoded], decoded.rejected
        elif kind == "canonical":
            if self.canonical_codec is None:
                raise IngestError("no codec for canonical spans")
            views = [self._view(Span.from_avro(self.canonical_codec.decode(value)))]
        else:
            raise ValueError(f"unknown span input kind {kind!r}")
        self._count(views)
        return rejected

    def _scope_from(self, attributes: dict[str, str]) -> str:
        return scope_from(attributes, self.scope_labels)

    def _view(self, span: Span) -> SpanView:
        error = span.status == "error"
        exception = span.exception if error else None
        return SpanView(self._scope_from({**span.resource.attributes, **span.attributes}), span.service,
                        span.trace_id, span.span_id, span.parent_span_id, span.name,
                        _SIDE_OF_KIND.get(span.kind, "internal"), span.end_time.timestamp(), span.duration_ms,
                        error, span.status_message, span.peer_service, placement_of(span.service, span.resource),
                        exception_of(exception.attributes) if exception else None)

    def _fast(self, value: bytes) -> list[SpanView] | None:
        """The request's spans read from protobuf, or None when the normaliser must judge it."""
        if detect_encoding(value, self.settings.otlp_encoding) != "otlp_proto":
            return None
        request = ExportTraceServiceRequest()
        try:
            request.ParseFromString(value)
        except DecodeError:
            return None
        views: list[SpanView] = []
        for resource_spans in request.resource_spans:
            resource = None
            service = ""
            scope = ""
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    if resource is None:
                        resource = attributes_text(resource_spans.resource.attributes)
                        service = next((resource[n].strip() for n in self._service_order
                                        if isinstance(resource.get(n), str) and resource[n].strip()), "")
                        if not service:
                            return None
                        scope = self._scope_from(resource)
                        placement = placement_of(service, resource_from(resource))
                    trace, span_id, parent = span.trace_id, span.span_id, span.parent_span_id
                    start, end = span.start_time_unix_nano, span.end_time_unix_nano
                    if len(trace) != 16 or len(span_id) != 8 or not any(trace) or not any(span_id) \
                            or (parent and len(parent) != 8) or end < start:
                        return None
                    named: dict[str, str] | None = None
                    for kv in span.attributes:
                        if kv.key in _PEER_KEYS:
                            if named is None:
                                named = {}
                            named[kv.key] = any_value_text(kv.value)
                    peer = None
                    if named:
                        peer = named.get("peer.service") or (
                            next((named[n] for n in _PEER_ATTRIBUTES if named.get(n)), None)
                            if span.kind == OtlpSpan.SPAN_KIND_CLIENT else None)
                    error = span.status.code == OtlpStatus.STATUS_CODE_ERROR
                    exception = None
                    if error:  # the first exception event, as the canonical Span names it
                        for event in span.events:
                            attributes = attributes_text(event.attributes)
                            if event.name == "exception" or "exception.type" in attributes:
                                exception = exception_of(attributes)
                                break
                    views.append(SpanView(
                        scope, service, trace.hex(), span_id.hex(), parent.hex() if parent and any(parent) else None,
                        span.name, _SIDE_OF_OTLP.get(span.kind, "internal"), (end // 1000) / 1e6,  # µs, as decoded
                        (end - start) / 1e6, error, span.status.message or None, peer or None, placement,
                        exception))
        return views or None

    # --- counting ---------------------------------------------------------------------------------
    def _count(self, views: list[SpanView]) -> None:
        children: dict[str, float] = {}  # parent span id → child durations in this request
        for view in views:
            if view.parent_id:
                children[view.parent_id] = children.get(view.parent_id, 0.0) + view.duration_ms
        bucket_s = self.bucket_s
        for view in views:
            bucket = (view.end_s // bucket_s) * bucket_s
            key = (view.scope, view.service, view.name, view.peer or "", view.side, bucket)
            stats = self._stats.get(key)
            if stats is None:
                stats = self._stats[key] = _Stats()
            duration = view.duration_ms
            stats.count += 1
            stats.sum += duration
            stats.exclusive += max(0.0, duration - children.get(view.span_id, 0.0))
            stats.sketch.add(duration)
            if duration > stats.max:
                stats.max = duration
            if view.error:
                stats.errors += 1
                if len(stats.error_exemplars) < MAX_EXEMPLARS:
                    stats.error_exemplars.append(_exemplar(view))
            else:
                stats.ok_count += 1
                stats.ok_sum += duration
                slow = stats.slow
                if len(slow) < SLOW_EXEMPLARS:
                    slow.append(_exemplar(view))
                elif duration > slow[-1].duration_ms:
                    slow[-1] = _exemplar(view)
                else:
                    continue
                slow.sort(key=lambda e: -e.duration_ms)
        self._learn_edges(views)
        if self._held is not None:
            self._held.add(views)

    def _edge(self, scope: str, caller: str, callee: str, error: bool, end_s: float) -> None:
        if caller == callee:
            return
        bucket = (end_s // self.bucket_s) * self.bucket_s
        counts = self._edges.setdefault((scope, caller, callee, bucket), [0, 0])
        counts[0] += 1
        counts[1] += int(error)

    def _learn_edges(self, views: list[SpanView]) -> None:
        """A client span naming its peer, and a server (or kindless) span whose parent belongs to another service
        (the parent may come in another request: span → service is remembered per trace, a bounded cache)."""
        for view in views:
            if view.side == "client" and view.peer:
                self._edge(view.scope, view.service, view.peer, view.error, view.end_s)
            by_span = self._services.get(view.trace_id)
            if by_span is None:
                by_span = self._services[view.trace_id] = {}
                if len(self._services) > MAX_TRACES:
                    self._services.popitem(last=False)
            by_span[view.span_id] = view.service
            if view.parent_id and view.side != "client":  # spans without a kind too: real exports often have none
                parent_service = by_span.get(view.parent_id)
                if parent_service is not None:
                    self._edge(view.scope, parent_service, view.service, view.error, view.end_s)
                else:
                    self._orphans.setdefault(view.trace_id, []).append(
                        (view.parent_id, view.service, view.error, view.end_s, view.scope))
                    if len(self._orphans) > MAX_TRACES:
                        self._orphans.popitem(last=False)
            waiting = self._orphans.get(view.trace_id)
            if waiting:
                still = [o for o in waiting if o[0] != view.span_id]
                for parent_id, child_service, error, end_s, scope in waiting:
                    if parent_id == view.span_id:
                        self._edge(scope, view.service, child_service, error, end_s)
                if still:
                    self._orphans[view.trace_id] = still
                else:
                    del self._orphans[view.trace_id]

    # --- state and output -------------------------------------------------------------------------
    def restore(self, snapshots: dict[str, bytes]) -> None:
        """Nothing to restore (baselines live downstream; edges are re-learned): start from empty counts."""
        self._stats = {}
        self._edges = {}
        if self._held is not None:
            self._held.clear()

    def holding(self) -> bool:
        """Traces held for their root-cause statistics: flush even without new input, to read them once quiet."""
        return self._held is not None and self._held.holding()

    def snapshots(self) -> list[tuple[str, bytes]]:
        return []

    def drain(self) -> list[tuple[bytes, bytes]]:
        out = []
        for (scope, service, name, peer, side, bucket), s in self._stats.items():
            record = OperationStats(
                service=service, operation=name, side=side, bucket_start=bucket, bucket_s=self.bucket_s,  # type: ignore[arg-type]
                count=s.count, errors=s.errors, duration_sum_ms=s.sum, ok_count=s.ok_count,
                ok_duration_sum_ms=s.ok_sum, exclusive_sum_ms=s.exclusive, max_ms=s.max,
                sketch=sketch_to_dict(s.sketch), peer_service=peer, errors_exemplars=s.error_exemplars,
                slow_exemplars=s.slow, scope=scope)
            out.append((service.encode(), encode_condensed(record)))
        for (scope, caller, callee, bucket), (calls, errors) in self._edges.items():
            out.append((caller.encode(), encode_condensed(CallEdge(caller=caller, callee=callee, bucket_start=bucket,
                                                                   bucket_s=self.bucket_s, calls=calls,
                                                                   errors=errors, scope=scope))))
        if self._held is not None:
            out += [(record.service.encode(), encode_condensed(record)) for record in self._held.read()]
        self._stats = {}
        self._edges = {}
        return out


