"""Sending a record that an agent could not process to its dead-letter topic, with the reason."""

from __future__ import annotations

import logging

import faust

from aiops import metrics
from aiops.deadletter import DeadLetter

log = logging.getLogger(__name__)


async def dead_letter(dlq: faust.TopicT, event: faust.EventT, error: BaseException) -> None:
    message = event.message
    letter = DeadLetter(key=message.key, value=message.value, error=error, topic=message.topic,
                        partition=message.partition, offset=message.offset)
    log.warning("dead-lettering %s[%s]@%s: %s", message.topic, message.partition, message.offset, letter.reason)
    metrics.DEAD_LETTERS.labels(message.topic, type(error).__name__).inc()
    await dlq.send(key=message.key, value=message.value, headers=letter.headers())
