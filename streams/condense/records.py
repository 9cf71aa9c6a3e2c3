"""The condensed records on aiops.logs.condensed and aiops.spans.condensed (JSON, msgspec-typed).

Each record is a partial count for one key and one event-time bucket, as seen by one flush of a condensing
process: a consumer adds up the records of the same key and bucket (counts and sums add, sketches merge).
Each flush is one Kafka transaction with the input offsets, so under read_committed a record is seen once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import msgspec

from streams.records import Placement, Resource

# Sizes kept per record: enough for evidence, bounded whatever the input.
MAX_EXAMPLES = 3
MAX_TRACE_IDS = 5
MAX_EXEMPLARS = 5
MAX_PLACEMENTS = 5  # distinct pods / nodes / versions named per record
MAX_STACKTRACE_CHARS = 4000  # evidence, not a core dump: the top of the stack says where


class LogTemplateCount(msgspec.Struct, frozen=True, tag="log_template", omit_defaults=True):
    """Lines of one service that share a template, in one bucket."""

    service: str
    template_id: str
    template: str
    bucket_start: float  # epoch seconds, aligned to bucket_s
    bucket_s: int
    count: int
    level: str  # the worst level's text as written
    severity: str  # the worst level on the one scale (critical, error, warning, info, unknown)
    first_time: float
    last_time: float
    examples: list[str] = []
    trace_ids: list[str] = []
    placements: list[dict[str, str]] = []  # where it was logged (streams.records.Placement, known fields only)
    scope: str = ""  # the correlation scope (AIOPS_CORRELATION_SCOPE_LABELS), "" when one scope


class SpanExemplar(msgspec.Struct, frozen=True, omit_defaults=True):
    """One span kept as evidence: an error, or among the slowest of its record."""

    trace_id: str
    span_id: str
    duration_ms: float
    end_time: float
    error: bool = False
    message: str | None = None
    placement: dict[str, str] | None = None  # where the span ran (streams.records.Placement, known fields only)
    exception_type: str | None = None  # the span's first exception event
    exception_message: str | None = None
    exception_stacktrace: str | None = None


class OperationStats(msgspec.Struct, frozen=True, tag="operation", omit_defaults=True):
    """Spans of one (service, operation, peer, side) in one bucket: what per-operation error and latency
    anomaly detection needs."""

    service: str
    operation: str
    side: Literal["server", "client", "internal"]
    bucket_start: float
    bucket_s: int
    count: int
    errors: int
    duration_sum_ms: float
    ok_count: int  # spans without an error status: the latency baseline is built from these
    ok_duration_sum_ms: float
    exclusive_sum_ms: float  # time in the span itself, children found in the same request subtracted
    max_ms: float
    sketch: dict[str, list[float] | float]  # the durations' DDSketch (streams/condense/sketch.py)
    peer_service: str = ""
    errors_exemplars: list[SpanExemplar] = []
    slow_exemplars: list[SpanExemplar] = []
    scope: str = ""


class CallEdge(msgspec.Struct, frozen=True, tag="edge", omit_defaults=True):
    """Calls from one service to another seen in one bucket (a client span naming its peer, or a child
    server span under a parent of another service)."""

    caller: str
    callee: str
    bucket_start: float
    bucket_s: int
    calls: int
    errors: int
    scope: str = ""


class ServiceSpanStats(msgspec.Struct, frozen=True, tag="service_stats", omit_defaults=True):
    """What one service's requests did in one event-time bucket, read from the whole traces one flush held:
    streams.anomaly.records.SpanStats as JSON (per-operation latency and own time samples, calls into the
    service timed from both sides), judged downstream by the same detector as in the per-line mode. Partial
    like every condensed record: the detector merges the records of one bucket."""

    service: str
    bucket_start: float
    stats: dict[str, Any]  # SpanStats.model_dump(mode="json")
    scope: str = ""


CondensedRecord = LogTemplateCount | OperationStats | CallEdge | ServiceSpanStats

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(CondensedRecord)


def encode_condensed(record: CondensedRecord) -> bytes:
    return _encoder.encode(record)


def decode_condensed(data: bytes | None) -> CondensedRecord:
    """One condensed record; msgspec.ValidationError / DecodeError (both msgspec.MsgspecError) otherwise."""
    if data is None:
        raise msgspec.ValidationError("empty condensed record")
    return _decoder.decode(data)


class WrongRecordKindError(ValueError):
    """A condensed record of another kind than the topic carries."""


def decode_as(*kinds: type) -> Callable[[bytes | None], Any]:
    """A decoder for a topic that carries only these kinds of condensed record (anything else raises)."""

    def decode(data: bytes | None) -> Any:
        try:
            record = decode_condensed(data)
        except msgspec.MsgspecError as exc:
            raise WrongRecordKindError(f"not a condensed record: {exc}") from None
        if not isinstance(record, kinds):
            wanted = " or ".join(k.__name__ for k in kinds)
            raise WrongRecordKindError(f"expected {wanted}, got {type(record).__name__}")
        return record

    return decode


def placement_of(service: str, resource: Resource) -> dict[str, str] | None:
    """A record's Placement as a compact dict (its known fields), None when the resource names no place."""
    placement = Placement.of(service, resource)
    return placement.model_dump(exclude_none=True) if placement.known else None


def exception_of(attributes: dict[str, str]) -> tuple[str | None, str | None, str | None]:
    """(type, message, the top of the stack) of an exception event's attributes."""
    stacktrace = attributes.get("exception.stacktrace")
    return (attributes.get("exception.type"), attributes.get("exception.message"),
            stacktrace[:MAX_STACKTRACE_CHARS] if stacktrace else None)
