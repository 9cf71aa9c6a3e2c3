"""Sending a record that an agent could not process to its dead-letter topic, with the reason.

The one path every Faust agent uses: the original key and value go untouched to `<topic>.dlq` with the
reason in headers. When the original cannot be copied (larger than the producer may send), the dead letter
still goes out, with a null value and a header saying where the original stays."""

from __future__ import annotations

import logging
from typing import Any

import faust

from aiops.core import metrics
from aiops.core.deadletter import VALUE_DROPPED, DeadLetter
from aiops.core.errors import AiopsError

log = logging.getLogger(__name__)
__all__ = ["VALUE_DROPPED", "dead_letter", "dead_letter_message"]


async def dead_letter_message(dlq: faust.TopicT, message: Any, error: BaseException) -> None:
    letter = DeadLetter(key=message.key, value=message.value, error=error, topic=message.topic,
                        partition=message.partition, offset=message.offset)
    if isinstance(error, AiopsError):
        log.info("dead letter for %s[%d]@%d: %s", message.topic, message.partition, message.offset,
                 letter.reason[:200])
    else:  # a bug rather than bad input, still not a reason to stop the pipeline
        log.error("unexpected %s on %s[%d]@%d, dead-lettered: %s", type(error).__name__, message.topic,
                  message.partition, message.offset, letter.reason[:200])
    metrics.DEAD_LETTERS.labels(message.topic, type(error).__name__).inc()
    try:
        await dlq.send(key=message.key, value=message.value, headers=letter.headers())
    except Exception as exc:  # e.g. larger than the producer may send: say where the original stays
        log.error("cannot copy %s[%d]@%d to %s: %s", message.topic, message.partition, message.offset,
                  dlq.get_topic_name(), exc)
        dropped = f"{len(message.value or b'')} bytes not copied: {exc}"[:1000].encode("utf-8", "replace")
        await dlq.send(key=message.key, value=None, headers=[*letter.headers(), (VALUE_DROPPED, dropped)])


async def dead_letter(dlq: faust.TopicT, event: faust.EventT, error: BaseException) -> None:
    await dead_letter_message(dlq, event.message, error)
