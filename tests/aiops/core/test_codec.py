"""The Avro codecs without a broker: round trips, evolution, and clear errors for bad bytes."""

from __future__ import annotations

import copy

import pytest

from aiops.core.avro import AvroSchema, SchemaSet, SingleObjectCodec
from aiops.core.errors import SerializationError
from aiops.core.paths import PROJECT_ROOT
from tests import samples

SCHEMAS = SchemaSet.load(PROJECT_ROOT / "schemas")


@pytest.mark.parametrize("name", sorted(samples.ALL))
def test_every_schema_round_trips(name):
    codec = SingleObjectCodec(SCHEMAS[name])
    record = samples.ALL[name]()
    data = codec.encode(record)
    assert data[:2] == b"\xc3\x01"
    assert data[2:10] == SCHEMAS[name].fingerprint
    assert codec.decode(data) == record


def test_schemas_cover_the_architecture_records():
    assert set(SCHEMAS.current) >= {"Alert", "Incident", "Proposal", "Approval", "Decision", "Execution"}
    assert set(SCHEMAS.current) == set(samples.ALL), "every schema has a sample record that round-trips"


def older_alert_schema() -> AvroSchema:
    """Version 1 of Alert: before trace_id and generator_url were added."""
    raw = copy.deepcopy(SCHEMAS["Alert"].raw)
    raw["fields"] = [f for f in raw["fields"] if f["name"] not in ("trace_id", "generator_url")]
    return AvroSchema.from_dict(raw)


def test_newer_reader_reads_records_written_with_older_schema():
    v1 = older_alert_schema()
    old_record = {k: v for k, v in samples.alert().items() if k not in ("trace_id", "generator_url")}
    written = SingleObjectCodec(v1).encode(old_record)
    reader = SingleObjectCodec(SCHEMAS["Alert"], writers=[v1])
    decoded = reader.decode(written)
    assert decoded["trace_id"] is None and decoded["generator_url"] is None
    assert decoded["fingerprint"] == old_record["fingerprint"]


def test_incidents_written_before_anomaly_evidence_still_read():
    """schemas/history keeps the Incident as it was before anomaly evidence and candidate evidence came."""
    v1 = next(schema for schema in SCHEMAS.versions_of("Incident")[1:])
    old = samples.incident()
    old.pop("anomaly_evidence")
    old.pop("opened_by")
    old["root_cause"]["candidates"] = [{k: v for k, v in c.items() if k != "evidence"}
                                       for c in old["root_cause"]["candidates"]]
    reader = SingleObjectCodec(SCHEMAS["Incident"], writers=SCHEMAS.versions_of("Incident"))
    decoded = reader.decode(SingleObjectCodec(v1).encode(old))
    assert decoded["anomaly_evidence"] == [] and decoded["opened_by"] == "alert"
    assert [c["evidence"] for c in decoded["root_cause"]["candidates"]] == [[], []]


def test_reader_that_does_not_know_the_writer_schema_says_so():
    written = SingleObjectCodec(older_alert_schema()).encode(
        {k: v for k, v in samples.alert().items() if k not in ("trace_id", "generator_url")})
    with pytest.raises(SerializationError, match="unknown writer schema fingerprint"):
        SingleObjectCodec(SCHEMAS["Alert"]).decode(written)


@pytest.mark.parametrize("cut", [0, 1, 5, 9, 10, 20, -1])
def test_truncated_message_gives_project_error(cut):
    codec = SingleObjectCodec(SCHEMAS["Incident"])
    data = codec.encode(samples.incident())
    with pytest.raises(SerializationError):
        codec.decode(data[:cut])


@pytest.mark.parametrize("foreign", [
    b'{"alertname": "x"}', b"\x00\x00\x00\x00\x01\x02", b"", "not bytes", b"\xc3\x01" + b"\xff" * 20,
])
def test_foreign_message_gives_project_error(foreign):
    with pytest.raises(SerializationError):
        SingleObjectCodec(SCHEMAS["Alert"]).decode(foreign)


def test_trailing_bytes_are_rejected():
    codec = SingleObjectCodec(SCHEMAS["Approval"])
    with pytest.raises(SerializationError, match="trailing bytes"):
        codec.decode(codec.encode(samples.approval()) + b"junk")


def test_record_that_does_not_match_schema_fails_on_encode():
    record = samples.alert()
    record["status"] = "exploded"
    with pytest.raises(SerializationError, match="does not match schema"):
        SingleObjectCodec(SCHEMAS["Alert"]).encode(record)
