"""`aiops bench memory --docs N`: top-5 retrieval latency from Milvus Lite holding N past incidents, against the
same queries on a small store (the handbook's size) in the same run.

Documents are synthetic incident write-ups over a shop's services, symptoms and actions (the vocabulary the
real ones use), so BM25 sees realistic term statistics; the queries are what triage asks: an incident's alert
names, services and surging log templates.
"""

from __future__ import annotations

import random
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from aiops.bench.stats import percentile
from aiops.bench.telemetry import SERVICES
from aiops.memory.documents import MemoryRecord
from aiops.memory.store import MemoryStore

SYMPTOMS = ["connection pool exhausted", "timeout acquiring connection", "5xx rate above threshold",
            "p99 latency regression", "disk full on data volume", "OOMKilled after deploy", "certificate expired",
            "replication lag growing", "queue consumer lag", "DNS resolution failures", "thread pool saturated",
            "cache stampede after eviction", "migration lock held", "rate limit exceeded upstream"]
ACTIONS = ["restart_deployment", "scale_deployment", "rollback_deployment", "collect_diagnostics", "query_metrics",
           "flush_cache", "failover_database"]
SMALL_STORE = 50


@dataclass
class MemoryResult:
    docs: int
    queries: int
    insert_docs_per_s: float
    top5_p50_ms: float
    top5_p99_ms: float
    baseline_docs: int
    baseline_top5_p50_ms: float
    baseline_top5_p99_ms: float

    @property
    def ratio(self) -> float:
        """p99 at N documents over p99 at the small store's size."""
        return self.top5_p99_ms / self.baseline_top5_p99_ms if self.baseline_top5_p99_ms else 0.0

    def as_dict(self) -> dict:
        return {**asdict(self), "ratio": round(self.ratio, 3)}


def incidents(count: int, seed: int = 5) -> list[MemoryRecord]:
    rng = random.Random(seed)  # noqa: S311 - synthetic documents, reproducible by seed
    records = []
    for i in range(count):
        services = rng.sample(SERVICES, 1 + rng.randrange(3))
        symptom = rng.choice(SYMPTOMS)
        action = rng.choice(ACTIONS)
        text = (f"Incident on {', '.join(services)}: {symptom}. Alerts {services[0].title().replace('-', '')}"
                f"{rng.choice(['HighErrorRate', 'LatencyHigh', 'Down', 'Saturated'])} fired. Root cause "
                f"{rng.choice(services)} ({symptom}); log template '{symptom} after <NUM> ms' surged "
                f"{rng.randrange(5, 500)}x. Resolved by {action} after {rng.randrange(3, 90)} minutes.")
        records.append(MemoryRecord(id=f"inc-bench-{i:07d}", kind="incident", title=f"{symptom} on {services[0]}",
                                    services=services, text=text))
    return records


def _queries(count: int, seed: int = 9) -> list[str]:
    rng = random.Random(seed)  # noqa: S311
    return [f"{rng.choice(SERVICES)} {rng.choice(SYMPTOMS)} {rng.choice(['5xx', 'latency', 'errors', 'timeout'])}"
            for _ in range(count)]


def _latencies(store: MemoryStore, queries: list[str]) -> list[float]:
    store.search(queries[0], top_k=5)  # warm-up: the first search loads the index
    found = []
    for query in queries:
        started = time.perf_counter()
        store.search(query, top_k=5)
        found.append((time.perf_counter() - started) * 1000)
    return found



def run(docs: int, queries: int = 300, work_dir: Path | None = None) -> MemoryResult:
    asked = _queries(queries)
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        with MemoryStore(str(Path(tmp) / "small.db"), collection="bench_small") as small:
            small.upsert(incidents(SMALL_STORE))
            baseline = _latencies(small, asked)
        with MemoryStore(str(Path(tmp) / "large.db"), collection="bench_large") as large:
            started = time.perf_counter()
            large.upsert(incidents(docs))
            insert_s = time.perf_counter() - started
            measured = _latencies(large, asked)
    return MemoryResult(docs, queries, round(docs / insert_s, 1), percentile(measured, 0.5, 2),
                        percentile(measured, 0.99, 2), SMALL_STORE, percentile(baseline, 0.5, 2),
                        percentile(baseline, 0.99, 2))
