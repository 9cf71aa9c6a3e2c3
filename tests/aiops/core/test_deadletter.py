"""The one decode → dead-letter path, without a broker: what a dead letter carries, the value-dropped
fallback, and the metrics that count dead letters and skipped records."""

from __future__ import annotations

import json

from prometheus_client import REGISTRY

from aiops.core.deadletter import (
    VALUE_DROPPED,
    DeadLetter,
    RawMessage,
    decode_or_letter,
    read_headers,
    send_dead_letter,
    skip_undecodable,
)
from aiops.core.errors import SerializationError

MESSAGE = RawMessage(key=b"k", value=b"{not json", topic="t.aiops.alerts", partition=2, offset=41)


def count(metric: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(metric, labels) or 0.0


def test_a_message_decodes_or_becomes_a_dead_letter_with_the_original_bytes():
    assert decode_or_letter(lambda v: v, MESSAGE) == b"{not json"
    letter = decode_or_letter(json.loads, MESSAGE)
    assert isinstance(letter, DeadLetter)
    assert (letter.key, letter.value, letter.topic, letter.partition, letter.offset) == (
        b"k", b"{not json", "t.aiops.alerts", 2, 41)
    headers = read_headers(letter.headers())
    assert headers["aiops.error.class"] == "JSONDecodeError"
    assert headers["aiops.original.topic"] == "t.aiops.alerts"
    assert headers["aiops.original.offset"] == "41"


async def test_a_dead_letter_is_sent_and_counted():
    sent = []

    async def send(letter, value, headers):
        sent.append((letter.key, value, read_headers(headers)))

    before = count("aiops_dead_letters_total", topic="t.aiops.alerts", error="SerializationError")
    await send_dead_letter(DeadLetter.of(MESSAGE, SerializationError("bad framing")), send)
    assert [(k, v, h["aiops.error.message"]) for k, v, h in sent] == [(b"k", b"{not json", "bad framing")]
    assert count("aiops_dead_letters_total", topic="t.aiops.alerts", error="SerializationError") == before + 1


async def test_an_original_too_large_to_copy_still_gets_a_dead_letter_saying_where_it_stays():
    sent = []

    async def send(letter, value, headers):
        if value is not None:
            raise ValueError("message larger than max.request.size")
        sent.append((value, read_headers(headers)))

    await send_dead_letter(DeadLetter.of(MESSAGE, SerializationError("bad")), send)
    [(value, headers)] = sent
    assert value is None
    assert "9 bytes not copied: message larger than max.request.size" in headers[VALUE_DROPPED]
    assert headers["aiops.original.partition"] == "2"


def test_a_follower_counts_what_it_skips():
    letter = decode_or_letter(json.loads, MESSAGE)
    assert isinstance(letter, DeadLetter)
    before = count("aiops_records_skipped_total", topic="t.aiops.alerts", follower="feed", error="JSONDecodeError")
    skip_undecodable(letter, "feed")
    assert count("aiops_records_skipped_total", topic="t.aiops.alerts", follower="feed",
                 error="JSONDecodeError") == before + 1
