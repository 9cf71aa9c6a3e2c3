"""The Faust app: built from the settings object, agents registered onto it (no import-time globals)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, Self, TypeVar

import faust

from aiops.core import fetch_guard
from aiops.core.avro import AvroCodec, SchemaSet, codec_for
from aiops.core.settings import Settings
from aiops.core.topics import WORKER_GROUP
from streams import kafka_transport


class AvroRecord(Protocol):
    """A typed record read from an Avro dict (streams/records.py)."""

    @classmethod
    def from_avro(cls, record: dict[str, Any]) -> Self: ...


R = TypeVar("R", bound=AvroRecord)


@dataclass
class StreamContext:
    """What every agent needs: the settings, the Avro contracts and a codec per (record, topic)."""

    settings: Settings
    schemas: SchemaSet
    _codecs: dict[tuple[str, str], AvroCodec] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: Settings) -> StreamContext:
        return cls(settings, SchemaSet.load(settings.schemas_dir))

    def topic(self, name: str) -> str:
        return self.settings.topic(name)

    def codec(self, record_name: str, topic: str) -> AvroCodec:
        key = (record_name, topic)
        if key not in self._codecs:
            self._codecs[key] = codec_for(record_name, self.topic(topic), self.settings, self.schemas)
        return self._codecs[key]

    def decoder(self, record: type[R], topic: str) -> Callable[[bytes | None], R]:
        """Avro bytes on `topic` → the typed record (the Avro record is named like the class); raises when not."""
        codec = self.codec(record.__name__, topic)

        def decode(value: bytes | None) -> R:
            return record.from_avro(codec.decode(value))

        return decode


DEAD_LETTER_HEADROOM = 65_536


def broker_urls(bootstrap: str, scheme: str = "kafka") -> list[str]:
    return [f"{scheme}://{host.strip()}" for host in bootstrap.split(",") if host.strip()]


def create_app(settings: Settings, app_id: str = WORKER_GROUP, *, web_port: int | None = None,
               **overrides: Any) -> faust.App:
    """A Faust app on the configured broker. Tables use the in-memory store recovered from changelogs."""
    fetch_guard.install()  # an unreadable record batch must not block its partition (aiops/core/fetch_guard.py)
    kafka_transport.register()
    config: dict[str, Any] = dict(
        broker=broker_urls(settings.kafka_bootstrap),
        # read_committed: the condensed topics are written in transactions (streams/kafka_transport.py)
        broker_consumer=broker_urls(settings.kafka_bootstrap, kafka_transport.SCHEME),
        store="memory://",
        topic_partitions=settings.default_partitions,
        topic_replication_factor=1,
        producer_acks=-1,
        producer_linger_ms=settings.producer_linger_ms,
        # Dead letters carry an input message whole, headers on top: room for the largest one accepted.
        producer_max_request_size=max(1_000_000, settings.ingest_max_message_bytes + DEAD_LETTER_HEADROOM),
        consumer_auto_offset_reset="earliest",
        web_enabled=web_port is not None,
        web_port=web_port or 6066,
        web_bind="127.0.0.1",
    )
    config.update(overrides)
    return faust.App(app_id, **config)


def register_agents(app: faust.App, ctx: StreamContext, modules: Iterable[Any]) -> None:
    """Each agent module exposes `register(app, ctx)`, declaring its topics, tables and agents."""
    for module in modules:
        module.register(app, ctx)
