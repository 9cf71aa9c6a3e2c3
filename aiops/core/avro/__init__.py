"""Avro for the topic contracts in schemas/: single-object encoding by default, Confluent framing with a registry."""

from aiops.core.avro.codec import AvroCodec, ConfluentCodec, SingleObjectCodec, codec_for
from aiops.core.avro.schemas import AvroSchema, SchemaSet

__all__ = ["AvroCodec", "AvroSchema", "ConfluentCodec", "SchemaSet", "SingleObjectCodec", "codec_for"]
