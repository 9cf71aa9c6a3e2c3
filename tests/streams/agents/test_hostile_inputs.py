"""Property-based: at least 5,000 malformed or hostile messages at EACH input (aiops.alerts.raw,
aiops.logs.raw, otlp_spans, otlp_logs), interleaved with valid ones, through Kafka to a real normalize
worker subprocess. Every bad one ends in the dead-letter topic with its reason, every valid one is decoded
(counted by a unique marker), and the worker is still alive at the end.

Messages are generated with hypothesis (derandomized: the same messages on every run) by collecting what
a `@given` function is handed in its generate phase, then produced in one batch per input.
"""

from __future__ import annotations

import functools
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from hypothesis import strategies as st

from aiops.core.avro import SingleObjectCodec
from aiops.core.deadletter import (
    ERROR_CLASS,
    ERROR_MESSAGE,
    ORIGINAL_OFFSET,
    ORIGINAL_PARTITION,
    ORIGINAL_POSITION,
    ORIGINAL_TOPIC,
)
from aiops.core.settings import Settings
from streams.ingest import IngestError, decode_alerts, decode_log_line, decode_logs, decode_spans
from streams.records import Alert, LogRecord, Span
from tests.kafka_io import TopicReader, produce
from tests.processes import NORMALIZE_LIMITS as WORKER_LIMITS
from tests.samples import SCHEMAS
from tests.streams.ingest import hostile

# Markers, as long as hostile.PLACEHOLDER: mk-<code><index>, a code per input (two share aiops.logs).
MARKER_CODES = {"aiops.alerts.raw": "alrt", "aiops.logs.raw": "line", "otlp_spans": "span", "otlp_logs": "olog"}
HOSTILE_PER_INPUT = 5_000
VALID_PER_INPUT = 500
WORKER_SETTINGS = Settings(ingest_max_message_bytes=int(WORKER_LIMITS["AIOPS_INGEST_MAX_MESSAGE_BYTES"]),
                           ingest_max_field_bytes=int(WORKER_LIMITS["AIOPS_INGEST_MAX_FIELD_BYTES"]))


@dataclass(frozen=True)
class Input:
    topic: str
    output: str
    record: type
    decode: Callable[[bytes | None], Sequence]
    marker_of: Callable[[object], str | None]
    valid: Callable[[], st.SearchStrategy[hostile.ValidTemplate]]
    bad: Callable[[], st.SearchStrategy[hostile.Hostile]]


INPUTS = {
    "aiops.alerts.raw": Input("aiops.alerts.raw", "aiops.alerts", Alert,
                              lambda v: decode_alerts(v, WORKER_SETTINGS),
                              lambda a: a.labels.get(hostile.MARKER_FIELD), hostile.valid_alerts,
                              hostile.hostile_alerts),
    "aiops.logs.raw": Input("aiops.logs.raw", "aiops.logs", LogRecord,
                            lambda v: [decode_log_line(v, WORKER_SETTINGS)],
                            lambda r: r.attributes.get(hostile.MARKER_FIELD), hostile.valid_log_lines,
                            hostile.hostile_log_lines),
    "otlp_spans": Input("otlp_spans", "aiops.spans", Span, lambda v: decode_spans(v, WORKER_SETTINGS),
                        lambda s: s.attributes.get(hostile.MARKER_FIELD), hostile.valid_spans,
                        hostile.hostile_spans),
    "otlp_logs": Input("otlp_logs", "aiops.logs", LogRecord, lambda v: decode_logs(v, WORKER_SETTINGS),
                       lambda r: r.attributes.get(hostile.MARKER_FIELD), hostile.valid_otlp_logs,
                       hostile.hostile_otlp_logs),
}


@dataclass
class Batch:
    """One input's messages in production order: (key, value, is_bad, marker or reason, expected records)."""

    name: str
    items: list[tuple[bytes | None, bytes | None, bool, str | None, int]]
    hostile: list[hostile.Hostile]


@functools.cache
def build_batch(name: str) -> Batch:
    """The messages for one input (generated once per session: the worker's topics are new each session)."""
    spec = INPUTS[name]
    bad = hostile.collect(spec.bad(), HOSTILE_PER_INPUT)
    valid = hostile.collect(spec.valid(), VALID_PER_INPUT)
    items: list[tuple[bytes | None, bytes | None, bool, str | None, int]] = []
    for index, template in enumerate(valid):
        marker = f"mk-{MARKER_CODES[name]}{index:08d}"
        items.append((marker.encode(), template.with_marker(marker), False, marker, template.records))
    for index, message in enumerate(bad):
        items.append((f"bad-{index}-{message.category}".encode(), message.value, True, message.reason, 0))
    random.Random(f"{name}-interleave").shuffle(items)
    return Batch(name, items, bad)


def check_with_the_pure_decoder(batch: Batch) -> None:
    """Before Kafka: each bad message is refused with its reason, each valid one decodes to its records."""
    spec = INPUTS[batch.name]
    for key, value, is_bad, expected, records in batch.items:
        if is_bad:
            try:
                decoded = spec.decode(value)
            except IngestError as exc:
                assert expected is None or expected in exc.reason, (key, exc.reason, value[:300] if value else value)
            else:  # a message of many records: the bad one is rejected on its own
                rejected = getattr(decoded, "rejected", [])
                assert rejected, f"{key!r} was accepted: {value[:300]!r}"
                first = rejected[0]
                said = (first.describe(), f"{first.position}.{first.reason}", f"{first.position}: {first.reason}")
                assert expected is None or any(expected in text for text in said), (key, said)
        else:
            decoded = spec.decode(value)
            assert len(decoded) == records and all(spec.marker_of(r) == expected for r in decoded), value[:300]


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_generated_messages_are_what_they_claim(name):
    """The generated batches, checked without Kafka (fast feedback when a strategy or a decoder changes)."""
    batch = build_batch(name)
    check_with_the_pure_decoder(batch)
    categories = Counter(h.category for h in batch.hostile)
    assert len(batch.hostile) >= 5_000 and len(categories) >= 12, categories


@pytest.mark.integration
@pytest.mark.slow
def test_hostile_messages_at_every_input_through_a_real_worker(settings, normalize_worker):
    batches = {name: build_batch(name) for name in sorted(INPUTS)}
    bootstrap = settings.kafka_bootstrap
    positions = {}
    for name, batch in batches.items():
        positions[name] = produce(bootstrap, normalize_worker.topic(name),
                                        [(key, value) for key, value, *_ in batch.items])

    report = []
    deadline = time.monotonic() + 150
    for name, batch in batches.items():
        spec = INPUTS[name]
        topic = normalize_worker.topic(name)
        bad_at = {pos: item for pos, item in zip(positions[name], batch.items, strict=True) if item[2]}
        valid_at = {pos: item for pos, item in zip(positions[name], batch.items, strict=True) if not item[2]}
        expected = Counter({item[3]: item[4] for item in valid_at.values()})
        ours = set(positions[name])

        def letters(received, topic=topic, ours=ours):
            return [r for r in received if r.headers.get(ORIGINAL_TOPIC) == topic and
                    (int(r.headers[ORIGINAL_PARTITION]), int(r.headers[ORIGINAL_OFFSET])) in ours]

        with TopicReader(bootstrap, normalize_worker.topic(f"{name}.dlq")) as dlq:
            wanted_letters = len(bad_at)
            dlq.wait_until(lambda rs, n=wanted_letters, f=letters: len(f(rs)) >= n,
                         max(5, deadline - time.monotonic()), f"{wanted_letters} dead letters for {name}",
                         diagnostics=normalize_worker.logs)
            dead = letters(dlq.read_to_end())

        codec = SingleObjectCodec(SCHEMAS[spec.record.__name__])
        marker_prefix = f"mk-{MARKER_CODES[name]}"

        def markers(received, codec=codec, spec=spec, prefix=marker_prefix) -> Counter:
            found = (spec.marker_of(spec.record.from_avro(codec.decode(r.value))) for r in received)
            return Counter(m for m in found if m and m.startswith(prefix))

        with TopicReader(bootstrap, normalize_worker.topic(spec.output)) as output:
            wanted_records = sum(expected.values())
            output.wait_until(lambda rs, m=markers, n=wanted_records: sum(m(rs).values()) >= n,
                            max(5, deadline - time.monotonic()), f"the valid records from {name}",
                            diagnostics=normalize_worker.logs)
            decoded = markers(output.read_to_end())

        # Every bad one is in the dead-letter topic, once, untouched, with its reason; no valid one is.
        dead_at = Counter((int(r.headers[ORIGINAL_PARTITION]), int(r.headers[ORIGINAL_OFFSET])) for r in dead)
        assert set(dead_at) == set(bad_at) and max(dead_at.values()) == 1, name
        for letter in dead:
            key, value, _bad, reason, _records = bad_at[(int(letter.headers[ORIGINAL_PARTITION]),
                                                        int(letter.headers[ORIGINAL_OFFSET]))]
            if ORIGINAL_POSITION in letter.headers:  # one record of the message, alone
                assert letter.key == key and letter.value
                assert letter.headers[ERROR_CLASS] == "RejectedRecord", letter.headers
            else:
                assert (letter.key, letter.value) == (key, value)
                assert letter.headers[ERROR_CLASS] == "IngestError", letter.headers
            said = letter.headers[ERROR_MESSAGE]
            # "position (service s): reason" also reads as "position.reason", how a whole message's error says it
            as_path = re.sub(r" \(service [^)]*\): |: ", ".", said, count=1)
            assert said and (reason is None or reason in said or reason in as_path), (said, reason)
        # Every valid one is decoded: exactly its records, each carrying its marker.
        assert decoded == expected, name
        report.append(f"{name}: {len(bad_at)} hostile -> {len(dead)} dead letters; {len(valid_at)} valid -> "
                      f"{sum(decoded.values())} canonical records")

    assert normalize_worker.alive, "the normalize worker died:\n" + normalize_worker.logs()
    print("\n" + "\n".join(report), f"\nworker alive at {datetime.now(UTC):%H:%M:%S}")
