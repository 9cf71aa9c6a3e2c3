"""Dead letters: records that could not be processed go to `<topic>.dlq` with the reason in headers.

The one decode → dead-letter path every consumer uses, Faust agent or aiokafka loop: `decode_or_letter`
turns a message into its decoded value or a `DeadLetter` that keeps the original bytes next to the error;
`send_dead_letter` logs it, counts it (`aiops_dead_letters_total`) and copies the original key and value to
`<topic>.dlq` through whatever producer the consumer has, so a fixed consumer can replay them. A value the
producer cannot send (larger than it may) is copied truncated to its first bytes, with a header giving its full
size (the original stays in the input topic, at the offset the headers name, while it is retained); the error
goes whole into the headers. When even that cannot be sent, the dead letter still goes out with a null value
and a header saying why.

Every consumer bounds what it reads: `decode_or_letter(..., max_bytes=...)` refuses a record larger than the
limit before decoding it (`RecordTooLarge`), so no record's size can make a decoder take a process down.

Read-only followers that re-read a topic from a position without committing (the feed, the gatekeeper's
execution tail, the demo's view) would write a new copy on every restart; they `skip_undecodable` instead,
which logs and counts (`aiops_records_skipped_total`) without writing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from aiops.core import metrics
from aiops.core.errors import AiopsError, RecordTooLarge

log = logging.getLogger(__name__)

ERROR_CLASS = "aiops.error.class"
ERROR_MESSAGE = "aiops.error.message"
ORIGINAL_TOPIC = "aiops.original.topic"
ORIGINAL_PARTITION = "aiops.original.partition"
ORIGINAL_OFFSET = "aiops.original.offset"
# Set when one record of a message holding many (an OTLP request, an alert payload) failed on its own: where it
# sat in the message and whose it was. The dead letter's value is then that record alone, not the whole message.
ORIGINAL_POSITION = "aiops.original.position"
ORIGINAL_SERVICE = "aiops.original.service"
# Set on a dead letter whose original value could not be copied (the value is then null): the original
# stays in the input topic at aiops.original.topic / .partition / .offset while it is retained.
VALUE_DROPPED = "aiops.error.value_dropped"
# Set on a dead letter whose value is the first bytes of a longer original: "<original size> bytes, <copied>".
VALUE_TRUNCATED = "aiops.error.value_truncated"
# The error message goes whole into the headers up to this size (ours are far shorter).
MAX_MESSAGE_BYTES = 65_536
# The part of an original value a dead letter copies.
DEFAULT_COPY_BYTES = 65_536

Headers = list[tuple[str, bytes]]
T = TypeVar("T")


def dead_letter_topic(topic: str) -> str:
    return f"{topic}.dlq"


class ConsumedMessage(Protocol):
    """What a consumed Kafka message offers, as Faust's Message and aiokafka's ConsumerRecord both do."""

    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...


@dataclass(frozen=True)
class RawMessage:
    """A consumed message as plain values, for clients whose messages offer methods (confluent-kafka) or none."""

    key: bytes | None
    value: bytes | None
    topic: str
    partition: int
    offset: int

    @classmethod
    def of_confluent(cls, message: Any) -> RawMessage:
        """From a confluent_kafka.Message."""
        return cls(message.key(), message.value(), message.topic(), message.partition(), message.offset())


@dataclass(frozen=True)
class DeadLetter:
    """A record that failed, the error, and where it came from."""

    key: bytes | None
    value: bytes | None
    error: BaseException
    topic: str
    partition: int
    offset: int

    @classmethod
    def of(cls, message: ConsumedMessage, error: BaseException) -> DeadLetter:
        return cls(message.key, message.value, error, message.topic, message.partition, message.offset)

    @property
    def reason(self) -> str:
        return str(self.error) or type(self.error).__name__

    @property
    def error_class(self) -> str:
        return type(self.error).__name__

    @property
    def where(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"

    def headers(self) -> Headers:
        message = self.reason.encode("utf-8", "replace")[:MAX_MESSAGE_BYTES]
        headers = [
            (ERROR_CLASS, self.error_class.encode()),
            (ERROR_MESSAGE, message),
            (ORIGINAL_TOPIC, self.topic.encode()),
            (ORIGINAL_PARTITION, str(self.partition).encode()),
            (ORIGINAL_OFFSET, str(self.offset).encode()),
        ]
        for header, attribute in ((ORIGINAL_POSITION, "position"), (ORIGINAL_SERVICE, "service")):
            value = getattr(self.error, attribute, None)
            if isinstance(value, str) and value:
                headers.append((header, value.encode("utf-8", "replace")[:MAX_MESSAGE_BYTES]))
        return headers


def decode_or_letter(decode: Callable[[bytes | None], T], message: ConsumedMessage,
                     max_bytes: int | None = None) -> T | DeadLetter:
    """The decoded value, or the dead letter saying why the message could not be decoded (never raises).

    A value (with its key) larger than `max_bytes` is not decoded at all.
    """
    size = len(message.value or b"") + len(message.key or b"")
    if max_bytes is not None and size > max_bytes:
        return DeadLetter.of(message, RecordTooLarge(
            f"record of {size} bytes is larger than this consumer's limit of {max_bytes} bytes; not decoded"))
    try:
        return decode(message.value)
    except Exception as exc:  # a bug in a decoder is still no reason to stop the pipeline: it is logged as one
        return DeadLetter.of(message, exc)


# Sends (key, value, headers) to the dead-letter topic of the letter's topic, acknowledged when it returns.
SendDeadLetter = Callable[[DeadLetter, bytes | None, Headers], Awaitable[None]]


def _log(letter: DeadLetter) -> None:
    if isinstance(letter.error, AiopsError | ValueError):
        log.info("dead letter for %s: %s", letter.where, letter.reason[:200])
    else:  # a bug rather than bad input, still not a reason to stop the pipeline
        log.error("unexpected %s on %s, dead-lettered: %s", letter.error_class, letter.where, letter.reason[:200])


def truncated_copy(letter: DeadLetter, copy_limit: int = DEFAULT_COPY_BYTES) -> tuple[bytes | None, Headers]:
    """The first `copy_limit` bytes of the original and the headers saying how big it was."""
    value = letter.value or b""
    note = f"{len(value)} bytes, first {min(copy_limit, len(value))} copied".encode()
    return value[:copy_limit], [*letter.headers(), (VALUE_TRUNCATED, note)]


async def send_dead_letter(letter: DeadLetter, send: SendDeadLetter, copy_limit: int = DEFAULT_COPY_BYTES) -> None:
    """Log, count and copy the original to `<topic>.dlq` with the whole error in headers.

    The original goes whole when the producer takes it (so a fixed consumer can replay it); when it does not
    (larger than the producer may send), its first `copy_limit` bytes go, with a header giving its size; when even
    that fails, a dead letter with a null value and a header saying why.
    """
    _log(letter)
    metrics.DEAD_LETTERS.labels(letter.topic, letter.error_class).inc()
    try:
        await send(letter, letter.value, letter.headers())
        return
    except Exception as exc:  # e.g. larger than the producer may send: copy its start
        log.warning("cannot copy %s whole to its dead-letter topic (%s): copying its first %d bytes", letter.where,
                    exc, copy_limit)
        first_error = exc
    try:
        await send(letter, *truncated_copy(letter, copy_limit))
    except Exception as exc:  # say where the original stays
        log.error("cannot copy %s to its dead-letter topic: %s", letter.where, exc)
        dropped = f"{len(letter.value or b'')} bytes not copied: {first_error}; {exc}"[:1000]
        await send(letter, None, [*letter.headers(), (VALUE_DROPPED, dropped.encode("utf-8", "replace"))])


def skip_undecodable(letter: DeadLetter, follower: str) -> None:
    """For a read-only follower: log and count a record it cannot decode, writing nothing."""
    log.warning("%s skipped %s: %s", follower, letter.where, letter.reason[:200])
    metrics.RECORDS_SKIPPED.labels(letter.topic, follower, letter.error_class).inc()


def read_headers(headers: list[tuple[str, bytes]] | dict[str, bytes] | None) -> dict[str, str]:
    """Dead-letter headers as text, for tools and tests reading a .dlq topic."""
    items = headers.items() if isinstance(headers, dict) else (headers or [])
    return {k: (v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)) for k, v in items}
