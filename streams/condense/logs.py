"""Log lines → template counts per (scope, service, template, bucket): the log condensing stage's core.

Inputs: JSON log lines (aiops.logs.raw), OTLP logs (otlp_logs) and canonical LogRecords (aiops.logs, Avro).
A JSON line takes a fast path (msgspec, the same field lookup as the normaliser) when it is plainly well
formed; anything else goes through the normaliser's own decoder, so what is accepted, and the reason a line
is refused, are the same as `streams/ingest`'s. Nothing here touches Kafka: `add` takes a message, `drain`
hands out the records of everything added since the last drain.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple

import msgspec

from aiops.core.avro import AvroCodec
from aiops.core.settings import Settings
from streams.condense.records import (
    MAX_EXAMPLES,
    MAX_PLACEMENTS,
    MAX_TRACE_IDS,
    LogTemplateCount,
    encode_condensed,
    placement_of,
)
from streams.condense.templates import ServiceTemplates
from streams.ingest.errors import IngestError
from streams.ingest.fields import normalize_trace_id
from streams.ingest.json_input import MAX_JSON_DEPTH
from streams.ingest.logs import _level, _lookup, _text, decode_log_line, find_field
from streams.ingest.otlp import decode_logs
from streams.ingest.times import from_epoch_number, parse_event_time
from streams.ingest.verdicts import Rejected
from streams.logtemplates.errors import SnapshotError
from streams.logtemplates.miner import MinerConfig, ServiceTemplateMiner
from streams.records import LogRecord, Severity, severity_from_text
from streams.scopes import scope_from, scope_of

RANK = {Severity.unknown: 0, Severity.info: 1, Severity.warning: 2, Severity.error: 3, Severity.critical: 4}
SEVERITY_OF_RANK = {rank: severity.value for severity, rank in RANK.items()}
_json_decode = msgspec.json.Decoder().decode


class LogLine(NamedTuple):
    """The parts of a line the counts need (a tuple: built once per line, so it must be cheap)."""

    service: str
    time: float
    level: str
    rank: int
    message: str
    trace_id: str | None  # as written: normalised only when kept (a few per record)
    scope: str = ""
    placement: dict[str, str] | None = None  # where it was logged, when the input says (OTLP resources)


class _Count:
    __slots__ = ("count", "rank", "level", "first", "last", "examples", "trace_ids", "placements")

    def __init__(self, line: LogLine) -> None:
        self.count = 0
        self.rank = -1
        self.level = ""
        self.first = self.last = line.time
        self.examples: list[str] = []
        self.trace_ids: list[str] = []
        self.placements: list[dict[str, str]] = []


class LogCondenser:
    """Counts lines per (scope, service, template, bucket) with the worst level, examples and trace ids."""

    def __init__(self, settings: Settings, canonical_codec: AvroCodec | None = None) -> None:
        self.settings = settings
        self.bucket_s = settings.log_rate_bucket_s
        self.miner_config = MinerConfig.from_settings(settings)
        self.max_example_chars = 1000
        self.canonical_codec = canonical_codec
        self.scope_labels = list(settings.correlation_scope_labels)
        self.services: dict[str, ServiceTemplates] = {}
        self._snapshots: dict[str, bytes] = {}  # restored, not yet loaded (miners load on first use)
        self._counts: dict[tuple[str, str, str, float], _Count] = {}
        self.lines = 0
        self._fast_limit = min(settings.ingest_max_field_bytes, settings.ingest_max_message_bytes)
        self._message_fields = _compile(settings.log_message_fields)
        self._service_fields = _compile(settings.log_service_fields)
        self._timestamp_fields = _compile(settings.log_timestamp_fields)
        self._level_fields = _compile(settings.log_level_fields)
        self._trace_fields = _compile(settings.log_trace_id_fields)
        self._level_ranks: dict[str, int] = {}

    # --- input ------------------------------------------------------------------------------------
    def add(self, kind: str, value: bytes | None) -> list[Rejected]:
        """Count one input message (kind: json, otlp or canonical). IngestError (or SerializationError) when the
        message as a whole is refused, and then nothing of it is counted; the records of an OTLP request that
        are refused on their own are returned, to be dead-lettered each (the others are counted)."""
        rejected: list[Rejected] = []
        if kind == "json":
            lines = [self._json_line(value)]
        elif kind == "otlp":
            decoded = decode_logs(value, self.settings)
            lines, rejected = [self._from_record(r) for r in decoded], decoded.rejected
        elif kind == "canonical":
            if self.canonical_codec is None:
                raise IngestError("no codec for canonical log records")
            lines = [self._from_record(LogRecord.from_avro(self.canonical_codec.decode(value)))]
        else:
            raise ValueError(f"unknown log input kind {kind!r}")
        for line in lines:
            self._count(line)
        return rejected

    def _json_line(self, value: bytes | None) -> LogLine:
        # The fast path only for lines that cannot hit a limit or a JSON corner the normaliser rejects: small
        # enough that no field can be over the field limit, no escaped surrogates, not nested deep.
        if (value is None or len(value) > self._fast_limit or b"\\ud" in value or b"\\uD" in value
                or value.count(b"{") + value.count(b"[") > MAX_JSON_DEPTH):
            return self._from_record(decode_log_line(value, self.settings))
        try:
            document = _json_decode(value)
        except msgspec.DecodeError:
            document = None
        line = self._fast_fields(document) if isinstance(document, dict) else None
        return line if line is not None else self._from_record(decode_log_line(value, self.settings))

    def _fast_fields(self, document: dict[str, Any]) -> LogLine | None:
        """The line's parts as the normaliser would read them, or None to let the normaliser decide."""
        message = _first(document, self._message_fields)
        if message is None:
            return None
        service = None
        for candidate in self._service_fields:  # the first candidate holding a non-blank string
            found = _first(document, (candidate,))
            if found is not None and isinstance(found, str):
                service = found.strip()
                if service:
                    break
                service = None
        if service is None:
            return None
        when = _epoch(_first(document, self._timestamp_fields))
        if when is None:
            return None  # no time (the normaliser stamps the observed time) or not one the fast path reads
        found_level = _first(document, self._level_fields)
        if found_level is None:
            level, rank = "", 0
        elif isinstance(found_level, str):
            level, rank = found_level, self._rank_of_word(found_level)
        else:
            level, severity = _level(found_level)
            rank = RANK[severity]
        trace = _first(document, self._trace_fields)
        scope = scope_of(self._scope_value(document, label) for label in self.scope_labels) if self.scope_labels \
            else ""
        return LogLine(service, when, level, rank, message if isinstance(message, str) else _text(message),
                       None if trace is None else trace if isinstance(trace, str) else _text(trace), scope)

    def _rank_of_word(self, level: str) -> int:
        rank = self._level_ranks.get(level)
        if rank is None:
            rank = RANK[severity_from_text(level)]
            if len(self._level_ranks) < 1000:  # level words are few; a flood of odd ones is not cached
                self._level_ranks[level] = rank
        return rank

    @staticmethod
    def _scope_value(document: dict[str, Any], label: str) -> str:
        found = find_field(document, [label])
        return "" if found is None else _text(found[1])

    def _from_record(self, record: LogRecord) -> LogLine:
        scope = scope_from({**record.resource.attributes, **record.attributes}, self.scope_labels)
        return LogLine(record.service, record.time.timestamp(), record.level, RANK[record.severity], record.message,
                       record.trace_id, scope, placement_of(record.service, record.resource))

    def _count(self, line: LogLine) -> None:
        templates = self.templates_for(line.service)
        template_id = templates.template_of(line.message)
        bucket = (line.time // self.bucket_s) * self.bucket_s
        key = (line.scope, line.service, template_id, bucket)
        counted = self._counts.get(key)
        if counted is None:
            counted = self._counts[key] = _Count(line)
        counted.count += 1
        if line.rank > counted.rank:
            counted.rank, counted.level = line.rank, line.level
        if line.time < counted.first:
            counted.first = line.time
        elif line.time > counted.last:
            counted.last = line.time
        if len(counted.examples) < MAX_EXAMPLES:
            example = line.message[: self.max_example_chars]
            if example not in counted.examples:
                counted.examples.append(example)
        if line.placement and len(counted.placements) < MAX_PLACEMENTS and line.placement not in counted.placements:
            counted.placements.append(line.placement)
        if line.trace_id and len(counted.trace_ids) < MAX_TRACE_IDS:
            trace_id = normalize_trace_id(line.trace_id)
            if trace_id and trace_id not in counted.trace_ids:
                counted.trace_ids.append(trace_id)
        self.lines += 1

    # --- state ------------------------------------------------------------------------------------
    def templates_for(self, service: str) -> ServiceTemplates:
        templates = self.services.get(service)
        if templates is None:
            snapshot = self._snapshots.pop(service, None)
            miner = None
            if snapshot is not None:
                try:
                    miner = ServiceTemplateMiner.from_bytes(snapshot, self.miner_config)
                except SnapshotError:
                    miner = None  # another depth or format: start over rather than stop
            templates = self.services[service] = ServiceTemplates(miner or ServiceTemplateMiner(
                self.miner_config, service))
        return templates

    def restore(self, snapshots: dict[str, bytes]) -> None:
        """Start over from saved miners (service → `ServiceTemplateMiner.to_bytes()`), e.g. after a rebalance."""
        self.services = {}
        self._snapshots = dict(snapshots)
        self._counts = {}

    def holding(self) -> bool:
        return False  # everything counted is written at the next flush

    def snapshots(self) -> list[tuple[str, bytes]]:
        """The miners that learned since the last call, as (service, bytes), to save with the flush."""
        changed = []
        for service, templates in self.services.items():
            templates.touch()
            if templates.changed:
                changed.append((service, templates.miner.to_bytes()))
                templates.changed = False
        return changed

    # --- output -----------------------------------------------------------------------------------
    def drain(self) -> list[tuple[bytes, bytes]]:
        """(key, value) of a LogTemplateCount for every key counted since the last drain; key: the service."""
        out = []
        for (scope, service, template_id, bucket), c in self._counts.items():
            record = LogTemplateCount(
                service=service, template_id=template_id, template=self.services[service].template_text(template_id),
                bucket_start=bucket, bucket_s=self.bucket_s, count=c.count, level=c.level,
                severity=SEVERITY_OF_RANK[c.rank], first_time=c.first, last_time=c.last, examples=c.examples,
                trace_ids=c.trace_ids, placements=c.placements, scope=scope)
            out.append((service.encode(), encode_condensed(record)))
        self._counts = {}
        return out

    @property
    def pending(self) -> int:
        return len(self._counts)


def _compile(candidates: list[str]) -> tuple[tuple[str, list[str] | None], ...]:
    """Candidates as (key, parts): parts only for dotted paths, which may also be reached by nesting."""
    return tuple((c, c.split(".") if "." in c else None) for c in candidates)


def _first(document: dict[str, Any], compiled: tuple[tuple[str, list[str] | None], ...]) -> Any:
    """`find_field`'s value (the first candidate present with a non-null value), without its path."""
    for key, parts in compiled:
        if parts is None:
            value = document.get(key)
        else:
            found = _lookup(document, parts)
            value = None if found is None else found[1]
        if value is not None:
            return value
    return None


def _epoch(value: Any) -> float | None:
    """`parse_event_time(value).timestamp()`, reading ISO strings without its regex; None when it would fail."""
    if value is None or isinstance(value, bool):
        return None
    try:
        if isinstance(value, str):
            if len(value) >= 10 and value[4] == "-":  # a date first: not an epoch number written as a string
                parsed = datetime.fromisoformat(value)
                return (parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed).timestamp()
            return parse_event_time(value).timestamp()
        if isinstance(value, int | float):
            return from_epoch_number(value).timestamp()
    except (ValueError, OverflowError):
        return None
    return None
