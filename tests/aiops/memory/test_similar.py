"""The similar-incident cache without a memory service: searched once per change, dropped on resolution,
best effort when memory fails or is slow."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aiops.core.errors import AiopsError
from aiops.memory.similar import SimilarIncidents

HIT = [{"doc_id": "pm-1", "kind": "postmortem", "title": "orders-db lock", "score": 3.0}]


def incident(status: str = "open", alerts: tuple[str, ...] = ("PostgresConnectionsNearLimit",),
             root: str | None = "orders-db") -> dict[str, Any]:
    return {"id": "inc-1", "status": status, "services": ["orders-db"], "root_cause": {"service": root},
            "alerts": [{"name": name} for name in alerts], "log_evidence": []}


class Memory:
    """Answers searches the way the memory client does, counting them; can fail or stall."""

    def __init__(self, answer: list[dict] | None = None) -> None:
        self.answer = HIT if answer is None else answer
        self.searches = 0
        self.failure: Exception | None = None
        self.stall_s = 0.0

    async def search(self, _incident: Any) -> list[dict]:
        self.searches += 1
        if self.stall_s:
            await asyncio.sleep(self.stall_s)
        if self.failure:
            raise self.failure
        return self.answer


async def test_an_unchanged_incident_is_searched_once():
    memory = Memory()
    similar = SimilarIncidents(memory.search, timeout_s=1)
    assert await similar.for_snapshot(incident()) == HIT
    assert await similar.for_snapshot(incident()) == HIT
    assert memory.searches == 1


async def test_a_change_in_what_the_search_reads_searches_again():
    memory = Memory()
    similar = SimilarIncidents(memory.search, timeout_s=1)
    await similar.for_snapshot(incident())
    await similar.for_snapshot(incident(alerts=("PostgresConnectionsNearLimit", "OrdersApiHigh5xxRate")))
    await similar.for_snapshot(incident(alerts=("PostgresConnectionsNearLimit", "OrdersApiHigh5xxRate"),
                                        root="orders-api"))
    assert memory.searches == 3


async def test_a_resolved_incident_leaves_the_cache():
    memory = Memory()
    similar = SimilarIncidents(memory.search, timeout_s=1)
    await similar.for_snapshot(incident())
    assert len(similar) == 1
    assert await similar.for_snapshot(incident(status="resolved")) == HIT
    assert len(similar) == 0


@pytest.mark.parametrize("trouble", ["error", "timeout"])
async def test_memory_trouble_keeps_the_last_answer_or_none(trouble):
    memory = Memory()
    similar = SimilarIncidents(memory.search, timeout_s=0.05)
    if trouble == "error":
        memory.failure = AiopsError("memory service unreachable")
    else:
        memory.stall_s = 1.0
    assert await similar.for_snapshot(incident()) == []
    memory.failure, memory.stall_s = None, 0.0
    assert await similar.for_snapshot(incident()) == HIT
    memory.failure = AiopsError("down again")
    changed = incident(alerts=("PostgresConnectionsNearLimit", "OrdersApiHigh5xxRate"))
    assert await similar.for_snapshot(changed) == HIT  # the last answer stands in
