"""Loading the .avsc contracts and identifying them by their Avro CRC-64 fingerprint."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastavro import parse_schema
from fastavro.schema import fingerprint, to_parsing_canonical_form

from aiops.core.errors import SerializationError


@dataclass(frozen=True)
class AvroSchema:
    """One schema version: its JSON, the parsed form fastavro uses, and its 8-byte fingerprint."""

    raw: dict[str, Any]
    parsed: Any
    fingerprint: bytes

    @property
    def full_name(self) -> str:
        return f"{self.raw.get('namespace', '')}.{self.raw['name']}".lstrip(".")

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> AvroSchema:
        try:
            # Keep fastavro's parse hint: without it every encode and decode re-parses the schema (~2.4x slower).
            parsed = parse_schema(raw, _force=True)
            canonical = to_parsing_canonical_form(parsed)
        except Exception as exc:
            raise SerializationError(f"invalid Avro schema {raw.get('name')!r}: {exc}") from exc
        # fastavro returns the CRC-64-AVRO fingerprint already in the little-endian byte order
        # that the single-object encoding puts on the wire.
        return cls(raw=raw, parsed=parsed, fingerprint=bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO")))

    @classmethod
    def from_file(cls, path: Path) -> AvroSchema:
        try:
            raw = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise SerializationError(f"cannot read Avro schema {path}: {exc}") from exc
        return cls.from_dict(raw)


class SchemaSet:
    """The current schema of each record (schemas/*.avsc) plus older versions (schemas/history/*.avsc).

    Older versions are kept so that records written before a schema change stay readable: a decoder
    finds the writer schema by the fingerprint in the message and resolves it to the current one.
    """

    def __init__(self, current: dict[str, AvroSchema], history: list[AvroSchema] | None = None):
        self.current = current
        self.history = history or []

    @classmethod
    def load(cls, schemas_dir: Path) -> SchemaSet:
        current = {}
        for path in sorted(schemas_dir.glob("*.avsc")):
            schema = AvroSchema.from_file(path)
            current[schema.raw["name"]] = schema
        history = [AvroSchema.from_file(p) for p in sorted((schemas_dir / "history").glob("*.avsc"))]
        if not current:
            raise SerializationError(f"no Avro schemas found in {schemas_dir}")
        return cls(current, history)

    def __getitem__(self, record_name: str) -> AvroSchema:
        try:
            return self.current[record_name]
        except KeyError:
            raise SerializationError(f"no schema named {record_name!r}; known: {sorted(self.current)}") from None

    def versions_of(self, record_name: str) -> list[AvroSchema]:
        """Every known version of a record (current first)."""
        current = self[record_name]
        return [current] + [s for s in self.history if s.full_name == current.full_name]
