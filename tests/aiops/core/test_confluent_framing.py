"""With a schema registry URL configured, records use the Confluent wire format, through the real broker."""

from __future__ import annotations

import struct

import pytest

from aiops.core.avro import ConfluentCodec, codec_for
from aiops.core.errors import SerializationError
from aiops.core.settings import Settings
from tests import samples
from tests.aiops.core.test_avro_on_kafka import confluent_roundtrip
from tests.registry_double import RegistryDouble

pytestmark = pytest.mark.integration


def test_registry_url_switches_to_confluent_wire_format(services, new_topic, new_group):
    topic = new_topic("sr")
    with RegistryDouble() as registry:
        settings = Settings(kafka_bootstrap=services.kafka_bootstrap, schema_registry_url=registry.url)
        writer = codec_for("Decision", topic, settings)
        assert isinstance(writer, ConfluentCodec)
        data = writer.encode(samples.decision())
        assert data[0] == 0 and struct.unpack(">I", data[1:5])[0] in registry.schemas
        assert f"{topic}-value" in registry.subjects

        received = confluent_roundtrip(services.kafka_bootstrap, topic, new_group(), [data])
        # A fresh reader knows nothing yet: it fetches the writer schema by id from the registry.
        reader = codec_for("Decision", topic, settings)
        assert reader.decode(received[0]) == samples.decision()
        assert any(r.startswith("GET /schemas/ids/") for r in registry.requests)


def test_unknown_schema_id_and_bad_framing_give_project_error():
    with RegistryDouble() as registry:
        codec = codec_for("Alert", "t", Settings(schema_registry_url=registry.url))
        with pytest.raises(SerializationError, match="schema id 99"):
            codec.decode(b"\x00" + struct.pack(">I", 99) + b"\x02")
        with pytest.raises(SerializationError, match="Confluent-framed"):
            codec.decode(b"\xc3\x01" + b"\x00" * 12)
