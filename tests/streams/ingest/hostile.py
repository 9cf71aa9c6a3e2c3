"""Hypothesis strategies for every ingestion input: valid messages (with a marker to count their records by)
and malformed or hostile ones (truncated protobuf, wrong JSON types, huge fields, invalid UTF-8, missing
service, deep nesting, ...). Each hostile category is invalid by construction; where the construction fixes
the reason, the expected part of the dead-letter reason comes with it."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from streams.ingest.otlp import to_otlp_json
from tests.processes import NORMALIZE_LIMITS
from tests.streams.ingest import samples

# The limits the test worker runs with (tests/processes.py).
MAX_MESSAGE_BYTES = int(NORMALIZE_LIMITS["AIOPS_INGEST_MAX_MESSAGE_BYTES"])
MAX_FIELD_BYTES = int(NORMALIZE_LIMITS["AIOPS_INGEST_MAX_FIELD_BYTES"])
# Replaced by a unique marker of the same length after generation, so protobuf lengths stay right.
PLACEHOLDER = "mk-@@@@@@@@@@@@"
MARKER_FIELD = "test_marker"


@dataclass(frozen=True)
class Hostile:
    category: str
    value: bytes | None
    reason: str | None  # a part of the dead-letter reason the construction guarantees, if any


@dataclass(frozen=True)
class ValidTemplate:
    value: bytes  # holds PLACEHOLDER where the marker goes
    records: int  # canonical records the message yields, each carrying the marker

    def with_marker(self, marker: str) -> bytes:
        assert len(marker) == len(PLACEHOLDER)
        return self.value.replace(PLACEHOLDER.encode(), marker.encode())


def collect(strategy: st.SearchStrategy, count: int) -> list:
    """`count` examples of a strategy, the same ones on every run (what a derandomized `@given` is handed)."""
    found: list = []

    @settings(max_examples=count, phases=[Phase.generate], derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def gather(example) -> None:
        found.append(example)

    gather()
    assert len(found) >= count, f"hypothesis generated only {len(found)} of {count} examples"
    return found[:count]


def pool(strategy: st.SearchStrategy, size: int = 300) -> st.SearchStrategy:
    """Valid messages generated once, handed out as fresh copies to be damaged: much cheaper than generating
    a new valid message for each of thousands of hostile ones."""
    return st.sampled_from(collect(strategy, size)).map(copy.deepcopy)


def dumps(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


# ---- building blocks ----------------------------------------------------------------------------------------

texts = st.text(max_size=40)
names = st.text(st.characters(min_codepoint=97, max_codepoint=122) | st.sampled_from("0123456789-_"),
                min_size=1, max_size=24)
services = names.map(lambda s: f"svc-{s}")
json_leaves = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False,
                                                                                     allow_infinity=False) | texts
json_values = st.recursive(json_leaves, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(texts, inner, max_size=3), max_leaves=6)
times_utc = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC))
rfc3339_times = times_utc.map(lambda t: t.isoformat().replace("+00:00", "Z"))
not_rfc3339 = st.one_of(st.integers(), st.booleans(), st.lists(st.integers(), max_size=2),
                        st.sampled_from(["yesterday", "2026-11-26", "2026-11-26T10:00:00", "10:00:00Z", "",
                                         "2026-13-45T99:99:99Z", "Thu, 26 Nov 2026 10:00:00 GMT"]))
wrong_for_object = st.one_of(st.lists(json_leaves, max_size=3), st.integers(), texts, st.booleans())
wrong_for_string = st.one_of(st.integers(), st.booleans(), st.lists(st.integers(), max_size=2),
                             st.dictionaries(texts, st.integers(), max_size=2))
severity_words = st.sampled_from(["critical", "page", "P1", "error", "warning", "warn", "info", "debug", "none",
                                  "FATAL", "Minor"]) | texts
huge_text = st.integers(MAX_FIELD_BYTES + 1, 2 * MAX_FIELD_BYTES).map(lambda n: "h" * n)
oversize_pad = st.integers(MAX_MESSAGE_BYTES + 1, MAX_MESSAGE_BYTES + 8_192).map(lambda n: "p" * n)


# Built once: a strategy made inside a composite is validated again on every draw, which is slow.
booleans = st.booleans()
small_index = st.integers(0, 3)
alert_names = st.text(min_size=1, max_size=30)
service_label_names = st.sampled_from(["service", "job", "app"])
statuses = st.sampled_from(["firing", "resolved"])
string_maps = st.dictionaries(texts, texts, max_size=3)
annotation_maps = st.dictionaries(texts, st.text(max_size=200), max_size=3)
fingerprints = st.text(min_size=1, max_size=40)
generic_optional = {"status": statuses, "severity": severity_words, "annotations": string_maps,
                    "starts_at": rfc3339_times | st.integers(1_000_000_000, 4_000_000_000),
                    "fingerprint": fingerprints, "trace_id": texts, "generator_url": texts}
message_keys = st.sampled_from(["message", "msg", "log"])
messages = st.text(max_size=200)
service_places = st.sampled_from(["service", "app", "service.name", "kubernetes", "source_type"])
timestamp_keys = st.sampled_from(["timestamp", "@timestamp", "time", "ts", "date", None])
timestamps = st.one_of(rfc3339_times, st.floats(1e9, 4e9), st.integers(10**12, 4 * 10**12),
                       st.integers(10**18, 4 * 10**18))
level_keys = st.sampled_from(["level", "severity", "lvl"])
levels = severity_words | st.sampled_from([10, 20, 30, 40, 50, 60, 3])
trace_id_bytes = st.binary(min_size=16, max_size=16)
extra_fields = st.dictionaries(texts, json_leaves | st.lists(json_leaves, max_size=3), max_size=3)
span_starts = st.integers(10**18, 2 * 10**18)
span_durations = st.integers(0, 10**12)
span_kinds = st.integers(0, 5)
status_codes = st.integers(0, 2)
record_counts = st.integers(1, 4)
log_times = st.integers(0, 2 * 10**18)
observed_times = st.integers(10**18, 2 * 10**18)
severity_numbers = st.integers(0, 24)
short_ids = st.binary(min_size=1, max_size=7)
backwards = st.integers(1, 10**9)
bad_trace_ids = st.binary(min_size=1, max_size=40).filter(lambda b: len(b) != 16)
bad_span_ids = st.binary(min_size=1, max_size=20).filter(lambda b: len(b) != 8)
utf8_breakers = st.sampled_from([b"\xff" * 8, b"ab\xc3\x28cdef"])


def deep_json(depth: int) -> Any:
    value: Any = "bottom"
    for i in range(depth):
        value = [value] if i % 2 else {"d": value}
    return value


# ---- hostile messages that apply to any input ----------------------------------------------------------------

def byte_level(valid: st.SearchStrategy[bytes], json_input: bool) -> list[tuple[int, st.SearchStrategy[Hostile]]]:
    """(weight, strategy) for damage done to bytes, whatever the format."""

    def truncated(value: bytes) -> st.SearchStrategy[Hostile]:
        if value[:1] == b"{":  # cut JSON between characters, so that it stays valid UTF-8
            text = value.decode("utf-8")
            return st.integers(1, len(text) - 1).map(
                lambda cut: Hostile("truncated", text[:cut].encode("utf-8"), "invalid JSON"))
        return st.integers(1, len(value) - 1).map(
            lambda cut: Hostile("truncated", value[:cut], "protobuf parse error"))

    return [
        (4, st.binary(min_size=1, max_size=300).map(lambda b: Hostile("random-bytes", b, None))),
        (1, st.just(Hostile("tombstone", None, "empty message (null value)"))),
        (1, st.just(Hostile("empty", b"", "empty message" if json_input else "holds no"))),
        (3, valid.flatmap(truncated)),
        (2, st.integers(1_000, 20_000).map(lambda n: Hostile(
            "deep-brackets", b"[" * n, "nested deeper than 64 levels" if json_input else None))),
        (2, st.lists(json_leaves, max_size=4).map(lambda v: Hostile(
            "json-array", dumps(v), "expected a JSON object, got array" if json_input else None))),
        (2, json_values.map(lambda v: Hostile("random-json", dumps({"x": v}), None))),
    ]


def json_damage(valid_json: st.SearchStrategy[bytes]) -> list[tuple[int, st.SearchStrategy[Hostile]]]:
    """(weight, strategy) for JSON objects that are not valid JSON after all, or not valid Unicode."""

    def invalid_utf8(value: bytes) -> st.SearchStrategy[Hostile]:
        bad_bytes = st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80"])
        return st.tuples(st.integers(1, len(value) - 1), bad_bytes).map(
            lambda p: Hostile("invalid-utf8", value[:p[0]] + p[1] + value[p[0]:], "invalid UTF-8"))

    def truncated(value: bytes) -> st.SearchStrategy[Hostile]:
        text = value.decode("utf-8")
        return st.integers(1, len(text) - 1).map(
            lambda cut: Hostile("truncated-json", text[:cut].encode("utf-8"), "invalid JSON"))

    return [
        (3, valid_json.flatmap(invalid_utf8)),
        (2, valid_json.flatmap(truncated)),
        (1, st.sampled_from(["NaN", "Infinity", "-Infinity"]).map(
            lambda c: Hostile("json-constant", f'{{"message": {c}}}'.encode(), "invalid JSON"))),
        (1, st.integers(4_301, 6_000).map(lambda n: Hostile("huge-int", b'{"ts": 1' + b"0" * n + b"}",
                                                            "Exceeds the limit (4300 digits)"))),
        (2, st.integers(65, 400).map(lambda d: Hostile("deep-json", dumps({"nest": deep_json(d)}),
                                                       "nested deeper than 64 levels"))),
    ]


def weighted(categories: list[tuple[int, st.SearchStrategy[Hostile]]]) -> st.SearchStrategy[Hostile]:
    return st.sampled_from([s for weight, s in categories for _ in range(weight)]).flatmap(lambda s: s)


# ---- aiops.alerts.raw -----------------------------------------------------------------------------------------

@st.composite
def alertmanager_alert(draw: Callable, marker: bool = True) -> dict[str, Any]:
    labels = {"alertname": draw(alert_names),
              draw(service_label_names): draw(services),
              "severity": draw(severity_words)}
    labels.update({f"l_{k}": v for k, v in draw(string_maps).items()})
    if marker:
        labels[MARKER_FIELD] = PLACEHOLDER
    status = draw(statuses)
    return {"status": status, "labels": labels,
            "annotations": draw(annotation_maps),
            "startsAt": draw(rfc3339_times),
            "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else draw(rfc3339_times),
            "generatorURL": draw(texts), "fingerprint": draw(fingerprints)}


alert_lists = {flag: st.lists(alertmanager_alert(flag), min_size=1, max_size=3) for flag in (True, False)}


@st.composite
def webhook_payload(draw: Callable, marker: bool = True) -> dict[str, Any]:
    alerts = draw(alert_lists[marker])
    return {"receiver": draw(texts), "status": draw(statuses), "alerts": alerts,
            "groupLabels": {}, "commonLabels": draw(string_maps),
            "commonAnnotations": {}, "externalURL": draw(texts), "version": "4", "groupKey": draw(texts),
            "truncatedAlerts": 0}


@st.composite
def generic_alert(draw: Callable, marker: bool = True) -> dict[str, Any]:
    labels = {f"l_{k}": v for k, v in draw(string_maps).items()}
    if marker:
        labels[MARKER_FIELD] = PLACEHOLDER
    document: dict[str, Any] = {"name": draw(alert_names), "labels": labels}
    if draw(booleans):
        document["service"] = draw(services)
    else:
        labels[draw(service_label_names)] = draw(services)
    optional = {"status": st.sampled_from(["firing", "resolved"]), "severity": severity_words,
                "annotations": st.dictionaries(texts, texts, max_size=2),
                "starts_at": rfc3339_times | st.integers(1_000_000_000, 4_000_000_000),
                "fingerprint": st.text(min_size=1, max_size=30), "trace_id": texts, "generator_url": texts}
    for name, strategy in optional.items():
        if draw(booleans):
            document[name] = draw(strategy)
    return document


def valid_alerts() -> st.SearchStrategy[ValidTemplate]:
    payloads = webhook_payload().map(lambda p: ValidTemplate(dumps(p), len(p["alerts"])))
    bridged = alertmanager_alert().map(lambda a: ValidTemplate(dumps({**a, "receiver": "aiops", "groupKey": "g"}), 1))
    generic = generic_alert().map(lambda a: ValidTemplate(dumps(a), 1))
    return st.one_of(payloads, bridged, generic)


def _mutated_payload(payloads: st.SearchStrategy, path: str, wrong: st.SearchStrategy,
                     reason: str) -> st.SearchStrategy[Hostile]:
    @st.composite
    def build(draw: Callable) -> Hostile:
        payload = draw(payloads)
        index = draw(small_index) % len(payload["alerts"])
        target: dict[str, Any] = payload if path.startswith("$") else payload["alerts"][index]
        key = path.lstrip("$")
        if key.startswith("labels."):
            target["labels"][key.split(".", 1)[1]] = draw(wrong)
        else:
            target[key] = draw(wrong)
        return Hostile(f"webhook-{key}", dumps(payload), reason.format(i=index))
    return build()


@st.composite
def alert_without_service(draw: Callable, payloads: st.SearchStrategy, generics: st.SearchStrategy) -> Hostile:
    if draw(booleans):
        payload = draw(payloads)
        index = draw(small_index) % len(payload["alerts"])
        for name in ("service", "job", "app"):
            payload["alerts"][index]["labels"].pop(name, None)
        return Hostile("missing-service", dumps(payload), "no service: none of labels service, job, app")
    alert = draw(generics)
    alert.pop("service", None)
    for name in ("service", "job", "app"):
        alert["labels"].pop(name, None)
    return Hostile("missing-service", dumps(alert), "no service")


@st.composite
def alert_with_huge_field(draw: Callable, generics: st.SearchStrategy) -> Hostile:
    alert = draw(generics)
    alert.setdefault("annotations", {})["description"] = draw(huge_text)
    return Hostile("huge-field", dumps(alert), f"over the {MAX_FIELD_BYTES}-byte limit")


@st.composite
def alert_oversize(draw: Callable, payloads: st.SearchStrategy) -> Hostile:
    payload = draw(payloads)
    payload["commonAnnotations"] = {"pad": draw(oversize_pad)}
    return Hostile("oversize", dumps(payload), f"over the {MAX_MESSAGE_BYTES}-byte limit")


@st.composite
def alert_lone_surrogate(draw: Callable, generics: st.SearchStrategy) -> Hostile:
    alert = draw(generics)
    alert["labels"]["l_bad"] = "\ud800" + draw(texts)
    text = json.dumps(alert)  # ASCII with \ud800 escapes: valid JSON text, invalid Unicode once parsed
    return Hostile("lone-surrogate", text.encode("ascii"), "lone surrogate")


def hostile_alerts() -> st.SearchStrategy[Hostile]:
    payloads, generics = pool(webhook_payload(marker=False)), pool(generic_alert(marker=False))
    valid = payloads.map(dumps)
    generic_broken = generics.flatmap(lambda a: st.sampled_from([
        Hostile("generic-name", dumps({**a, "name": ""}), "name"),
        Hostile("generic-name", dumps({k: v for k, v in a.items() if k != "name"}), "name: missing"),
        Hostile("generic-name", dumps({**a, "name": 7}), "name: expected a string"),
        Hostile("generic-labels", dumps({**a, "labels": ["x"]}), "labels: expected an object"),
        Hostile("generic-starts_at", dumps({**a, "starts_at": True}), "starts_at"),
        Hostile("generic-status", dumps({**a, "status": "pending"}), "status: expected 'firing' or 'resolved'"),
    ]))
    return weighted(byte_level(valid, json_input=True) + json_damage(valid) + [
        # One bad alert in a payload is rejected on its own (its position, then the reason); the others go on.
        (2, _mutated_payload(payloads, "labels", wrong_for_object, "labels: expected an object")),
        (2, _mutated_payload(payloads, "labels.l_x", wrong_for_string, "labels.l_x: expected a string")),
        (2, _mutated_payload(payloads, "startsAt", not_rfc3339, "startsAt")),
        (1, _mutated_payload(payloads, "status", texts.filter(lambda s: s not in ("firing", "resolved")),
                             "status")),
        (1, _mutated_payload(payloads, "fingerprint", wrong_for_string | st.just(""), "fingerprint")),
        (1, _mutated_payload(payloads, "labels.alertname", st.just(""), "no alertname label")),
        (1, _mutated_payload(payloads, "$alerts", st.one_of(st.integers(), texts, st.booleans(), st.just([])),
                             "alerts: expected")),
        (3, alert_without_service(payloads, generics)),
        (2, generic_broken),
        (1, alert_with_huge_field(generics)),
        (1, alert_lone_surrogate(generics)),
        (1, alert_oversize(payloads)),
    ])


# ---- aiops.logs.raw -------------------------------------------------------------------------------------------

@st.composite
def log_line(draw: Callable, marker: bool = True) -> dict[str, Any]:
    document: dict[str, Any] = {draw(message_keys): draw(messages)}
    service = draw(services)
    where = draw(service_places)
    document[where] = {"container_name": service} if where == "kubernetes" else service
    timestamp_key = draw(timestamp_keys)
    if timestamp_key:
        document[timestamp_key] = draw(timestamps)
    if draw(booleans):
        document[draw(level_keys)] = draw(levels)
    if draw(booleans):
        document["trace_id"] = draw(trace_id_bytes).hex()
    document.update({f"x_{k}": v for k, v in draw(extra_fields).items()})
    if marker:
        document[MARKER_FIELD] = PLACEHOLDER
    return document


def valid_log_lines() -> st.SearchStrategy[ValidTemplate]:
    return log_line().map(lambda d: ValidTemplate(dumps(d), 1))


def _without(document: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k not in keys}


_SERVICE_KEYS = ("service", "app", "service.name", "kubernetes", "source_type")


def hostile_log_lines() -> st.SearchStrategy[Hostile]:
    lines = pool(log_line(marker=False))
    valid = lines.map(dumps)
    broken = lines.flatmap(lambda d: st.one_of(
        st.just(Hostile("missing-message", dumps(_without(d, ("message", "msg", "log"))),
                        "field 'message' missing (looked for message, msg, log)")),
        st.just(Hostile("missing-service", dumps(_without(d, _SERVICE_KEYS)), "no service: none of fields")),
        st.one_of(st.booleans(), st.lists(st.integers(), max_size=2), st.dictionaries(texts, texts, max_size=2),
                  st.sampled_from(["yesterday", "", "26/11/2026", "1e400"]), st.just(1e300)).map(
            lambda bad: Hostile("bad-timestamp", dumps({**_without(d, ("timestamp", "@timestamp", "time", "ts",
                                                                      "date")), "timestamp": bad}),
                                "field 'timestamp'")),
        huge_text.map(lambda h: Hostile("huge-field", dumps({**_without(d, ("message", "msg", "log")),
                                                              "message": h}), f"over the {MAX_FIELD_BYTES}-byte")),
        oversize_pad.map(lambda p: Hostile("oversize", dumps({**d, "pad": p}), f"over the {MAX_MESSAGE_BYTES}-byte")),
        texts.map(lambda t: Hostile("lone-surrogate", json.dumps({**_without(d, ("message", "msg", "log")),
                                                                  "message": "\udfff" + t}).encode("ascii"),
                                    "lone surrogate")),
    ))
    return weighted(byte_level(valid, json_input=True) + json_damage(valid) + [(18, broken)])


# ---- otlp_spans -----------------------------------------------------------------------------------------------

nonzero_ids = {size: st.binary(min_size=size, max_size=size).filter(any) for size in (8, 16)}
attribute_values = st.one_of(texts, st.integers(-(2**63), 2**63 - 1), st.floats(), st.booleans(),
                             st.lists(texts, max_size=3))
attribute_maps = st.dictionaries(texts.map(lambda k: f"a.{k}"), attribute_values, max_size=3)
log_bodies = st.one_of(texts, st.integers(-(2**63), 2**63 - 1), st.lists(texts, max_size=3))


def _key_value(key: str, value: Any) -> KeyValue:
    kv = KeyValue(key=key)
    if isinstance(value, bool):
        kv.value.bool_value = value
    elif isinstance(value, int):
        kv.value.int_value = value
    elif isinstance(value, float):
        kv.value.double_value = value
    elif isinstance(value, list):
        kv.value.array_value.values.extend(AnyValue(string_value=v) for v in value)
    else:
        kv.value.string_value = value
    return kv


@st.composite
def otlp_span(draw: Callable, marker: bool = True) -> Span:
    start = draw(span_starts)
    span = Span(trace_id=draw(nonzero_ids[16]), span_id=draw(nonzero_ids[8]), name=draw(texts),
                kind=draw(span_kinds), start_time_unix_nano=start,
                end_time_unix_nano=start + draw(span_durations))
    if draw(booleans):
        span.parent_span_id = draw(nonzero_ids[8])
    span.status.code = draw(status_codes)
    span.status.message = draw(texts)
    attributes = draw(attribute_maps)
    if marker:
        attributes[MARKER_FIELD] = PLACEHOLDER
    span.attributes.extend(_key_value(k, v) for k, v in attributes.items())
    return span


span_lists = {flag: st.lists(otlp_span(flag), min_size=1, max_size=4) for flag in (True, False)}


@st.composite
def trace_request(draw: Callable, marker: bool = True) -> ExportTraceServiceRequest:
    spans = draw(span_lists[marker])
    return samples.trace_request(*spans, service=draw(services))


def encoded(message_strategy: st.SearchStrategy) -> st.SearchStrategy[bytes]:
    return st.tuples(message_strategy, st.booleans()).map(
        lambda mb: to_otlp_json(mb[0]) if mb[1] else mb[0].SerializeToString())


def valid_spans() -> st.SearchStrategy[ValidTemplate]:
    return st.tuples(trace_request(), st.booleans()).map(lambda rb: ValidTemplate(
        to_otlp_json(rb[0]) if rb[1] else rb[0].SerializeToString(),
        len(rb[0].resource_spans[0].scope_spans[0].spans)))


def _json_span_mutation(requests: st.SearchStrategy, field: str, wrong: st.SearchStrategy,
                        reason: str) -> st.SearchStrategy[Hostile]:
    @st.composite
    def build(draw: Callable) -> Hostile:
        document = json.loads(to_otlp_json(draw(requests)))
        spans = document["resourceSpans"][0]["scopeSpans"][0]["spans"]
        index = draw(small_index) % len(spans)
        spans[index][field] = draw(wrong)
        return Hostile(f"json-span-{field}", json.dumps(document).encode(), reason.format(i=index))
    return build()


@st.composite
def spans_with(draw: Callable, change: str, requests: st.SearchStrategy) -> Hostile:
    request = draw(requests)
    span = request.resource_spans[0].scope_spans[0].spans[0]
    if change == "ends-before-start":
        span.end_time_unix_nano = span.start_time_unix_nano - draw(backwards)
        reason = "ends before it starts"
    elif change == "missing-service":
        del request.resource_spans[0].resource.attributes[:]
        request.resource_spans[0].resource.attributes.append(_key_value("host.name", draw(texts)))
        reason = "no service: none of resource attributes service.name"
    elif change == "zero-trace-id":
        span.trace_id = b"\x00" * 16
        reason = "all zero"
    elif change == "short-span-id":
        span.span_id = draw(short_ids)
        reason = "spanId: expected 8 bytes"
    elif change == "huge-field":
        span.name = draw(huge_text)
        reason = f"over the {MAX_FIELD_BYTES}-byte limit"
    elif change == "oversize":
        span.attributes.append(_key_value("pad", draw(oversize_pad)))
        reason = f"over the {MAX_MESSAGE_BYTES}-byte limit"
    else:  # no spans at all
        del request.resource_spans[0].scope_spans[0].spans[:]
        reason = "holds no spans"
    as_json = draw(booleans)
    return Hostile(change, to_otlp_json(request) if as_json else request.SerializeToString(), reason)


@st.composite
def span_invalid_utf8(draw: Callable, requests: st.SearchStrategy) -> Hostile:
    request = draw(requests)
    request.resource_spans[0].scope_spans[0].spans[0].name = "BADUTF8!"
    value = request.SerializeToString().replace(b"BADUTF8!", draw(utf8_breakers))
    return Hostile("invalid-utf8", value, "protobuf parse error")


def hostile_spans() -> st.SearchStrategy[Hostile]:
    requests = pool(trace_request(marker=False))
    valid, valid_json = requests.map(lambda r: r.SerializeToString()), requests.map(to_otlp_json)
    where = "resourceSpans[0].scopeSpans[0].spans[{i}]"
    return weighted(byte_level(valid, json_input=False) + json_damage(valid_json) + [
        (2, _json_span_mutation(requests, "traceId", st.sampled_from(["zz", "not hex", "0x12"]),
                                f"{where}.traceId: not a hex id")),
        (1, _json_span_mutation(requests, "traceId", st.binary(min_size=1, max_size=15).map(bytes.hex),
                                f"{where}.traceId: expected 16 bytes")),
        (1, _json_span_mutation(requests, "spanId", st.integers(), "(JSON)")),
        (1, _json_span_mutation(requests, "startTimeUnixNano", st.sampled_from(["soon", "-1", [], {}]), "(JSON)")),
        (1, _json_span_mutation(requests, "attributes", st.one_of(texts, st.integers()), "(JSON)")),
        (1, _json_span_mutation(requests, "name", st.just("\ud800"), "(JSON)")),
        *[(1, spans_with(change, requests)) for change in ("ends-before-start", "missing-service",
                                                           "zero-trace-id", "short-span-id", "no-spans",
                                                           "huge-field", "oversize")],
        (1, span_invalid_utf8(requests)),
        (1, st.integers(34, 60).map(lambda d: Hostile(
            "deep-protobuf", samples.trace_request_bytes_with_raw_span_fields(samples.pb_field(
                9, samples.pb_field(1, b"deep") + samples.pb_field(2, samples.nested_any_value_bytes(d)))),
            "protobuf parse error"))),
        (1, st.just(Hostile("logs-on-spans-topic", samples.logs_request().SerializeToString(), None))),
    ])


# ---- otlp_logs ------------------------------------------------------------------------------------------------

@st.composite
def logs_request(draw: Callable, marker: bool = True) -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    resource_logs.resource.attributes.append(_key_value("service.name", draw(services)))
    scope_logs = resource_logs.scope_logs.add()
    for _ in range(draw(record_counts)):
        record = scope_logs.log_records.add(time_unix_nano=draw(log_times),
                                            observed_time_unix_nano=draw(observed_times),
                                            severity_number=draw(severity_numbers), severity_text=draw(texts))
        body = draw(log_bodies)
        record.body.CopyFrom(_key_value("body", body).value)
        if draw(booleans):
            record.trace_id, record.span_id = draw(nonzero_ids[16]), draw(nonzero_ids[8])
        attributes = draw(attribute_maps)
        if marker:
            attributes[MARKER_FIELD] = PLACEHOLDER
        record.attributes.extend(_key_value(k, v) for k, v in attributes.items())
    return request


def valid_otlp_logs() -> st.SearchStrategy[ValidTemplate]:
    return st.tuples(logs_request(), st.booleans()).map(lambda rb: ValidTemplate(
        to_otlp_json(rb[0]) if rb[1] else rb[0].SerializeToString(),
        len(rb[0].resource_logs[0].scope_logs[0].log_records)))


@st.composite
def logs_with(draw: Callable, change: str, requests: st.SearchStrategy) -> Hostile:
    request = draw(requests)
    record = request.resource_logs[0].scope_logs[0].log_records[0]
    if change == "missing-service":
        del request.resource_logs[0].resource.attributes[:]
        reason = "no service"
    elif change == "bad-trace-id":
        record.trace_id = draw(bad_trace_ids)
        reason = "traceId: expected 16 bytes"
    elif change == "bad-span-id":
        record.span_id = draw(bad_span_ids)
        reason = "spanId: expected 8 bytes"
    elif change == "huge-field":
        record.body.string_value = draw(huge_text)
        reason = f"over the {MAX_FIELD_BYTES}-byte limit"
    elif change == "oversize":
        record.attributes.append(_key_value("pad", draw(oversize_pad)))
        reason = f"over the {MAX_MESSAGE_BYTES}-byte limit"
    else:
        del request.resource_logs[0].scope_logs[0].log_records[:]
        reason = "holds no log records"
    as_json = draw(booleans)
    return Hostile(change, to_otlp_json(request) if as_json else request.SerializeToString(), reason)


def _json_log_mutation(requests: st.SearchStrategy, field: str,
                       wrong: st.SearchStrategy) -> st.SearchStrategy[Hostile]:
    @st.composite
    def build(draw: Callable) -> Hostile:
        document = json.loads(to_otlp_json(draw(requests)))
        document["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0][field] = draw(wrong)
        return Hostile(f"json-log-{field}", json.dumps(document).encode(),
                       "not an OTLP ExportLogsServiceRequest (JSON)")
    return build()


def hostile_otlp_logs() -> st.SearchStrategy[Hostile]:
    requests = pool(logs_request(marker=False))
    valid, valid_json = requests.map(lambda r: r.SerializeToString()), requests.map(to_otlp_json)
    return weighted(byte_level(valid, json_input=False) + json_damage(valid_json) + [
        (1, _json_log_mutation(requests, "timeUnixNano", st.sampled_from(["later", "-5", [1]]))),
        (1, _json_log_mutation(requests, "attributes", st.one_of(texts, st.integers()))),
        (1, _json_log_mutation(requests, "severityNumber", st.sampled_from([[], {}]))),
        # (a string for the body is no error: json_format reads its characters as unknown field names)
        (1, _json_log_mutation(requests, "body", st.one_of(st.integers(), st.booleans()))),
        *[(1, logs_with(change, requests)) for change in ("missing-service", "bad-trace-id", "bad-span-id",
                                                          "no-records", "huge-field", "oversize")],
    ])
