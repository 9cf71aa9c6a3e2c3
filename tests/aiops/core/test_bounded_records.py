"""Every consumer bounds what it reads: a record over the limit is refused before decoding, and its dead letter
carries a truncated copy, the original size and the whole error."""

from __future__ import annotations

from aiops.core.deadletter import (
    VALUE_TRUNCATED,
    DeadLetter,
    RawMessage,
    RecordTooLarge,
    decode_or_letter,
    read_headers,
    send_dead_letter,
)
from aiops.core.limits import TRUNCATED, cap_map, cap_text


def test_a_record_over_the_limit_is_not_decoded():
    decoded = []
    message = RawMessage(key=b"k", value=b"x" * 2000, topic="t", partition=0, offset=5)
    letter = decode_or_letter(decoded.append, message, max_bytes=1000)
    assert isinstance(letter, DeadLetter) and isinstance(letter.error, RecordTooLarge)
    assert decoded == [] and "record of 2001 bytes is larger than this consumer's limit of 1000" in letter.reason
    assert decode_or_letter(len, RawMessage(b"k", b"x" * 999, "t", 0, 6), max_bytes=1000) == 999


async def test_the_dead_letter_copies_the_start_and_says_how_big_the_original_was():
    sent = []

    async def send(letter, value, headers):
        if value is not None and len(value) > 10_000:
            raise ValueError("larger than the producer may send")
        sent.append((value, read_headers(headers)))

    error = RecordTooLarge("e" * 20_000)  # long errors go whole into the headers
    await send_dead_letter(DeadLetter.of(RawMessage(b"k", b"v" * 100_000, "t", 1, 9), error), send, copy_limit=4096)
    [(value, headers)] = sent
    assert value == b"v" * 4096
    assert headers[VALUE_TRUNCATED] == "100000 bytes, first 4096 copied"
    assert headers["aiops.error.message"] == "e" * 20_000


def test_text_and_map_caps_say_they_cut():
    assert cap_text("short", 10) == "short"
    cut = cap_text("x" * 100, 20)
    assert len(cut) == 20 and cut.endswith(TRUNCATED)
    assert cap_map({f"k{i}": "v" * 50 for i in range(10)}, 3, 20) == {
        f"k{i}": cap_text("v" * 50, 20) for i in range(3)}


async def test_an_original_the_producer_takes_is_copied_whole():
    sent = []

    async def send(letter, value, headers):
        sent.append((value, read_headers(headers)))

    await send_dead_letter(DeadLetter.of(RawMessage(b"k", b"v" * 100_000, "t", 1, 9), RecordTooLarge("x")), send,
                           copy_limit=4096)
    [(value, headers)] = sent
    assert value == b"v" * 100_000 and VALUE_TRUNCATED not in headers
