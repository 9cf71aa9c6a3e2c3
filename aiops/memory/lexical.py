"""An in-process BM25 index for a Milvus Lite collection: Milvus Lite's analyzer and scoring, vectorised with numpy.

Why it exists: Milvus Lite 3 is pure Python. It scores BM25 per segment with that segment's own statistics, so
the store keeps every row unflushed (one set of statistics, see `MemoryStore`), and Milvus Lite rebuilds the
inverted index of unflushed rows on every search: at 10k documents that rebuild was ~90% of a ~0.5 s search.
Flushing would not help enough either: its search still loops over every row in Python to resolve versions
and deletions (`Collection._search_sparse`; an earlier measurement: 62 ms at 10k flushed rows), and scores would
change with segment boundaries. This index is built once (from the collection when the store
opens) and updated on every write, and a search costs a few numpy operations per query term.

It reproduces Milvus Lite 3.2's `SparseInvertedIndex` exactly, so results do not change: the same analyzer
(`milvus_lite.analyzer`), statistics over the live rows that pass the filter (document count, document
frequency, average length), the same formula evaluated in the same float32 order, and ties in the order Milvus
Lite's dict-based scorer leaves them (first matching query term, then the row's first insertion).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from aiops.memory.documents import MemoryRecord

BM25_K1 = 1.5  # Milvus' defaults (index params bm25_k1 / bm25_b), which the collection does not override
BM25_B = 0.75
_MAX_CHUNKS = 32
_EMPTY_ROWS = np.zeros(0, dtype=np.int32)
_EMPTY_WEIGHTS = np.zeros(0, dtype=np.float32)


class _Column:
    """A numpy array that grows by appends: appends wait in a list, `seal` turns them into a chunk (the slow,
    per-element part, paid once on the write path), and reading joins the chunks (a copy)."""

    def __init__(self, dtype: Any) -> None:
        self._dtype = dtype
        self._chunks: list[np.ndarray] = [np.zeros(0, dtype=dtype)]
        self._pending: list[Any] = []

    def append(self, value: Any) -> None:
        self._pending.append(value)

    def seal(self) -> None:
        if self._pending:
            self._chunks.append(np.asarray(self._pending, dtype=self._dtype))
            self._pending = []
            if len(self._chunks) > _MAX_CHUNKS:  # a small array costs ~100 bytes of its own: keep few of them
                self._chunks = [np.concatenate(self._chunks)]

    def array(self) -> np.ndarray:
        self.seal()
        if len(self._chunks) > 1:
            self._chunks = [np.concatenate(self._chunks)]
        return self._chunks[0]


@dataclass(frozen=True)
class LexicalHit:
    """One result: the record's id, kind, title and services, and its BM25 score."""

    doc_id: str
    kind: str
    title: str
    services: list[str]
    score: float


class LexicalIndex:
    """BM25 over records, kept in step with the collection by the store (add on upsert, remove on delete).

    Rows are append-only: replacing a record adds a row and retires the old one, which keeps the record's place
    in the tie order (as Milvus Lite keeps a replaced primary key's place in its memtable).
    """

    def __init__(self, analyzer_params: dict[str, Any]) -> None:
        from milvus_lite.analyzer import create_analyzer, term_to_id

        self._analyzer = create_analyzer(analyzer_params)
        self._term_to_id = term_to_id
        self._term_ids: dict[str, int] = {}  # token -> Milvus term id; hashing each token is the slow part
        self._lock = threading.Lock()
        self._postings: dict[int, tuple[_Column, _Column]] = {}  # term id -> (rows, term frequencies)
        self._by_service: dict[str, _Column] = {}  # service -> rows naming it
        self._kind_codes: dict[str, int] = {}
        self._row_of: dict[str, int] = {}  # live record id -> its row
        self._order_of: dict[str, int] = {}  # live record id -> when it was first inserted (tie order)
        self._next_order = 0
        self._rows: list[tuple[str, str, str, list[str]]] = []  # row -> (id, kind, title, services)
        self._kind = _Column(np.int16)
        self._length = _Column(np.float64)
        self._order = _Column(np.int64)
        self._alive = _Column(np.bool_)
        # For unfiltered searches, which depend only on the live rows: dropped on every write.
        self._cached_statistics: tuple[int, float] | None = None
        self._cached_postings: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self._row_of)

    def _terms(self, text: str) -> dict[int, float]:
        """Term id -> frequency, first occurrence first: Milvus' analyze + compute_tf."""
        counts: dict[int, float] = {}
        ids = self._term_ids
        for token in self._analyzer.tokenize(text):
            term = ids.get(token)
            if term is None:
                term = ids[token] = self._term_to_id(token)
            counts[term] = counts.get(term, 0.0) + 1.0
        return counts

    # --- writes ---------------------------------------------------------------------------------------
    def add(self, records: Iterable[MemoryRecord]) -> None:
        """Insert records, or replace them by id."""
        analysed = [(record, self._terms(record.text)) for record in records]  # outside the lock: the slow part
        with self._lock:
            self._forget_cached()
            retired = []  # rows replaced by this call (ids repeated within it too: the last one wins, as in Milvus)
            touched_terms: set[int] = set()
            touched_services: set[str] = set()
            for record, terms in analysed:
                old = self._row_of.get(record.id)
                if old is not None:
                    retired.append(old)
                row = len(self._rows)
                self._rows.append((record.id, record.kind, record.title, list(record.services)))
                self._row_of[record.id] = row
                if record.id not in self._order_of:
                    self._order_of[record.id] = self._next_order
                    self._next_order += 1
                self._order.append(self._order_of[record.id])
                self._kind.append(self._kind_codes.setdefault(record.kind, len(self._kind_codes)))
                self._length.append(sum(terms.values()))
                self._alive.append(True)
                for service in set(record.services):
                    self._by_service.setdefault(service, _Column(np.int32)).append(row)
                    touched_services.add(service)
                for term, tf in terms.items():
                    posting = self._postings.get(term)
                    if posting is None:
                        posting = self._postings[term] = (_Column(np.int32), _Column(np.float32))
                    posting[0].append(row)
                    posting[1].append(tf)
                    touched_terms.add(term)
            for column in [self._kind, self._length, self._order, self._alive]:
                column.seal()
            if retired:
                self._alive.array()[retired] = False
            for service in touched_services:
                self._by_service[service].seal()
            for term in touched_terms:
                for column in self._postings[term]:
                    column.seal()

    def remove(self, ids: Iterable[str]) -> None:
        """Forget records by id (unknown ids are ignored); a record added again later goes last in tie order."""
        with self._lock:
            self._forget_cached()
            alive = self._alive.array()
            for doc_id in ids:
                row = self._row_of.pop(doc_id, None)
                if row is not None:
                    alive[row] = False
                    del self._order_of[doc_id]

    def _forget_cached(self) -> None:
        self._cached_statistics = None
        self._cached_postings.clear()

    # --- reads ----------------------------------------------------------------------------------------
    def search(self, query: str, top_k: int, kinds: Sequence[str] | None = None,
               services: Sequence[str] | None = None) -> list[LexicalHit]:
        """The top_k live records by BM25, best first, among those of `kinds` naming any of `services`."""
        query_terms = self._terms(query)
        if top_k < 1 or not query_terms:
            return []
        with self._lock:
            valid = self._valid(kinds, services) if kinds or services else None
            count, avgdl = self._statistics(valid)
            if count == 0:
                return []
            scores = np.zeros(len(self._rows), dtype=np.float32)
            matched_by_term = []
            for term, weight in query_terms.items():
                rows, tf_norm = self._posting(term, valid, avgdl)
                matched_by_term.append(rows)
                if len(rows):
                    idf = math.log((count - len(rows) + 0.5) / (len(rows) + 0.5) + 1.0)
                    scores[rows] += (np.float32(idf) * tf_norm) * np.float32(weight)
            hits = []
            for row in self._top(scores, matched_by_term, top_k):
                doc_id, kind, title, services = self._rows[row]
                hits.append(LexicalHit(doc_id, kind, title, list(services), float(scores[row])))
            return hits

    def _valid(self, kinds: Sequence[str] | None, services: Sequence[str] | None) -> np.ndarray:
        valid = self._alive.array().copy()
        if kinds:
            codes = [self._kind_codes[k] for k in kinds if k in self._kind_codes]
            valid &= np.isin(self._kind.array(), codes)
        if services:
            named = np.zeros(len(valid), dtype=np.bool_)
            for service in services:
                column = self._by_service.get(service)
                if column is not None:
                    named[column.array()] = True
            valid &= named
        return valid

    def _statistics(self, valid: np.ndarray | None) -> tuple[int, float]:
        """How many rows take part, and their average length (1.0 when there is none, as in Milvus Lite)."""
        if valid is None:
            if self._cached_statistics is None:
                self._cached_statistics = self._statistics(self._alive.array())
            return self._cached_statistics
        count = int(np.count_nonzero(valid))
        return count, (float(self._length.array()[valid].sum()) / count if count else 0.0) or 1.0

    def _posting(self, term: int, valid: np.ndarray | None, avgdl: float) -> tuple[np.ndarray, np.ndarray]:
        """The term's rows among `valid` (live rows when None) and their BM25 term weights, cached for live rows.

        The arithmetic mirrors Milvus Lite's scalar loop, where a Python float meeting a numpy float32 is cast
        to float32 first (NEP 50): the same operations in the same order give the same float32 scores.
        """
        if valid is None and term in self._cached_postings:
            return self._cached_postings[term]
        posting = self._postings.get(term)
        if posting is None:
            return _EMPTY_ROWS, _EMPTY_WEIGHTS
        rows, tf = posting[0].array(), posting[1].array()
        keep = (self._alive.array() if valid is None else valid)[rows]
        if not keep.all():
            rows, tf = rows[keep], tf[keep]
        k1, b = BM25_K1, BM25_B
        lengths = self._length.array()[rows].astype(np.float32)
        norm = np.float32(k1) * (np.float32(1.0 - b) + np.float32(b) * lengths / np.float32(avgdl))
        tf_norm = (tf.astype(np.float64) * (k1 + 1.0)).astype(np.float32) / (tf + norm)
        if valid is None:
            self._cached_postings[term] = (rows, tf_norm)
        return rows, tf_norm

    def _top(self, scores: np.ndarray, matched_by_term: list[np.ndarray], top_k: int) -> np.ndarray:
        """Rows by score descending; ties as Milvus Lite leaves them: first matching query term, first insertion."""
        matched = np.flatnonzero(scores)  # every matched row scores > 0: idf > 0 and tf > 0
        if len(matched) > top_k:
            kth = np.partition(scores[matched], len(matched) - top_k)[len(matched) - top_k]
            matched = matched[scores[matched] >= kth]  # every row tied with the k-th stays in the running
        first_term = np.full(len(matched), len(matched_by_term), dtype=np.int32)
        for index in reversed(range(len(matched_by_term))):  # posting rows ascend, so binary search finds them
            rows = matched_by_term[index]
            if len(rows):
                at = np.minimum(np.searchsorted(rows, matched), len(rows) - 1)
                first_term[rows[at] == matched] = index
        order = np.lexsort((self._order.array()[matched], first_term, -scores[matched]))
        return matched[order[:top_k]]
