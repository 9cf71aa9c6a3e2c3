"""The in-process BM25 index answers exactly as Milvus Lite's own BM25 search, and sees every write at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiops.bench.memory import incidents
from aiops.bench.telemetry import SERVICES
from aiops.memory.documents import MemoryRecord
from aiops.memory.store import OUTPUT_FIELDS, MemoryStore, _filter

QUERIES = [
    "connection pool exhausted 5xx", "p99 latency regression after deploy", "disk full", "certificate expired errors",
    "queue consumer lag timeout", "DNS resolution failures", "rate limit exceeded upstream latency",
    "Incident on", "the of and",  # stop words only: nothing
]


def milvus_bm25(store: MemoryStore, query: str, top_k: int, kinds: list[str] | None,
                services: list[str] | None) -> list[tuple[str, float]]:
    """Milvus Lite's own answer, asked directly (the store itself now goes to the lexical index)."""
    results = store._client.search(store.collection, data=[query], anns_field="sparse", limit=top_k,
                                   filter=_filter(kinds, services), output_fields=OUTPUT_FIELDS,
                                   search_params={"metric_type": "BM25"})
    return [(str(hit["id"]), abs(float(hit["distance"]))) for hit in (results[0] if results else [])]


@pytest.fixture(scope="module")
def corpus_store(tmp_path_factory: pytest.TempPathFactory) -> MemoryStore:
    """A store of synthetic incidents after replacements, deletions and a re-insert (all rows still unflushed)."""
    records = incidents(600)
    notes = [MemoryRecord(id=f"note-{i}", kind="note", title=f"note {i}", services=[SERVICES[i % len(SERVICES)]],
                          text=f"Note: {records[i].text}") for i in range(40)]
    with MemoryStore(str(tmp_path_factory.mktemp("lexical") / "milvus.db"), collection="lexical") as store:
        store.upsert(records + notes)
        store.upsert(records[10:30])  # replaced: same place in the tie order
        store.upsert([MemoryRecord(id=r.id, kind=r.kind, title=r.title, services=r.services, text=r.text + " disk")
                      for r in records[30:40]])
        store.delete([r.id for r in records[50:60]])
        store.upsert([records[60], MemoryRecord(id=records[60].id, kind="note", title="twice in one call",
                                                services=[], text="disk full twice")])  # the last one wins
        store.upsert(records[50:55])  # deleted, then back: last in the tie order
        yield store


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize(("kinds", "services"), [(None, None), (["incident"], None), (None, SERVICES[:2]),
                                                 (["note", "incident"], SERVICES[2:5])])
def test_same_hits_and_scores_as_milvus_lite(corpus_store: MemoryStore, query: str, kinds: list[str] | None,
                                             services: list[str] | None) -> None:
    for top_k in (1, 5, 20):
        ours = [(hit.doc_id, hit.score) for hit in corpus_store.search(query, top_k, kinds, services)]
        assert ours == milvus_bm25(corpus_store, query, top_k, kinds, services)


def test_ties_keep_milvus_lites_order(tmp_path: Path) -> None:
    """Equal scores come back by the first query term they matched, then by first insertion, as in Milvus Lite."""
    texts = {"t-beta": "beta gamma", "t-alpha": "alpha gamma", "t-both-1": "alpha delta", "t-both-2": "beta delta",
             "t-pad": "gamma delta"}
    with MemoryStore(str(tmp_path / "milvus.db")) as store:
        store.upsert([MemoryRecord(id=i, kind="note", title=i, services=[], text=t) for i, t in texts.items()])
        store.upsert([MemoryRecord(id="t-beta", kind="note", title="t-beta", services=[], text="beta gamma")])
        ours = [(hit.doc_id, hit.score) for hit in store.search("alpha beta", 5)]
        assert ours == milvus_bm25(store, "alpha beta", 5, None, None)
        assert [doc_id for doc_id, _ in ours] == ["t-alpha", "t-both-1", "t-beta", "t-both-2"]


def test_a_write_is_found_at_once_through_any_store_on_the_directory(tmp_path: Path) -> None:
    uri = str(tmp_path / "milvus.db")
    with MemoryStore(uri) as writer, MemoryStore(uri) as reader:
        writer.upsert(incidents(50))
        fresh = MemoryRecord(id="inc-fresh", kind="incident", title="smtp relay throttled", services=["mailer"],
                             text="smtp relay deferred messages with 421, bulk resend throttled")
        writer.upsert([fresh])
        assert [hit.doc_id for hit in reader.search("smtp relay 421", 3)] == ["inc-fresh"]
        reader.delete(["inc-fresh"])
        assert [hit.doc_id for hit in writer.search("smtp relay 421", 3)] == []
        before = writer.search("certificate expired timeout", 50)
    with MemoryStore(uri) as reopened:  # rebuilt from the collection on open
        assert reopened.search("smtp relay 421", 3) == []
        assert reopened.search("certificate expired timeout", 50) == before and len(before) > 5
        assert reopened.count() == 50
