"""One normalize worker for the ingestion integration tests: a real `aiops worker --agent normalize`
subprocess with its own topic prefix, started once; each test tells its records apart by unique markers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from aiops.core.avro import SchemaSet
from aiops.core.paths import PROJECT_ROOT
from aiops.core.settings import Settings
from tests.ingest.kafka_io import TopicReader, produce_batch
from tests.ingest.samples import to_json_bytes
from tests.worker_process import WorkerProcess

# Low limits, so that "too large" inputs stay well below the broker's own message size limit.
# The normalize agents write every line and span to the canonical topics only with AIOPS_CANONICAL_LINES=all.
WORKER_LIMITS = {"AIOPS_INGEST_MAX_MESSAGE_BYTES": "131072", "AIOPS_INGEST_MAX_FIELD_BYTES": "16384",
                 "AIOPS_CANONICAL_LINES": "all"}
SCHEMAS = SchemaSet.load(PROJECT_ROOT / "schemas")


@pytest.fixture(scope="session")
def normalize_worker(settings: Settings, tmp_path_factory) -> Iterator[WorkerProcess]:
    worker = WorkerProcess(settings.kafka_bootstrap, ["normalize"], tmp_path_factory.mktemp("normalize-worker"),
                           env=WORKER_LIMITS).start()
    try:
        # Ready means: a log line produced now comes out normalised.
        probe = f"probe-{uuid.uuid4().hex[:8]}"
        produce_batch(settings.kafka_bootstrap, worker.topic("aiops.logs.raw"),
                      [(None, to_json_bytes({"message": "ready?", "service": probe}))])
        with TopicReader(settings.kafka_bootstrap, worker.topic("aiops.logs")) as reader:
            reader.wait_for(lambda got: any(r.key == probe.encode() for r in got), 90, "the worker to start",
                            diagnostics=worker.logs)
        yield worker
    finally:
        worker.stop()
        _delete_topics(settings, worker.prefix)


def _delete_topics(settings: Settings, prefix: str) -> None:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    topics = [t for t in admin.list_topics(timeout=30).topics if t.startswith(prefix)]
    for future in admin.delete_topics(topics, operation_timeout=30).values() if topics else ():
        try:
            future.result(timeout=30)
        except Exception:  # already gone is fine
            pass
