"""The console's Trust page: the trust ladder's track records, from the records the console keeps."""

from __future__ import annotations

from typing import Any

from aiops.console.live import LiveStore
from aiops.trust.track_record import TrackRecord, track_records
from streams.output_records import Decision, Execution, Outcome, Proposal


def _typed(store: LiveStore, endpoint: str, record: type[Any]) -> list[Any]:
    # Rows are whole records with RFC3339 times, oldest first here (the track record reads topic order).
    return [record.from_avro(row) for row in reversed(store.rows(endpoint))]


def console_track_records(store: LiveStore) -> list[TrackRecord]:
    """Every selector's record over the latest records kept (`aiops trust report` reads the whole topics)."""
    records = track_records(_typed(store, "proposals", Proposal), _typed(store, "decisions", Decision),
                            _typed(store, "executions", Execution), _typed(store, "outcomes", Outcome))
    return [records[s] for s in sorted(records)]
