"""A guard in aiokafka's fetcher: a record batch that cannot be read surfaces as one marker record, not an exception.

Without it, a batch aiokafka cannot decode (a compression codec this install lacks, a corrupt or truncated batch,
a CRC mismatch) raises from `getmany()` on every fetch of that batch: a Faust worker, the gatekeeper or the feed
crashes, and after a restart stops on the same offset again, so the partition is blocked for good. With it, the
consumer gets one record at the batch's last offset, with a null value and headers naming the error and the
offsets the batch held; the failure is logged and counted (aiops_fetch_failures_total). Consumers dead-letter
that record (the normalize agents) or count and skip it, and commit past it like any other.

`install()` puts the guard in once per process (every aiokafka consumer of the process gets it). It replaces
aiokafka's PartitionRecords with a subclass that restarts aiokafka's own unpacking after a failed batch, so
aiokafka's handling of transactions and control batches stays as it is (pinned: aiokafka 0.14.0).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from aiokafka.consumer import fetcher
from aiokafka.structs import ConsumerRecord

from aiops.core import metrics
from aiops.core.errors import AiopsError

log = logging.getLogger(__name__)

FETCH_ERROR = "aiops.fetch.error"
FETCH_FIRST_OFFSET = "aiops.fetch.first_offset"
FETCH_LAST_OFFSET = "aiops.fetch.last_offset"

_ORIGINAL = fetcher.PartitionRecords


class FetchFailure(AiopsError):
    """A record batch that could not be read; the error of its marker record's dead letter."""


class _LastBatch:
    """The batches of a fetch response, remembering the one handed out last (the one that may fail)."""

    def __init__(self, records: Any):
        self._records = records
        self.batch: Any = None

    def has_next(self) -> bool:
        return bool(self._records.has_next())

    def next_batch(self) -> Any:
        self.batch = self._records.next_batch()
        return self.batch

    def size_in_bytes(self) -> int:
        return int(self._records.size_in_bytes())


class GuardedPartitionRecords(_ORIGINAL):  # type: ignore[misc, valid-type]
    next_fetch_offset: int  # aiokafka's own attribute: the next offset this partition's reading is at

    def __init__(self, tp: Any, records: Any, *args: Any, **kwargs: Any):
        super().__init__(tp, _LastBatch(records), *args, **kwargs)

    def _unpack_records(self) -> Iterator[ConsumerRecord]:
        records: _LastBatch = self._records
        while True:
            try:
                yield from super()._unpack_records()
                return
            except Exception as exc:  # any failure to read a batch: report it and go on after it
                batch, records.batch = records.batch, None
                if batch is None:  # nothing to skip past: not a batch fault, so not ours to hide
                    raise
                yield self._fetch_failure(batch, exc)

    def _fetch_failure(self, batch: Any, exc: Exception) -> ConsumerRecord:
        tp = self._tp
        first = max(batch.base_offset, self.next_fetch_offset)
        last = batch.next_offset - 1
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        log.error("record batch %s[%d] offsets %d-%d cannot be read, skipped past it: %s", tp.topic, tp.partition,
                  first, last, reason)
        metrics.FETCH_FAILURES.labels(tp.topic, type(exc).__name__).inc()
        self.next_fetch_offset = batch.next_offset
        timestamp = getattr(batch, "max_timestamp", None) or int(time.time() * 1000)
        headers = ((FETCH_ERROR, reason.encode("utf-8", "replace")[:4096]),
                   (FETCH_FIRST_OFFSET, str(first).encode()), (FETCH_LAST_OFFSET, str(last).encode()))
        return ConsumerRecord(tp.topic, tp.partition, last, timestamp, 0, None, None, None, -1, -1, headers)


def install() -> None:
    """Guard every aiokafka consumer of this process (idempotent)."""
    fetcher.PartitionRecords = GuardedPartitionRecords


def fetch_failure(headers: Any) -> str | None:
    """The error of a marker record made by the guard, or None for an ordinary record."""
    for key, value in (headers.items() if isinstance(headers, dict) else headers or ()):
        if key == FETCH_ERROR:
            text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
            found = dict(headers) if not isinstance(headers, dict) else headers
            first, last = found.get(FETCH_FIRST_OFFSET, b"?"), found.get(FETCH_LAST_OFFSET, b"?")
            span = f"{first.decode() if isinstance(first, bytes) else first}-" \
                   f"{last.decode() if isinstance(last, bytes) else last}"
            return f"record batch at offsets {span} could not be read: {text}"
    return None
