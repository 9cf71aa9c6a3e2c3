"""Faust's aiokafka transport, reading with isolation.level=read_committed.

The condensing processes write each flush as one Kafka transaction (streams/condense/process.py); a reader
that also saw aborted transactions would count a crashed flush and its replay twice. Faust reads
read_committed only in its exactly-once mode, which would put the whole worker in transactions; this
transport changes only the isolation level. Records written without a transaction are read as before.
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka

SCHEME = "aiops-kafka"


class ReadCommittedConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._isolation_level = "read_committed"  # noqa: SLF001 - read by AIOKafkaConsumer.start()
        return consumer


class ReadCommittedConsumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> ReadCommittedConsumerThread:
        return ReadCommittedConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(faust_aiokafka.Transport):
    Consumer = ReadCommittedConsumer


def register() -> None:
    """Make `aiops-kafka://` URLs resolve to this transport (idempotent)."""
    from faust.transport.drivers import TRANSPORTS

    TRANSPORTS.aliases[SCHEME] = f"{__name__}:Transport"
