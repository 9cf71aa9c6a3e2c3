"""The bridges' Kafka producer: records handed over from asyncio, answered only once Kafka acknowledged them.

confluent-kafka (librdkafka) with acks=all and idempotence; a background thread serves the delivery
reports and settles one asyncio future per record. A record that Kafka did not acknowledge within
`connect_kafka_timeout_s` (broker down, unreachable, refusing) fails its future, so the bridge can answer
5xx and the sender retries.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, cast

from confluent_kafka import KafkaError, KafkaException, Producer

from aiops.core import metrics
from aiops.core.settings import Settings
from connectors.errors import KafkaUnavailable

log = logging.getLogger(__name__)


Record = tuple[bytes | None, bytes | None] | tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]


def _settle(future: asyncio.Future[None], error: KafkaError | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(KafkaUnavailable(f"{error.name()}: {error.str()}"))


class AckedProducer:
    """Produce a batch of records and wait until Kafka acknowledged all of them (acks=all)."""

    def __init__(self, settings: Settings, client_id: str):
        self.timeout_s = settings.connect_kafka_timeout_s
        self._config: dict[str, Any] = {
            "bootstrap.servers": settings.kafka_bootstrap,
            "client.id": client_id,
            "acks": "all",
            "enable.idempotence": True,
            "message.timeout.ms": max(1, int(self.timeout_s * 1000)),
            # The Java client's partitioner, so keys land where Faust and Java producers put them.
            "partitioner": "murmur2_random",
            "linger.ms": 5,
            "message.max.bytes": max(settings.ingest_max_message_bytes + 65_536, 1_000_000),
            "logger": log,
        }
        self._producer = Producer(self._config)
        self._closed = threading.Event()
        self._poller = threading.Thread(target=self._serve_delivery_reports, name=f"{client_id}-deliveries",
                                        daemon=True)
        self._poller.start()

    def _serve_delivery_reports(self) -> None:
        while not self._closed.is_set():
            self._producer.poll(0.1)

    async def send_all(self, topic: str, records: Sequence[Record]) -> None:
        """Produce every (key, value) or (key, value, headers) and return once Kafka acknowledged each; else
        KafkaUnavailable."""
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[None]] = []

        def on_delivery(future: asyncio.Future[None]) -> Callable[[KafkaError | None, Any], None]:
            def report(error: KafkaError | None, _message: Any) -> None:
                try:
                    loop.call_soon_threadsafe(_settle, future, error)
                except RuntimeError:  # the loop is closed: nobody waits for this answer any more
                    pass
            return report

        for key, value, *headers in records:
            future: asyncio.Future[None] = loop.create_future()
            try:
                self._producer.produce(topic, value=value, key=key,
                                       headers=cast(Any, headers[0]) if headers else None,
                                       on_delivery=on_delivery(future))
            except (BufferError, KafkaException) as exc:
                for pending in futures:
                    pending.cancel()
                raise KafkaUnavailable(f"Kafka producer refused a record: {exc}") from exc
            futures.append(future)
        try:
            async with asyncio.timeout(self.timeout_s + 5):
                results = await asyncio.gather(*futures, return_exceptions=True)
        except TimeoutError:
            raise KafkaUnavailable(f"no acknowledgement from Kafka within {self.timeout_s + 5:.0f} s") from None
        failures = [r for r in results if isinstance(r, BaseException)]
        metrics.RECORDS_OUT.labels(topic).inc(len(records) - len(failures))
        if failures:
            raise KafkaUnavailable(
                f"Kafka did not acknowledge {len(failures)} of {len(records)} record(s): {failures[0]}")

    def close(self, timeout_s: float = 5.0) -> None:
        self._closed.set()
        self._poller.join(timeout=1.0)
        self._producer.flush(timeout_s)
