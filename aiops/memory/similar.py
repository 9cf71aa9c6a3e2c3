"""Similar past incidents for each incident snapshot, searched again only when what the search reads changes.

The correlator sends a snapshot every few seconds while an incident grows; asking memory each time would cost a
search per snapshot. The answer is kept per open incident with the signature of what `incident_query` reads
(services, alert names, root cause, log templates) and dropped when the incident resolves, so the cache holds
open incidents only. Memory is best effort: when it fails or is slow, the last answer (or none) is used.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiops.core.errors import AiopsError

log = logging.getLogger(__name__)

Similar = list[dict[str, Any]]
Signature = tuple[Any, ...]


def search_signature(incident: Mapping[str, Any]) -> Signature:
    """What of an incident the similarity search reads: when it is unchanged, so is the answer."""
    return (tuple(incident["services"]), tuple(sorted(a["name"] for a in incident["alerts"])),
            incident["root_cause"]["service"], tuple(e["template_id"] for e in incident["log_evidence"]))


class SimilarIncidents:
    """`similar_incidents` per open incident, cached until the incident changes in what the search reads."""

    def __init__(self, search: Callable[[Mapping[str, Any]], Awaitable[Similar]], timeout_s: float):
        self.search = search
        self.timeout_s = timeout_s
        self._cache: dict[str, tuple[Signature, Similar]] = {}

    def __len__(self) -> int:
        return len(self._cache)

    async def for_snapshot(self, incident: Mapping[str, Any]) -> Similar:
        """The similar incidents for this snapshot of an incident (best effort: [] when memory never answered)."""
        incident_id = incident["id"]
        signature = search_signature(incident)
        cached = self._cache.get(incident_id)
        if not (cached and cached[0] == signature):
            try:
                similar = await asyncio.wait_for(self.search(incident), self.timeout_s)
                cached = self._cache[incident_id] = (signature, similar)
            except (AiopsError, TimeoutError) as exc:
                log.debug("no similar incidents for %s: %s", incident_id, exc)
        if incident["status"] == "resolved":
            self._cache.pop(incident_id, None)
        return cached[1] if cached else []
