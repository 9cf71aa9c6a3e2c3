"""Dead letters written by a bridge itself: a record it refused, alone, on `<topic>.dlq` with the reason, position
and service in headers (a bridge has no input partition or offset, so the endpoint it came in on is named)."""

from __future__ import annotations

from aiops.core.deadletter import VALUE_DROPPED, DeadLetter
from aiops.core.settings import Settings
from connectors.kafka_producer import Record
from streams.ingest.verdicts import Rejected

RECEIVED_ON = "aiops.original.endpoint"


def dead_letter_record(rejected: Rejected, settings: Settings, topic: str, endpoint: str) -> Record:
    """A rejected record (or request) as a record for `<topic>.dlq`; too large a value is dropped and said so."""
    letter = DeadLetter(key=None, value=rejected.original, error=rejected.error(), topic=topic, partition=-1,
                        offset=-1)
    headers = [*letter.headers(), (RECEIVED_ON, endpoint.encode("utf-8", "replace"))]
    value = rejected.original
    if value is not None and len(value) > settings.ingest_max_message_bytes:
        headers.append((VALUE_DROPPED, f"{len(value)} bytes not copied: over the "
                                       f"{settings.ingest_max_message_bytes}-byte message limit".encode()))
        value = None
    return None, value, headers

