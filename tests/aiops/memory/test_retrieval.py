"""Retrieval: an incident built from a postmortem's symptoms finds that postmortem in the top 3."""

from __future__ import annotations

from typing import Any

import pytest

from aiops.core.avro import SchemaSet, SingleObjectCodec
from aiops.core.paths import PROJECT_ROOT
from aiops.memory.documents import HandbookDocument, load_handbook
from aiops.memory.enrich import incident_query, similar_for_incident
from aiops.memory.store import MemoryStore
from tests.aiops.memory.conftest import HANDBOOK, RETRIEVAL_REPORT
from tests.aiops.memory.incidents import incident_from_postmortem

INCIDENT_CODEC = SingleObjectCodec(SchemaSet.load(PROJECT_ROOT / "schemas")["Incident"])
POSTMORTEM_IDS = [d.id for d in load_handbook(HANDBOOK) if d.kind == "postmortem"]


def as_on_the_topic(incident: dict[str, Any]) -> dict[str, Any]:
    """The incident after an Avro round trip, exactly as an agent reads it from aiops.incidents."""
    return INCIDENT_CODEC.decode(INCIDENT_CODEC.encode(incident))


def rank_of(postmortem: HandbookDocument, store: MemoryStore) -> tuple[int | None, list[dict[str, Any]]]:
    similar = similar_for_incident(as_on_the_topic(incident_from_postmortem(postmortem)), store, top_k=3)
    past = [s["doc_id"] for s in similar if s["kind"] in ("postmortem", "incident")]
    return (past.index(postmortem.id) + 1 if postmortem.id in past else None), similar


@pytest.mark.parametrize("postmortem_id", POSTMORTEM_IDS)
def test_each_postmortem_is_found_from_its_symptoms(postmortem_id: str, handbook: list[HandbookDocument],
                                                    handbook_store: MemoryStore) -> None:
    postmortem = next(d for d in handbook if d.id == postmortem_id)
    rank, similar = rank_of(postmortem, handbook_store)
    assert rank is not None and rank <= 3, f"{postmortem_id} not in the top 3: {similar}"
    # The shape the Incident schema's similar_incidents holds, past documents first, then runbooks.
    assert all(set(s) == {"doc_id", "kind", "title", "score"} and s["score"] > 0 for s in similar)
    kinds = [s["kind"] for s in similar]
    assert kinds == sorted(kinds, key=lambda k: k == "runbook") and kinds.count("runbook") <= 2


def test_hit_rate_and_mean_rank(postmortems: list[HandbookDocument], handbook_store: MemoryStore) -> None:
    ranks = [rank_of(pm, handbook_store)[0] for pm in postmortems]
    found = [r for r in ranks if r is not None]
    hit_rate = len(found) / len(ranks)
    mean_rank = sum(r if r is not None else 4 for r in ranks) / len(ranks)
    RETRIEVAL_REPORT.update(found=len(found), total=len(ranks), hit_rate=hit_rate, mean_rank=mean_rank)
    assert len(ranks) == 20
    assert hit_rate == 1.0
    assert mean_rank <= 1.5


def test_the_query_uses_what_the_incident_record_carries(postmortems: list[HandbookDocument]) -> None:
    pm = next(d for d in postmortems if d.id == "pm-2025-09-orders-db-migration-lock-connection-exhaustion")
    query = incident_query(as_on_the_topic(incident_from_postmortem(pm)))
    assert "alert PostgresConnectionsNearLimit Postgres Connections Near Limit on orders-db" in query
    assert "root cause: orders-db" in query and "services: " in query
    # Log templates arrive masked by the miner; the masks are not words and are left out of the query.
    assert "orders-api: timeout acquiring connection from pool (pool=orders-db, waited= )" in query
    assert "<DURATION>" not in query and "<NUM>" not in query


def test_kind_and_service_filters(handbook_store: MemoryStore) -> None:
    hits = handbook_store.search("PostgresDeadlocksDetected deadlock inventory-db", top_k=3, kinds=["runbook"])
    assert hits[0].doc_id == "rb-inventory-db-deadlocks" and {h.kind for h in hits} == {"runbook"}
    hits = handbook_store.search("deadlock detected", top_k=10, services=["cart-redis"])
    assert hits and all("cart-redis" in h.services for h in hits)
    assert handbook_store.search("   ", top_k=3) == []
    assert handbook_store.search("zzzyzzx qqqxv", top_k=3) == []  # no term of the corpus
