"""Enrichment: the past incidents, postmortems and runbooks most similar to an incident (`similar_incidents`)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from aiops.memory.client import AsyncMemoryClient, MemorySearch
from aiops.memory.store import Hit

PAST_KINDS = ("incident", "postmortem")
RUNBOOK_KINDS = ("runbook",)
SNAPSHOT_TOP_K = 5  # past incidents and postmortems an incident snapshot carries (`similar_incidents`)
MAX_QUERY_CHARS = 8_000
# Drain masks (<NUM>, <DURATION>, <*>...) stand for values, not words: they would match any text that
# happens to contain "num" or "duration".
_MASK = re.compile(r"<[A-Za-z_*]*>")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def strip_masks(text: str) -> str:
    """A log template without its variable masks."""
    return re.sub(r"\s+", " ", _MASK.sub(" ", text)).strip()


def alert_words(name: str) -> str:
    """An alert name and its words: `RedisEvictionsSpike` -> `RedisEvictionsSpike Redis Evictions Spike`."""
    words = _CAMEL.sub(" ", name)
    return name if words == name else f"{name} {words}"


def unique_lines(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        item = item.strip()
        if item and item not in seen:
            seen[item] = None
    return list(seen)


def incident_query(incident: Mapping[str, Any]) -> str:
    """The search text for an incident (an Avro Incident dict as on aiops.incidents).

    Built from what the record carries: alert names (the Incident has no alert summaries), services, the
    likely root-cause service, log evidence templates and span evidence (operations and messages).
    """
    root = (incident.get("root_cause") or {}).get("service")
    alerts = incident.get("alerts") or []
    lines = unique_lines(f"alert {alert_words(a.get('name', ''))} on {a.get('service', '')}" for a in alerts)
    services = unique_lines([*(incident.get("services") or []), *(a.get("service", "") for a in alerts)])
    if services:
        lines.append("services: " + " ".join(services))
    if root:
        lines.append(f"root cause: {root}")
    lines += unique_lines(f"{e.get('service', '')}: {strip_masks(e.get('template', ''))}"
                     for e in incident.get("log_evidence") or [])
    lines += unique_lines(f"{s.get('service', '')}: {s.get('operation', '')} {s.get('message') or ''}"
                     for s in incident.get("span_evidence") or [])
    return "\n".join(lines)[:MAX_QUERY_CHARS]


def _similar(hits: Sequence[Hit], exclude: str | None, limit: int) -> list[dict[str, Any]]:
    return [{"doc_id": h.doc_id, "kind": h.kind, "title": h.title, "score": round(h.score, 6)}
            for h in hits if h.doc_id != exclude][:limit]


def similar_for_incident(incident: Mapping[str, Any], client: MemorySearch, top_k: int = 5, runbooks: int = 2
                         ) -> list[dict[str, Any]]:
    """The `similar_incidents` of an incident: up to top_k past incidents and postmortems, best first, then up to
    `runbooks` runbooks, best first. Each is {doc_id, kind, title, score}; the incident itself is never listed.

    Past documents and runbooks are ranked separately, so a runbook (which lists the same symptoms as many
    postmortems) does not push the similar past incidents out; their scores are not comparable across the two.

    Args:
        incident: the Avro Incident dict.
        client: a MemoryClient (through the memory service) or a MemoryStore (its owner).
        top_k: how many past incidents and postmortems.
        runbooks: how many runbooks after them.
    """
    query = incident_query(incident)
    own_id = incident.get("id")
    past = client.search(query, top_k + 1, kinds=PAST_KINDS) if top_k > 0 else []
    books = client.search(query, runbooks, kinds=RUNBOOK_KINDS) if runbooks > 0 else []
    return _similar(past, own_id, top_k) + _similar(books, own_id, runbooks)


async def asimilar_for_incident(incident: Mapping[str, Any], client: AsyncMemoryClient,
                                top_k: int = SNAPSHOT_TOP_K, runbooks: int = 2) -> list[dict[str, Any]]:
    """similar_for_incident for a Faust agent: the same answer through the non-blocking client, both searches
    at once (they sit on the alert-to-proposal path)."""
    query = incident_query(incident)
    own_id = incident.get("id")

    async def search(count: int, kinds: Sequence[str]) -> list[Hit]:
        return await client.search(query, count, kinds=kinds) if count > 0 else []

    past, books = await asyncio.gather(search(top_k + 1 if top_k > 0 else 0, PAST_KINDS),
                                       search(runbooks, RUNBOOK_KINDS))
    return _similar(past, own_id, top_k) + _similar(books, own_id, runbooks)
