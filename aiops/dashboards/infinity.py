"""Infinity datasource queries: grafana-foundation-sdk ships no builder for this plugin, so this is one.

The JSON follows the plugin's query model (pkg/models/query.go in grafana-infinity-datasource): a JSON document
at a URL relative to the datasource's base URL, parsed by the backend parser into the listed columns.
"""

from __future__ import annotations

import typing

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models.dashboard import DataSourceRef

ColumnType = typing.Literal["string", "number", "timestamp", "boolean"]


class InfinityColumn:
    """One table column: a field of each JSON row, its header and its type."""

    def __init__(self, selector: str, text: str, type_val: ColumnType = "string") -> None:
        self.selector = selector
        self.text = text
        self.type_val = type_val

    def to_json(self) -> dict[str, object]:
        return {"selector": self.selector, "text": self.text, "type": self.type_val}


class InfinityQuery(cogvariants.Dataquery):
    """A JSON-over-HTTP table query of the Infinity datasource."""

    def __init__(self, url: str = "", ref_id: str = "A", datasource: DataSourceRef | None = None) -> None:
        self.url = url
        self.ref_id = ref_id
        self.datasource = datasource
        self.root_selector = ""
        self.columns: list[InfinityColumn] = []

    def to_json(self) -> dict[str, object]:
        payload: dict[str, object] = {
            "refId": self.ref_id,
            "type": "json",
            "source": "url",
            "format": "table",
            "parser": "backend",
            "url": self.url,
            "url_options": {"method": "GET", "data": ""},
            "root_selector": self.root_selector,
            "columns": self.columns,
            "computed_columns": [],
            "filters": [],
        }
        if self.datasource is not None:
            payload["datasource"] = self.datasource
        return payload


class InfinityTable(cogbuilder.Builder[InfinityQuery]):
    """Builds a table query reading `path` (relative to the datasource's base URL)."""

    def __init__(self, path: str) -> None:
        self._internal = InfinityQuery(url=path)

    def build(self) -> InfinityQuery:
        return self._internal

    def ref_id(self, ref_id: str) -> typing.Self:
        self._internal.ref_id = ref_id
        return self

    def datasource(self, ref: DataSourceRef) -> typing.Self:
        self._internal.datasource = ref
        return self

    def column(self, selector: str, text: str, type_val: ColumnType = "string") -> typing.Self:
        self._internal.columns.append(InfinityColumn(selector, text, type_val))
        return self
