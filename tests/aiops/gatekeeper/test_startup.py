"""Start-up: a gatekeeper started while the broker cannot be reached waits for it (chaos: the broker restarts while
the gatekeeper is restarted), but a misconfiguration still stops it with the reason."""

from __future__ import annotations

import pytest
from aiokafka.errors import KafkaConnectionError
from confluent_kafka import KafkaError, KafkaException

from aiops.gatekeeper import startup
from aiops.gatekeeper.errors import GatekeeperError


async def test_an_unreachable_broker_is_waited_for(monkeypatch):
    monkeypatch.setattr(startup.asyncio, "sleep", _no_sleep)
    attempts = []

    async def start():
        attempts.append(1)
        if len(attempts) == 1:
            raise KafkaConnectionError("Unable to bootstrap from [('127.0.0.1', 9092)]")
        if len(attempts) == 2:
            raise KafkaException(KafkaError(KafkaError._TRANSPORT, "Failed to get metadata"))

    await startup.until_kafka_answers(start, lambda: False)
    assert len(attempts) == 3


async def test_a_misconfiguration_is_not_waited_for():
    async def start():
        raise GatekeeperError("topic t.aiops.proposals does not exist; run `aiops topics create`")

    with pytest.raises(GatekeeperError):
        await startup.until_kafka_answers(start, lambda: False)


async def test_stopping_ends_the_wait():
    async def start():
        raise KafkaConnectionError("down")

    with pytest.raises(KafkaConnectionError):
        await startup.until_kafka_answers(start, lambda: True)


async def _no_sleep(seconds: float) -> None:
    return None
