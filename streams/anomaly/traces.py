"""Condensing traces at line rate: spans and their log events in, per-service per-bucket statistics out.

Spans of one trace (and the log lines that name them) are held until the trace has been idle for a few
seconds of event time and of wall time, then read as a whole:
- a span enters its service when it has no parent or its parent belongs to another service (span kinds
  are used when present, but real exports often carry none, so parent/child across services decides);
- a call from service A to service B is a span of A whose child is a span of B: the caller's span is the
  client side, B's span the server side, and their difference the time on the wire and in queues;
- own time of an entry is its duration minus the calls it made to other services;
- an entry failed when a span of the service below it failed (status error, or an error-level log line in
  it); it failed on its own when none of the calls it made failed;
- each log event type (template or code location) is counted once per successful request that logged it,
  under the operation the request entered the service by.

Finished traces go into event-time buckets; a bucket is closed (and its statistics returned) once event time has
settled past its end by `close_grace_s` and no open trace still reaches into it. Spans and log lines reach this
stage by different paths, so while log lines flow, event time has settled only as far as both have come. Pure code: the
Faust agent calls it, and so could a confluent-kafka condensing stage.
"""

from __future__ import annotations

import time
import zlib
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiops.core.limits import cap_map
from streams.anomaly.records import EdgeStats, LogEvent, OpStats, SpanStats, TemplateStats
from streams.correlation.incident import MAX_ENTRY_CHARS, MAX_SPAN_ATTRIBUTES
from streams.correlation.signals import EdgeSignal, SpanSignal
from streams.records import Placement, Severity, Span, SpanKind

_ERROR_SEVERITIES = (Severity.error, Severity.critical)
_CLIENT_KINDS = (SpanKind.client, SpanKind.producer)
MAX_STACKTRACE_CHARS = 4000  # evidence, not a core dump: the top of the stack says where
_UNKNOWN_KINDS = (SpanKind.unspecified, SpanKind.internal)


@dataclass(frozen=True)
class TraceCondenserConfig:
    bucket_s: int = 10
    trace_idle_s: float = 5.0  # event time without a new span before a trace is read
    wall_idle_s: float = 1.0  # wall time likewise (lets log lines catch up with their spans)
    force_after_wall_s: float = 10.0  # no input for this long (wall): read every trace, close every bucket
    logs_idle_s: float = 60.0  # log lines that stopped coming this long (wall) no longer hold buckets open
    close_grace_s: float = 15.0  # a bucket closes this long (event time) after its end
    samples: int = 16  # duration samples kept per operation or edge per bucket
    max_traces: int = 20_000  # open traces held; the oldest are read early beyond this
    max_spans_per_trace: int = 5_000
    max_known_spans: int = 200_000  # finished spans remembered for log lines that arrive after them
    error_spans_per_bucket: int = 3  # failed spans passed on as evidence, per operation per bucket

    @classmethod
    def from_settings(cls, settings: Any) -> TraceCondenserConfig:
        return cls(bucket_s=settings.rca_bucket_s, trace_idle_s=settings.rca_trace_idle_s,
                   close_grace_s=settings.rca_bucket_grace_s)


@dataclass
class _Trace:
    spans: dict[str, Span] = field(default_factory=dict)
    logs: dict[str | None, list[LogEvent]] = field(default_factory=lambda: defaultdict(list))
    first_start: float = float("inf")
    last_event: float = 0.0
    last_wall: float = 0.0


def origin(span: Span) -> dict[str, Any]:
    """Where the span ran and the exception it recorded, for its signal."""
    placement = Placement.of(span.service, span.resource)
    exception = span.exception
    attributes = exception.attributes if exception else {}
    stacktrace = attributes.get("exception.stacktrace")
    return {"placement": placement if placement.known else None,
            "exception_type": attributes.get("exception.type"),
            "exception_message": attributes.get("exception.message"),
            "exception_stacktrace": stacktrace[:MAX_STACKTRACE_CHARS] if stacktrace else None}


def _sample(samples: list[float], value: float, seen: int, key: str, size: int) -> None:
    """Deterministic reservoir sampling: `seen` values so far (this one included), slot picked by a hash."""
    if len(samples) < size:
        samples.append(round(value, 3))
        return
    slot = zlib.crc32(key.encode()) % seen
    if slot < size:
        samples[slot] = round(value, 3)


@dataclass
class _OpAcc:
    spans: int = 0
    entries: int = 0
    errors: int = 0
    own_errors: int = 0
    latency_ms: list[float] = field(default_factory=list)
    self_ms: list[float] = field(default_factory=list)
    slowest: tuple[float, str | None] = (-1.0, None)


@dataclass
class _EdgeAcc:
    calls: int = 0
    errors: int = 0
    client_ms: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)
    gap_ms: list[float] = field(default_factory=list)
    timed: int = 0
    slowest: tuple[float, str | None] = (-1.0, None)


@dataclass
class _Bucket:
    ops: dict[tuple[str, str], _OpAcc] = field(default_factory=lambda: defaultdict(_OpAcc))
    edges: dict[tuple[str, str], _EdgeAcc] = field(default_factory=lambda: defaultdict(_EdgeAcc))
    templates: dict[tuple[str, str, str], list] = field(default_factory=dict)  # → [spans, template, severity]
    counted: set[tuple[str, str]] = field(default_factory=set)  # (entry span, event type) already counted


class TraceCondenser:
    def __init__(self, config: TraceCondenserConfig, wall: Callable[[], float] = time.monotonic):
        self.config = config
        self.wall = wall
        self.traces: OrderedDict[str, _Trace] = OrderedDict()  # least recently touched first
        # span → service, the operation its request entered the service by, bucket (None: the request failed),
        # the request's entry span: where lines that arrive after the trace was read are counted
        self.known_spans: OrderedDict[str, tuple[str, str, int | None, str]] = OrderedDict()
        self.buckets: dict[int, _Bucket] = {}
        self.watermark = 0.0  # latest span end seen
        self.log_watermark = 0.0  # latest log event seen, and when (wall) it last moved
        self.log_moved_wall = float("-inf")
        self.closed_until = float("-inf")  # end of the latest bucket closed
        self.last_wall = wall()
        self.late_records = 0
        self.pending_edges: dict[tuple[str, str], list[int]] = {}
        self.pending_edges_time: datetime | None = None
        self.pending_errors: list[SpanSignal] = []
        self.errors_sent: dict[tuple[str, str, int], int] = {}  # failed spans passed on per operation per bucket

    # --- input ------------------------------------------------------------------------------------
    def _trace(self, trace_id: str, event_ts: float) -> _Trace:
        now = self.wall()
        self.last_wall = now
        trace = self.traces.get(trace_id)
        if trace is None:
            trace = self.traces[trace_id] = _Trace()
        else:
            self.traces.move_to_end(trace_id)
        trace.last_wall = now
        trace.last_event = max(trace.last_event, event_ts)
        self.watermark = max(self.watermark, event_ts)
        return trace

    def add_span(self, span: Span) -> None:
        if span.status == "error":  # failed by its own status: evidence at once, not when the trace is read
            self._error_evidence(span, ())
        trace = self._trace(span.trace_id, span.end_time.timestamp())
        if len(trace.spans) < self.config.max_spans_per_trace:
            trace.spans[span.span_id] = span
            trace.first_start = min(trace.first_start, span.start_time.timestamp())

    def _settled(self) -> float:
        """How far event time has settled: spans and log lines travel different paths to this stage, so while
        log lines flow, the slower of the two decides (a request's lines must be in before it is counted)."""
        if self.wall() - self.log_moved_wall > self.config.logs_idle_s:
            return self.watermark
        return min(self.watermark, self.log_watermark)

    def add_log(self, event: LogEvent) -> None:
        ts = event.time.timestamp()
        if ts > self.log_watermark:
            self.log_watermark = ts
            self.log_moved_wall = self.wall()
        known = self.known_spans.get(event.span_id) if event.span_id else None
        if known is not None:  # its trace was read already: count it where its span went, if still open
            service, op, bucket, entry = known
            if bucket is None:
                return  # a failed request: its lines are not part of the normal pattern
            if bucket in self.buckets:
                self._count_templates(self.buckets[bucket], service, op, entry, [event])
            else:
                self.late_records += 1
            return
        self._trace(event.trace_id, event.time.timestamp()).logs[event.span_id].append(event)

    # --- output -----------------------------------------------------------------------------------
    def poll(self) -> list[SpanStats]:
        """Read the traces that went idle and close the buckets that are complete."""
        now = self.wall()
        settled = self._settled()
        # Input has stopped (end of a replay, a quiet system): what is open is all there will be. While
        # anything still comes, only settled event time reads a trace: log lines may lag far behind spans.
        stopped = now - self.last_wall >= self.config.force_after_wall_s
        ready = []
        for trace_id, trace in self.traces.items():
            idle_wall = now - trace.last_wall
            if idle_wall < self.config.wall_idle_s:
                break  # ordered by last touch: the rest are busier still
            if settled - trace.last_event >= self.config.trace_idle_s or stopped:
                ready.append(trace_id)
        while len(self.traces) - len(ready) > self.config.max_traces:
            oldest = next(t for t in self.traces if t not in ready)
            ready.append(oldest)
        for trace_id in ready:
            self._read(trace_id, self.traces.pop(trace_id))
        return self._close_buckets(force=stopped)

    def flush(self) -> list[SpanStats]:
        """Read every open trace and close every bucket (end of input, or shutdown)."""
        for trace_id in list(self.traces):
            self._read(trace_id, self.traces.pop(trace_id))
        return self._close_buckets(force=True)

    def read_whole(self, traces: Iterable[tuple[str, Iterable[Any]]]) -> list[SpanStats]:
        """Traces a caller already holds whole, without log lines (the span condensing stage over one flush):
        their statistics, every bucket closed. A span here is anything with the Span fields the reading uses
        (service, span_id, parent_span_id, name, kind, status, peer_service, start_time, end_time, duration_ms);
        errors come from the spans' status alone. Use a fresh condenser per call: buckets close for good."""
        for trace_id, spans in traces:
            trace = _Trace()
            trace.spans = {span.span_id: span for span in spans}
            self._read(trace_id, trace)
        return self._close_buckets(force=True)

    def _close_buckets(self, force: bool) -> list[SpanStats]:
        reach = min((t.first_start for t in self.traces.values()), default=float("inf"))
        settled = self._settled()
        out: list[SpanStats] = []
        for start in sorted(self.buckets):
            end = start + self.config.bucket_s
            if not force and (end + self.config.close_grace_s > settled or reach < end):
                break
            out += self._stats(start, self.buckets.pop(start), logs_settled=self.log_watermark >= end)
            self.closed_until = max(self.closed_until, end)
        self.errors_sent = {k: n for k, n in self.errors_sent.items() if k[2] >= self.closed_until - 60}
        return out

    def drain_errors(self) -> list[SpanSignal]:
        """A few failed spans per operation and bucket, as span evidence with their trace ids."""
        errors, self.pending_errors = self.pending_errors, []
        return errors

    def drain_edges(self) -> list[EdgeSignal]:
        """Caller → callee calls seen since the last call, for the dependency graph."""
        if not self.pending_edges or self.pending_edges_time is None:
            return []
        when = self.pending_edges_time
        signals = [EdgeSignal(caller=a, callee=b, calls=c[0], errors=c[1], event_time=when)
                   for (a, b), c in sorted(self.pending_edges.items())]
        self.pending_edges, self.pending_edges_time = {}, None
        return signals

    # --- reading one trace ------------------------------------------------------------------------
    def _bucket_of(self, ts: float) -> int | None:
        start = int(ts // self.config.bucket_s) * self.config.bucket_s
        return None if start < self.closed_until else start  # None: its bucket was closed already

    def _edge(self, caller: str, callee: str, error: bool, when: datetime) -> None:
        counts = self.pending_edges.setdefault((caller, callee), [0, 0])
        counts[0] += 1
        counts[1] += int(error)
        self.pending_edges_time = max(self.pending_edges_time or when, when)

    def _read(self, trace_id: str, trace: _Trace) -> None:
        spans = trace.spans
        children: dict[str, list[Span]] = defaultdict(list)
        for span in spans.values():
            if span.parent_span_id and span.parent_span_id in spans:
                children[span.parent_span_id].append(span)
        logs = dict(trace.logs)
        # Log lines without a span id belong to the service's entry span when the trace has only one.
        for event in logs.pop(None, []):
            entries = [s for s in spans.values() if s.service == event.service and self._enters(s, spans)]
            if len(entries) == 1:
                logs.setdefault(entries[0].span_id, []).append(event)
        failed = {sid: s.status == "error" or any(e.severity in _ERROR_SEVERITIES for e in logs.get(sid, ()))
                  for sid, s in spans.items()}

        for span in spans.values():
            bucket_start = self._bucket_of(span.start_time.timestamp())
            if bucket_start is None:
                self.late_records += 1
                continue
            bucket = self.buckets.setdefault(bucket_start, _Bucket())
            bucket.ops[(span.service, span.name)].spans += 1
            if failed[span.span_id] and span.status != "error":  # failed by its log lines: known only now
                self._error_evidence(span, logs.get(span.span_id, ()))
            kids = children.get(span.span_id, [])
            for child in kids:
                if child.service != span.service:
                    self._call(bucket, trace_id, span, child, kids, children, failed)
            if not kids and span.kind in _CLIENT_KINDS and span.peer_service and span.peer_service != span.service:
                self._uninstrumented_call(bucket, trace_id, span, failed[span.span_id])
            if self._enters(span, spans):
                ok = self._entry(bucket, trace_id, span, children, failed)
                # Log lines count for the operation the request entered the service by; only requests that
                # succeeded show the normal code path (failures have their own signal).
                events: list[LogEvent] = []
                for member in self._subtree(span, children):
                    self._remember(member.span_id, (span.service, span.name, bucket_start if ok else None,
                                                    span.span_id))
                    events += logs.get(member.span_id, ())
                if ok:
                    self._count_templates(bucket, span.service, span.name, span.span_id, events)
        for event_list in logs.values():  # lines naming spans this trace never delivered
            if event_list and event_list[0].span_id not in spans:
                self.late_records += len(event_list)

    def _error_evidence(self, span: Span, events: Iterable[LogEvent]) -> None:
        start = int(span.start_time.timestamp() // self.config.bucket_s) * self.config.bucket_s
        key = (span.service, span.name, start)
        self.errors_sent[key] = self.errors_sent.get(key, 0) + 1
        if self.errors_sent[key] > self.config.error_spans_per_bucket:
            return
        message = span.status_message or next((e.template for e in events if e.severity in _ERROR_SEVERITIES), None)
        self.pending_errors.append(SpanSignal(
            trace_id=span.trace_id, span_id=span.span_id, service=span.service, operation=span.name,
            evidence="error", duration_ms=span.duration_ms, message=message[:500] if message else None,
            attributes=cap_map(span.attributes, MAX_SPAN_ATTRIBUTES, MAX_ENTRY_CHARS), event_time=span.end_time,
            **origin(span)))

    @staticmethod
    def _enters(span: Span, spans: dict[str, Span]) -> bool:
        parent = spans.get(span.parent_span_id) if span.parent_span_id else None
        return parent is None or parent.service != span.service

    def _remember(self, span_id: str, where: tuple[str, str, int | None, str]) -> None:
        self.known_spans[span_id] = where
        while len(self.known_spans) > self.config.max_known_spans:
            self.known_spans.popitem(last=False)

    @staticmethod
    def _count_templates(bucket: _Bucket, service: str, op: str, request: str, events: Iterable[LogEvent]) -> None:
        """Each event type once per request (`request`: the entry span), however many lines it wrote."""
        for event in events:
            if (request, event.template_id) in bucket.counted:
                continue
            bucket.counted.add((request, event.template_id))
            entry = bucket.templates.setdefault((service, op, event.template_id), [0, event.template, event.severity])
            entry[0] += 1
            entry[1] = event.template  # drain generalises templates over time: keep the latest text

    def _subtree(self, span: Span, children: dict[str, list[Span]]) -> Iterable[Span]:
        """The span and its descendants within the same service."""
        stack = [span]
        while stack:
            current = stack.pop()
            yield current
            stack.extend(c for c in children.get(current.span_id, []) if c.service == span.service)

    def _entry(self, bucket: _Bucket, trace_id: str, span: Span, children: dict[str, list[Span]],
               failed: dict[str, bool]) -> bool:
        """Count one request entering the service; whether it succeeded."""
        calls_ms = 0.0
        failed_below = call_failed = False
        for member in self._subtree(span, children):
            failed_below |= failed[member.span_id]
            remote = [c for c in children.get(member.span_id, []) if c.service != span.service]
            call_failed |= any(self._failed_subtree(c, children, failed) for c in remote)
            peer_call = member.kind in _CLIENT_KINDS and bool(member.peer_service) \
                and not children.get(member.span_id)
            call_failed |= peer_call and failed[member.span_id]
            if member is span:
                calls_ms += sum(c.duration_ms for c in remote)
            elif remote or peer_call:
                calls_ms += member.duration_ms  # the client span: the call as the caller waited for it
        acc = bucket.ops[(span.service, span.name)]
        acc.entries += 1
        key = span.span_id
        _sample(acc.latency_ms, span.duration_ms, acc.entries, key, self.config.samples)
        _sample(acc.self_ms, max(0.0, span.duration_ms - calls_ms), acc.entries, key, self.config.samples)
        if failed_below:
            acc.errors += 1
            acc.own_errors += int(not call_failed)
        if span.duration_ms > acc.slowest[0]:
            acc.slowest = (span.duration_ms, trace_id)
        return not failed_below

    def _failed_subtree(self, span: Span, children: dict[str, list[Span]], failed: dict[str, bool]) -> bool:
        return any(failed[m.span_id] for m in self._subtree(span, children))

    def _call(self, bucket: _Bucket, trace_id: str, client: Span, server: Span, siblings: list[Span],
              children: dict[str, list[Span]], failed: dict[str, bool]) -> None:
        error = failed[client.span_id] or self._failed_subtree(server, children, failed)
        self._edge(client.service, server.service, error, server.end_time)
        acc = bucket.edges[(client.service, server.service)]
        acc.calls += 1
        acc.errors += int(error)
        key = server.span_id
        # The caller's span is the client side when it says so, or (without a kind) when the call is all it
        # holds: its one child is the callee's span.
        if client.kind in _CLIENT_KINDS or (client.kind in _UNKNOWN_KINDS and len(siblings) == 1):
            acc.timed += 1
            gap = client.duration_ms - server.duration_ms
            _sample(acc.client_ms, client.duration_ms, acc.timed, key, self.config.samples)
            _sample(acc.server_ms, server.duration_ms, acc.timed, key, self.config.samples)
            _sample(acc.gap_ms, max(gap, 0.0), acc.timed, key, self.config.samples)
            if gap > acc.slowest[0]:
                acc.slowest = (gap, trace_id)

    def _uninstrumented_call(self, bucket: _Bucket, trace_id: str, client: Span, error: bool) -> None:
        """A client span to a peer that sends no spans of its own (a database, a third-party API)."""
        callee = client.peer_service or ""
        self._edge(client.service, callee, error, client.end_time)
        acc = bucket.edges[(client.service, callee)]
        acc.calls += 1
        acc.errors += int(error)
        acc.timed += 1
        _sample(acc.client_ms, client.duration_ms, acc.timed, client.span_id, self.config.samples)
        if client.duration_ms > acc.slowest[0]:
            acc.slowest = (client.duration_ms, trace_id)

    # --- closing a bucket -------------------------------------------------------------------------
    def _stats(self, start: int, bucket: _Bucket, logs_settled: bool) -> list[SpanStats]:
        by_service: dict[str, dict[str, list]] = defaultdict(lambda: {"ops": [], "edges": [], "templates": []})
        for (service, op), acc in bucket.ops.items():
            by_service[service]["ops"].append(OpStats(
                op=op, spans=acc.spans, entries=acc.entries, errors=acc.errors, own_errors=acc.own_errors,
                latency_ms=acc.latency_ms, self_ms=acc.self_ms, slowest_trace=acc.slowest[1]))
        for (caller, callee), edge in bucket.edges.items():
            by_service[callee]["edges"].append(EdgeStats(
                caller=caller, calls=edge.calls, errors=edge.errors, client_ms=edge.client_ms,
                server_ms=edge.server_ms, gap_ms=edge.gap_ms, slowest_trace=edge.slowest[1]))
        for (service, op, template_id), (spans, template, severity) in bucket.templates.items():
            by_service[service]["templates"].append(TemplateStats(
                op=op, template_id=template_id, template=template, severity=severity, spans=spans))
        when = datetime.fromtimestamp(start, UTC)
        return [SpanStats(service=service, bucket_start=when, bucket_s=self.config.bucket_s,
                          logs_settled=logs_settled, **parts)
                for service, parts in sorted(by_service.items())]
