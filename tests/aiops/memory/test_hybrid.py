"""Dense + BM25: with an OpenAI-compatible embeddings endpoint configured, search fuses both by reciprocal rank.

The endpoint is a real HTTP server on 127.0.0.1 started here, serving POST /v1/embeddings with deterministic
64-dimensional vectors: a hashed bag of words in which a few synonyms share a bucket, so that texts with no
word in common can still be close, as with a real embedding model.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from aiops.core.settings import Settings
from aiops.memory.documents import MemoryRecord
from aiops.memory.store import RRF_K, MemoryStore

DIM = 64
SYNONYMS = {"billing": "payment", "charge": "payment", "rejected": "declined", "refused": "declined",
            "vendor": "provider", "supplier": "provider"}
RECORDS = [
    MemoryRecord(id="note-card-declines", kind="note", title="Card declines", services=["payments-api"],
                 text="card payment declined by the acquiring provider"),
    MemoryRecord(id="note-wal", kind="note", title="WAL retention", services=["orders-db"],
                 text="postgres disk full, wal retention by an inactive replication slot"),
    MemoryRecord(id="note-evictions", kind="note", title="Evictions", services=["cart-redis"],
                 text="redis evictions at maxmemory"),
    MemoryRecord(id="note-dns", kind="note", title="DNS", services=["web-frontend"],
                 text="coredns servfail, lookups time out"),
]
NO_OVERLAP = "billing rejected vendor"  # not one word of it is in any record


def embedding(text: str) -> list[float]:
    vector = [0.0] * DIM
    for word in re.findall(r"\w+", text.lower()):
        concept = SYNONYMS.get(word, word)
        vector[int(hashlib.sha256(concept.encode()).hexdigest(), 16) % DIM] += 1.0
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector] if any(vector) else [1.0 / math.sqrt(DIM)] * DIM


class EmbeddingsHandler(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        self.requests.append({"path": self.path, "model": body["model"], "count": len(inputs),
                              "encoding_format": body.get("encoding_format"),
                              "authorization": self.headers.get("Authorization")})
        if self.path != "/v1/embeddings":
            self.send_error(404)
            return
        answer = json.dumps({
            "object": "list", "model": body["model"],
            "data": [{"object": "embedding", "index": i, "embedding": embedding(text)}
                     for i, text in enumerate(inputs)],
            "usage": {"prompt_tokens": len(inputs), "total_tokens": len(inputs)},
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def embeddings_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), EmbeddingsHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def hybrid_settings(embeddings_url: str, db: Path) -> Settings:
    return Settings(memory_uri=str(db), llm_base_url=embeddings_url, embedding_model="hash-bow-64",
                    llm_api_key="sk-test-key")


def test_hybrid_search_fuses_dense_and_bm25(embeddings_url: str, tmp_path: Path) -> None:
    EmbeddingsHandler.requests.clear()
    with MemoryStore.from_settings(hybrid_settings(embeddings_url, tmp_path / "milvus.db")) as store:
        assert store.hybrid
        store.upsert(RECORDS)

        # No lexical overlap: BM25 alone finds nothing, the dense route finds the card declines.
        hits = store.search(NO_OVERLAP, top_k=2)
        assert hits[0].doc_id == "note-card-declines"
        assert hits[0].score == pytest.approx(1 / (RRF_K + 1))  # rank 1 in the dense route only

        # Both routes: the BM25 match (evictions) is also in the dense ranking, so its fused score is the sum
        # of two reciprocal ranks, more than any single route can give.
        fused = store.search("redis evictions " + NO_OVERLAP, top_k=4)
        by_id = {h.doc_id: h.score for h in fused}
        assert by_id["note-evictions"] > 1 / (RRF_K + 1)
        assert {fused[0].doc_id, fused[1].doc_id} == {"note-evictions", "note-card-declines"}

        # Filters apply to both routes.
        only = store.search(NO_OVERLAP, top_k=4, services=["orders-db"])
        assert [h.doc_id for h in only] == ["note-wal"]

    seen = EmbeddingsHandler.requests
    assert seen and all(r["path"] == "/v1/embeddings" and r["model"] == "hash-bow-64" for r in seen)
    assert all(r["authorization"] == "Bearer sk-test-key" and r["encoding_format"] == "float" for r in seen)
    assert sum(r["count"] for r in seen) >= len(RECORDS) + 3  # the documents, then one vector per query


def test_bm25_alone_without_an_embeddings_endpoint(tmp_path: Path) -> None:
    with MemoryStore.from_settings(Settings(memory_uri=str(tmp_path / "milvus.db"))) as store:
        assert not store.hybrid
        store.upsert(RECORDS)
        assert store.search(NO_OVERLAP, top_k=2) == []
        assert [h.doc_id for h in store.search("redis evictions", top_k=2)] == ["note-evictions"]


def test_turning_embeddings_on_and_off_rebuilds_the_collection_keeping_the_text(
        embeddings_url: str, tmp_path: Path) -> None:
    db = tmp_path / "milvus.db"
    with MemoryStore(str(db)) as store:
        store.upsert(RECORDS)
    with MemoryStore.from_settings(hybrid_settings(embeddings_url, db)) as store:
        assert store.hybrid and store.count() == len(RECORDS)
        assert store.search(NO_OVERLAP, top_k=1)[0].doc_id == "note-card-declines"  # old records got vectors
    with MemoryStore(str(db)) as store:
        assert store.count() == len(RECORDS) and store.search(NO_OVERLAP, top_k=1) == []
