"""The topics of the Faust agents: declared by catalog name, read through the one decode → dead-letter path.

Every topic is declared with `raw_topic` (keys and values as bytes; the codecs are the project's own). A topic
an agent consumes is an `Input`: its decoder and its `<topic>.dlq` go with it, and `decoded(stream)` yields only
what decoded, after each message that did not went to the dead-letter topic with the error in headers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import faust

from aiops.core.deadletter import (
    ConsumedMessage,
    DeadLetter,
    Headers,
    dead_letter_topic,
    decode_or_letter,
    send_dead_letter,
)
from aiops.core.fetch_guard import FetchFailure, fetch_failure
from aiops.core.topics import SIGNALS
from streams.app import StreamContext
from streams.correlation.signals import Signal, encode_signal
from streams.scopes import signal_key

T = TypeVar("T")


def raw_topic(app: faust.App, ctx: StreamContext, name: str, **options: Any) -> faust.TopicT:
    """The one way an agent declares a topic: the catalog name with the configured prefix, raw bytes."""
    return app.topic(ctx.topic(name), key_serializer="raw", value_serializer="raw", **options)


@dataclass(frozen=True)
class Input(Generic[T]):
    """A topic an agent consumes, how its values decode, and its dead-letter topic."""

    topic: faust.TopicT
    decode: Callable[[bytes | None], T]
    dead_letters: faust.TopicT
    max_bytes: int | None = None  # larger records are dead-lettered before decoding

    @classmethod
    def declare(cls, app: faust.App, ctx: StreamContext, name: str, decode: Callable[[bytes | None], T],
                **options: Any) -> Input[T]:
        return cls(raw_topic(app, ctx, name, **options), decode,
                   raw_topic(app, ctx, dead_letter_topic(name)), ctx.settings.max_record_bytes)

    async def decoded(self, stream: faust.StreamT) -> AsyncIterator[tuple[ConsumedMessage, T]]:
        """Each message that decodes, with its value; the others are dead-lettered on the way.

        An offset is acknowledged when the next message is asked for, so a message is handled (sent on, or
        dead-lettered) before its offset can be committed.
        """
        async for event in stream.events():
            unreadable = fetch_failure(event.message.headers)  # a batch the fetcher could not read (fetch_guard)
            result = (DeadLetter.of(event.message, FetchFailure(unreadable)) if unreadable
                      else decode_or_letter(self.decode, event.message, self.max_bytes))
            if isinstance(result, DeadLetter):
                await self.dead_letter(result)
            else:
                yield event.message, result

    async def reject(self, message: ConsumedMessage, error: BaseException) -> None:
        """Dead-letter a message that decoded but cannot be processed (e.g. a signal too late to correlate)."""
        await self.dead_letter(DeadLetter.of(message, error))

    async def dead_letter(self, letter: DeadLetter) -> None:
        async def send(letter: DeadLetter, value: bytes | None, headers: Headers) -> None:
            await self.dead_letters.send(key=letter.key, value=value, headers=headers)

        await send_dead_letter(letter, send)


@dataclass(frozen=True)
class SignalsTopic:
    """aiops.signals, what the per-service stages tell the correlator, keyed by correlation scope."""

    topic: faust.TopicT

    @classmethod
    def declare(cls, app: faust.App, ctx: StreamContext) -> SignalsTopic:
        return cls(raw_topic(app, ctx, SIGNALS))

    async def send(self, signal: Signal, scope: str = "") -> None:
        """Keyed by its correlation scope (streams/scopes.py): one scope's signals stay in order on one partition."""
        await self.topic.send(key=signal_key(scope), value=encode_signal(signal))
