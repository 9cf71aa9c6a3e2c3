"""The record schemas grew (Alert: Grafana values and links; LogRecord and Span: resource, scope, events, links;
Incident: placements and span exceptions; Decision: the trust ladder's autonomy grant). Old readers still read
what the new writers write, new readers read what old writers wrote, both in the single-object encoding and
through a schema registry."""

from __future__ import annotations

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient

from aiops.core.avro import ConfluentCodec, SchemaSet, SingleObjectCodec
from aiops.core.paths import PROJECT_ROOT
from streams.records import Alert, LogRecord, Resource, Span
from tests import samples
from tests.registry_double import RegistryDouble

SCHEMAS = SchemaSet.load(PROJECT_ROOT / "schemas")
EVOLVED = ("Alert", "LogRecord", "Span", "Incident", "Decision")
MODELS = {"Alert": Alert, "LogRecord": LogRecord, "Span": Span}


def old_schema(name: str, first: bool = False):
    """The version before the current one (or the first one kept); schemas/history keeps them in order."""
    olds = [s for s in SCHEMAS.history if s.full_name == f"io.aiops.{name}"]
    return olds[0] if first else olds[-1]


def old_fields(name: str) -> set[str]:
    return {f["name"] for f in old_schema(name, first=True).raw["fields"]}


def project(value, avro_type):
    """A record as a reader of `avro_type` sees it: only its fields, at every depth (arrays of records too)."""
    if isinstance(avro_type, list):  # a union: the branch that fits
        branches = [t for t in avro_type if t != "null"]
        return value if value is None or not branches else project(value, branches[0])
    if isinstance(avro_type, dict) and avro_type.get("type") == "record":
        return {f["name"]: project(value[f["name"]], f["type"]) for f in avro_type["fields"] if f["name"] in value}
    if isinstance(avro_type, dict) and avro_type.get("type") == "array":
        return [project(item, avro_type["items"]) for item in value]
    return value


def as_old(name: str, record: dict) -> dict:
    return project(record, old_schema(name).raw)


def test_every_evolved_record_has_its_previous_version_kept():
    for name in EVOLVED:
        assert old_schema(name).fingerprint != SCHEMAS[name].fingerprint
        assert old_schema(name, first=True).fingerprint != SCHEMAS[name].fingerprint
        assert set(f["name"] for f in SCHEMAS[name].raw["fields"]) > old_fields(name)
        # Every added field has a default, so the change is compatible both ways.
        added = [f for f in SCHEMAS[name].raw["fields"] if f["name"] not in old_fields(name)]
        assert added and all("default" in f for f in added), name


@pytest.mark.parametrize("name", EVOLVED)
def test_old_reader_reads_what_the_new_writer_writes(name):
    record = samples.ALL[name]()
    data = SingleObjectCodec(SCHEMAS[name]).encode(record)
    read = SingleObjectCodec(old_schema(name), [SCHEMAS[name]]).decode(data)
    assert read == as_old(name, record)


@pytest.mark.parametrize("name", EVOLVED)
def test_new_reader_reads_what_the_old_writer_wrote(name):
    record = as_old(name, samples.ALL[name]())
    data = SingleObjectCodec(old_schema(name)).encode(record)
    read = SingleObjectCodec(SCHEMAS[name], SCHEMAS.versions_of(name)[1:]).decode(data)
    assert as_old(name, read) == record
    if name in MODELS:  # and the canonical record reads it, with the new fields empty
        model = MODELS[name].from_avro(read)
        if isinstance(model, LogRecord | Span):
            assert model.resource == Resource() and model.scope is None


@pytest.mark.parametrize("name", EVOLVED)
def test_old_reader_through_a_schema_registry(name):
    with RegistryDouble() as registry:
        client = SchemaRegistryClient({"url": registry.url})
        data = ConfluentCodec(SCHEMAS[name], client, f"t-{name}-value").encode(samples.ALL[name]())
        old_reader = ConfluentCodec(old_schema(name), SchemaRegistryClient({"url": registry.url}), f"t-{name}-value")
        assert old_reader.decode(data) == as_old(name, samples.ALL[name]())
