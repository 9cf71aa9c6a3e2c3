"""Encoders/decoders for Kafka values: the Avro single-object encoding, or the Confluent wire format.

Every failure, whatever the library raised, becomes a SerializationError with the reason, so callers
can dead-letter the record instead of crashing.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterable
from typing import Any, Protocol

from fastavro import schemaless_reader, schemaless_writer

from aiops.core.avro.schemas import AvroSchema, SchemaSet
from aiops.core.errors import SerializationError
from aiops.core.settings import Settings

SINGLE_OBJECT_MAGIC = b"\xc3\x01"
CONFLUENT_MAGIC = b"\x00"


class AvroCodec(Protocol):
    def encode(self, record: dict[str, Any]) -> bytes: ...

    def decode(self, data: bytes | None) -> dict[str, Any]:
        """The record; SerializationError for anything else, a null value (a tombstone) included."""
        ...


def _no_value(data: bytes | None, reader: AvroSchema) -> bytes:
    if data is None:
        raise SerializationError(f"no value (a tombstone) where a {reader.full_name} record was expected")
    return data


def _write(schema: AvroSchema, record: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    try:
        schemaless_writer(buf, schema.parsed, record)
    except Exception as exc:
        raise SerializationError(f"record does not match schema {schema.full_name}: {exc}") from exc
    return buf.getvalue()


def _read(payload: bytes, writer: AvroSchema, reader: AvroSchema) -> dict[str, Any]:
    buf = io.BytesIO(payload)
    try:
        record = schemaless_reader(buf, writer.parsed, reader.parsed)
    except Exception as exc:
        raise SerializationError(
            f"cannot decode {reader.full_name} (written as {writer.full_name}): {type(exc).__name__}: {exc}"
        ) from exc
    if buf.tell() != len(payload):
        raise SerializationError(
            f"{len(payload) - buf.tell()} trailing bytes after a {reader.full_name} record: "
            "not a message of this schema"
        )
    if not isinstance(record, dict):
        raise SerializationError(f"decoded value is not a {reader.full_name} record")
    return record


class SingleObjectCodec:
    """Avro single-object encoding: C3 01, the writer schema's 8-byte fingerprint, then the binary body.

    Needs no registry: the reader recognises the writer schema among the versions it knows.
    """

    def __init__(self, reader: AvroSchema, writers: Iterable[AvroSchema] = ()):
        self.reader = reader
        self.writers = {reader.fingerprint: reader}
        for writer in writers:
            self.writers.setdefault(writer.fingerprint, writer)

    def encode(self, record: dict[str, Any]) -> bytes:
        return SINGLE_OBJECT_MAGIC + self.reader.fingerprint + _write(self.reader, record)

    def decode(self, data: bytes | None) -> dict[str, Any]:
        data = _no_value(data, self.reader)
        if not isinstance(data, bytes | bytearray | memoryview):
            raise SerializationError(f"expected bytes, got {type(data).__name__}")
        data = bytes(data)
        if len(data) < 10 or data[:2] != SINGLE_OBJECT_MAGIC:
            raise SerializationError(
                f"not an Avro single-object message (expected header c301 and 8-byte fingerprint, "
                f"got {data[:10].hex() or 'empty'})"
            )
        writer = self.writers.get(data[2:10])
        if writer is None:
            raise SerializationError(
                f"unknown writer schema fingerprint {data[2:10].hex()} for {self.reader.full_name}"
            )
        return _read(data[10:], writer, self.reader)


class ConfluentCodec:
    """Confluent wire format: 00, a 4-byte big-endian schema id from the registry, then the binary body."""

    def __init__(self, reader: AvroSchema, registry: Any, subject: str):
        self.reader = reader
        self.registry = registry  # confluent_kafka.schema_registry.SchemaRegistryClient
        self.subject = subject
        self._writer_id: int | None = None
        self._writers: dict[int, AvroSchema] = {}

    def _schema_id(self) -> int:
        if self._writer_id is None:
            import json

            from confluent_kafka.schema_registry import Schema

            try:
                self._writer_id = self.registry.register_schema(
                    self.subject, Schema(json.dumps(self.reader.raw), "AVRO"))
            except Exception as exc:
                raise SerializationError(f"schema registry refused {self.subject}: {exc}") from exc
            self._writers[self._writer_id] = self.reader
        return self._writer_id

    def encode(self, record: dict[str, Any]) -> bytes:
        return CONFLUENT_MAGIC + struct.pack(">I", self._schema_id()) + _write(self.reader, record)

    def _writer(self, schema_id: int) -> AvroSchema:
        if schema_id not in self._writers:
            import json

            try:
                schema = self.registry.get_schema(schema_id)
            except Exception as exc:
                raise SerializationError(f"schema id {schema_id} not found in the registry: {exc}") from exc
            self._writers[schema_id] = AvroSchema.from_dict(json.loads(schema.schema_str))
        return self._writers[schema_id]

    def decode(self, data: bytes | None) -> dict[str, Any]:
        data = bytes(_no_value(data, self.reader))
        if len(data) < 5 or data[:1] != CONFLUENT_MAGIC:
            raise SerializationError(
                f"not a Confluent-framed Avro message (expected magic 00 and a 4-byte schema id, "
                f"got {data[:5].hex() or 'empty'})"
            )
        (schema_id,) = struct.unpack(">I", data[1:5])
        return _read(data[5:], self._writer(schema_id), self.reader)


def codec_for(record_name: str, topic: str, settings: Settings, schemas: SchemaSet | None = None) -> AvroCodec:
    """The codec the settings ask for: Confluent framing when a registry URL is set, else single-object."""
    schemas = schemas or SchemaSet.load(settings.schemas_dir)
    if settings.schema_registry_url:
        from confluent_kafka.schema_registry import SchemaRegistryClient

        conf: dict[str, Any] = {"url": settings.schema_registry_url}
        if settings.schema_registry_user and settings.schema_registry_password:
            conf["basic.auth.user.info"] = (
                f"{settings.schema_registry_user}:{settings.schema_registry_password.get_secret_value()}"
            )
        return ConfluentCodec(schemas[record_name], SchemaRegistryClient(conf), f"{topic}-value")
    return SingleObjectCodec(schemas[record_name], schemas.versions_of(record_name)[1:])
