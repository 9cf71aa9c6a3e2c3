"""The memory store: one Milvus collection searched with Milvus' own BM25, optionally fused with dense vectors.

The URI is either a local path ending in `.db` (Milvus Lite, embedded in this process) or the `http://` URI
of a Milvus server; the code is the same. Text is analysed by Milvus and turned into a sparse BM25 vector by
a BM25 Function in the schema. When an embedder is configured, a dense vector field is added and a search
runs both routes and fuses them by reciprocal rank (Milvus hybrid_search with RRFRanker).

On Milvus Lite without embeddings, searches go to an in-process BM25 index kept in step with the collection
(`aiops.memory.lexical`, the same analyzer and scores as Milvus Lite's): Milvus Lite is pure Python and its
own BM25 search costs O(collection) per query (0.5 s at 10k records).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from aiops.core.settings import Settings
from aiops.memory import lite, ownership
from aiops.memory.documents import MEMORY_KINDS, MemoryRecord
from aiops.memory.embeddings import Embedder, embedder_from_settings
from aiops.memory.errors import EmbeddingError, MemoryStoreError, StoreOwnedError
from aiops.memory.lexical import LexicalIndex

log = logging.getLogger(__name__)


class _NoLiteSessionTsWarning(logging.Filter):
    # Milvus Lite returns no MVCC timestamp to query iterators; pymilvus then warns on every scan, harmlessly.
    def filter(self, record: logging.LogRecord) -> bool:
        return "failed to get mvccTs" not in record.getMessage()


logging.getLogger("pymilvus.client.iterator.query_iterator").addFilter(_NoLiteSessionTsWarning())

DEFAULT_COLLECTION = "aiops_memory"
UPSERT_BATCH = 128
RRF_K = 60
MIN_ROUTE_CANDIDATES = 20  # per route of a hybrid search, so that fusion sees more than the final top_k
SCAN_BATCH = 10000  # Milvus Lite reads every row for each batch of a scan: at 100k rows, 500 a batch took 88 s
MODEL_PROPERTY = "aiops.embedding_model"
OUTPUT_FIELDS = ["id", "kind", "title", "services"]
_SERVER_SCHEMES = ("http://", "https://", "tcp://", "unix:")
_SAFE_VALUE = re.compile(r"^[\w.:/@+-]{1,128}$")
# A small English stop list: words that carry no incident signal but would match every document.
STOP_WORDS = sorted({
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "in", "is", "it", "its", "of",
    "on", "or", "that", "the", "this", "to", "was", "were", "will", "with",
})
ANALYZER_PARAMS = {"tokenizer": "standard", "filter": ["lowercase", {"type": "stop", "stop_words": STOP_WORDS}]}

class Hit(BaseModel):
    """One search result."""

    model_config = ConfigDict(frozen=True)

    doc_id: str
    kind: str
    title: str
    score: float
    services: list[str]


def store_uri(settings: Settings) -> str:
    """The configured Milvus URI: `memory_uri`, or Milvus Lite under the state directory."""
    uri = getattr(settings, "memory_uri", None)
    if uri:
        return str(uri)
    return str(Path(settings.state_dir) / "memory" / "milvus.db")


def is_local_uri(uri: str) -> bool:
    """A Milvus Lite path (as opposed to a Milvus server URI)."""
    return not uri.startswith(_SERVER_SCHEMES)


class MemoryStore:
    """Upsert, delete, count and search memory records in one Milvus collection.

    With a local URI this process becomes the owner of the Milvus Lite directory; a second process gets a
    StoreOwnedError naming this one. Use it as a context manager or call close().
    """

    def __init__(self, uri: str, *, collection: str = DEFAULT_COLLECTION, embedder: Embedder | None = None,
                 role: str = "memory store") -> None:
        self.uri = uri
        self.collection = collection
        self.embedder = embedder
        self._write_lock = threading.Lock()
        self._local_dir: Path | None = None
        self._closed = False
        if is_local_uri(uri):
            self._local_dir = lite.open_dir(uri, role)
            connect_uri = str(self._local_dir)
        else:
            connect_uri = uri
        try:
            from pymilvus import MilvusClient

            try:
                self._client = MilvusClient(uri=connect_uri)
            except Exception as exc:  # pymilvus raises several types; all mean "could not open"
                raise self._open_error(exc) from None
            self._dim: int | None = None
            self._lexical: LexicalIndex | None = None
            self._ensure_collection()
            if self._local_dir is not None:
                if self.embedder is not None:
                    self._consolidate()
                self._lexical = lite.shared_index(
                    self._local_dir, self.collection, ANALYZER_PARAMS,
                    lambda: [self._record(row) for row in self._scan(["id", "kind", "title", "services", "text"])])
        except BaseException:
            if getattr(self, "_client", None) is not None:
                self._client.close()
            self._release_local()
            raise

    @classmethod
    def from_settings(cls, settings: Settings, *, role: str = "memory store") -> MemoryStore:
        """The store as configured: URI, collection and (when configured) the embeddings endpoint."""
        return cls(store_uri(settings), collection=getattr(settings, "memory_collection", DEFAULT_COLLECTION),
                   embedder=embedder_from_settings(settings), role=role)

    # --- lifecycle ------------------------------------------------------------------------------------
    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection; for Milvus Lite, flush and release the directory when no other store uses it."""
        if self._closed:
            return
        self._closed = True
        try:
            self._client.close()
        finally:
            self._release_local()

    @property
    def hybrid(self) -> bool:
        """Whether searches fuse BM25 with dense vectors."""
        return self.embedder is not None

    @property
    def local_dir(self) -> Path | None:
        """The Milvus Lite directory this store owns, or None for a Milvus server."""
        return self._local_dir

    def _release_local(self) -> None:
        path, self._local_dir = self._local_dir, None
        if path is not None:
            lite.release_dir(path)

    def _open_error(self, exc: Exception) -> MemoryStoreError:
        if self._local_dir is not None and ownership.held_by_another_process(self._local_dir):
            return StoreOwnedError(lite.owned_message(self._local_dir))
        return MemoryStoreError(f"cannot open the memory store {self.uri}: {exc}")

    # --- schema ---------------------------------------------------------------------------------------
    def _ensure_collection(self) -> None:
        """Create the collection, or adopt it; rebuild it when the embedding setup changed (text is kept)."""
        dim = None
        if self.embedder is not None:
            dim = len(self._embed(["dimension probe"])[0])
        self._dim = dim
        if self._client.has_collection(self.collection):
            described = self._client.describe_collection(self.collection)
            existing_dim = next((int(f["params"]["dim"]) for f in described["fields"] if f["name"] == "dense"), None)
            existing_model = (described.get("properties") or {}).get(MODEL_PROPERTY) or None
            wanted_model = self.embedder.model if self.embedder is not None else None
            if existing_dim == dim and existing_model == wanted_model:
                self._client.load_collection(self.collection)
                return
            log.warning("memory collection %s was built for embeddings %s/%s, now %s/%s: rebuilding it",
                        self.collection, existing_model, existing_dim, wanted_model, dim)
            self._client.load_collection(self.collection)
            records = [self._record(row) for row in self._scan(["id", "kind", "title", "services", "text"])]
            self._client.drop_collection(self.collection)
            self._create_collection(dim)
            self.upsert(records)
            return
        self._create_collection(dim)

    def _create_collection(self, dim: int | None) -> None:
        from pymilvus import DataType, Function, FunctionType, MilvusClient

        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=256)
        schema.add_field("kind", DataType.VARCHAR, max_length=32)
        schema.add_field("title", DataType.VARCHAR, max_length=4096)
        schema.add_field("services", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=64, max_length=128)
        schema.add_field("text", DataType.VARCHAR, max_length=65535, enable_analyzer=True,
                         analyzer_params=ANALYZER_PARAMS)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(Function(name="text_bm25", function_type=FunctionType.BM25,
                                     input_field_names=["text"], output_field_names=["sparse"]))
        index = self._client.prepare_index_params()
        index.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        properties = {}
        if dim is not None and self.embedder is not None:
            schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
            index.add_index(field_name="dense", index_type="AUTOINDEX", metric_type="COSINE")
            properties[MODEL_PROPERTY] = self.embedder.model
        self._client.create_collection(self.collection, schema=schema, index_params=index,
                                       consistency_level="Strong", properties=properties)
        self._client.load_collection(self.collection)

    def _consolidate(self) -> None:
        """Milvus Lite with embeddings only: rewrite every row so that BM25 scores come from one set of statistics.

        Milvus Lite keeps BM25 statistics (document count, document frequencies, average length) per segment,
        and the unflushed rows form one more "segment" of their own. Each process that opens the directory
        flushes on close, so without this an incident written back after a restart sits alone in a fresh
        segment, where every term has the IDF of a one-document corpus and it ranks far below documents of the
        same relevance. Re-upserting everything at open puts all live rows in the memory table, where later
        writes join them; old segment rows become stale versions that search skips. (Without embeddings, searches
        on Milvus Lite go to the lexical index, which keeps one set of statistics itself.)
        """
        fields = ["id", "kind", "title", "services", "text"] + (["dense"] if self._dim is not None else [])
        rows = list(self._scan(fields))
        with self._write_lock:
            for start in range(0, len(rows), UPSERT_BATCH):
                self._client.upsert(self.collection, rows[start:start + UPSERT_BATCH])

    def _scan(self, fields: list[str]) -> Iterator[dict[str, Any]]:
        iterator = self._client.query_iterator(self.collection, batch_size=SCAN_BATCH, filter="",
                                               output_fields=fields)
        try:
            while True:
                batch = iterator.next()
                if not batch:
                    return
                for row in batch:
                    yield {name: row[name] for name in fields}
        finally:
            iterator.close()

    @staticmethod
    def _record(row: dict[str, Any]) -> MemoryRecord:
        return MemoryRecord(id=row["id"], kind=row["kind"], title=row["title"], services=list(row["services"]),
                            text=row["text"])

    def _embed(self, texts: Sequence[str]) -> list[list[float]]:
        assert self.embedder is not None
        vectors = self.embedder.embed(list(texts))
        if self._dim is not None and any(len(v) != self._dim for v in vectors):
            raise EmbeddingError(f"the embedding model {self.embedder.model} changed dimension "
                                 f"(collection has {self._dim}); reopen the store to rebuild the collection")
        return vectors

    # --- writes ---------------------------------------------------------------------------------------
    def upsert(self, records: Sequence[MemoryRecord]) -> int:
        """Insert or replace records by id (re-indexing a document replaces it). Returns how many were written."""
        written = 0
        for start in range(0, len(records), UPSERT_BATCH):
            batch = list(records[start:start + UPSERT_BATCH])
            rows: list[dict[str, Any]] = [
                {"id": r.id, "kind": r.kind, "title": r.title, "services": list(r.services), "text": r.text}
                for r in batch]
            if self.embedder is not None:
                for row, vector in zip(rows, self._embed([r.text for r in batch]), strict=True):
                    row["dense"] = vector
            with self._write_lock:
                self._client.upsert(self.collection, rows)
                if self._lexical is not None:
                    self._lexical.add(batch)
            written += len(rows)
        return written

    def delete(self, ids: Sequence[str]) -> int:
        """Delete records by id. Returns how many of them existed."""
        if not ids:
            return 0
        with self._write_lock:
            existing = self._client.get(self.collection, ids=list(ids), output_fields=["id"])
            if existing:
                self._client.delete(self.collection, ids=[row["id"] for row in existing])
                if self._lexical is not None:
                    self._lexical.remove([row["id"] for row in existing])
        return len(existing)

    # --- reads ----------------------------------------------------------------------------------------
    def count(self, kind: str | None = None) -> int:
        """How many records the store holds (of one kind, when given)."""
        expr = "" if kind is None else _filter(kinds=[kind], services=None)
        result = self._client.query(self.collection, filter=expr, output_fields=["count(*)"])
        return int(result[0]["count(*)"]) if result else 0

    def count_by_kind(self) -> dict[str, int]:
        """Records per kind, kinds without records left out."""
        counts = {kind: self.count(kind) for kind in MEMORY_KINDS}
        return {kind: n for kind, n in counts.items() if n}

    def get(self, doc_id: str) -> MemoryRecord | None:
        """One record by id."""
        rows = self._client.get(self.collection, ids=[doc_id], output_fields=["id", "kind", "title", "services",
                                                                            "text"])
        return self._record(rows[0]) if rows else None

    def search(self, query: str, top_k: int = 5, kinds: Sequence[str] | None = None,
               services: Sequence[str] | None = None) -> list[Hit]:
        """The records most relevant to a text query, best first.

        BM25 alone, or BM25 fused with dense vector similarity by reciprocal rank when an embedder is configured.
        Scores are BM25 scores (higher is better) or RRF scores (sum of 1/(60 + rank) over the two routes).

        Args:
            query: free text (alert names, services, log lines...).
            top_k: how many hits at most.
            kinds: only these kinds (postmortem, runbook, note, incident).
            services: only records involving at least one of these services.
        """
        if top_k < 1 or not re.search(r"\w", query):
            return []
        expr = _filter(kinds, services)
        if self._lexical is not None and self.embedder is None:
            return [Hit(doc_id=h.doc_id, kind=h.kind, title=h.title, score=h.score, services=h.services)
                    for h in self._lexical.search(query, top_k, kinds, services)]
        if self.embedder is None:
            results = self._client.search(self.collection, data=[query], anns_field="sparse", limit=top_k,
                                          filter=expr, output_fields=OUTPUT_FIELDS,
                                          search_params={"metric_type": "BM25"})
        else:
            from pymilvus import AnnSearchRequest, RRFRanker

            candidates = max(MIN_ROUTE_CANDIDATES, 4 * top_k)
            vector = self._embed([query])[0]
            requests = [
                AnnSearchRequest(data=[query], anns_field="sparse", param={"metric_type": "BM25"},
                                 limit=candidates, expr=expr or None),
                AnnSearchRequest(data=[vector], anns_field="dense", param={"metric_type": "COSINE"},
                                 limit=candidates, expr=expr or None),
            ]
            results = self._client.hybrid_search(self.collection, requests, ranker=RRFRanker(RRF_K), limit=top_k,
                                                 output_fields=OUTPUT_FIELDS)
        hits = []
        for raw in results[0] if results else []:
            entity = raw.get("entity", {})
            # Milvus Lite reports a BM25 match as a negative "distance" (smaller is better); a Milvus server
            # reports the positive score. Both mean the same relevance, so the magnitude is the score.
            hits.append(Hit(doc_id=str(raw["id"]), kind=entity.get("kind", ""), title=entity.get("title", ""),
                            score=abs(float(raw["distance"])), services=list(entity.get("services") or [])))
        return hits


def _filter(kinds: Sequence[str] | None, services: Sequence[str] | None) -> str:
    """A Milvus boolean expression; values are checked first, so nothing from a caller becomes syntax."""
    clauses = []
    if kinds:
        unknown = sorted(set(kinds) - set(MEMORY_KINDS))
        if unknown:
            raise MemoryStoreError(f"unknown kind(s) {unknown}; kinds are {list(MEMORY_KINDS)}")
        clauses.append(f"kind in {json.dumps(sorted(set(kinds)))}")
    if services:
        bad = [s for s in services if not _SAFE_VALUE.match(s)]
        if bad:
            raise MemoryStoreError(f"invalid service name(s) {bad}")
        clauses.append(f"array_contains_any(services, {json.dumps(sorted(set(services)))})")
    return " and ".join(clauses)
