"""The whole pipeline as processes for the end-to-end and soak benchmarks, and the background load they run under.

Processes (on a fresh topic prefix): the memory service with the handbook, the worker (normalize, correlate,
triage; the condensers as processes of their own, as at volume), `aiops condense logs` and `spans`, and the
Alertmanager bridge. The load produces JSON log lines and OTLP trace requests at fixed rates, stamped now.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka import Producer

from aiops.bench.telemetry import line_templates, trace_requests
from aiops.core.produce import produce_waiting
from aiops.core.settings import Settings
from aiops.core.topics import OTLP_SPANS, RAW_LOGS, create_topics, delete_prefixed_topics
from aiops.demo.local_services import free_port
from aiops.demo.processes import Processes, wait_for_health
from aiops.demo.run import start_memory

EVIDENCE_APP_ID = "aiops-evidence"


@dataclass
class Stack:
    settings: Settings  # with the bench's prefix
    env: dict[str, str]
    processes: Processes
    bridge_url: str
    pids: dict[str, int] = field(default_factory=dict)


@contextmanager
def pipeline(settings: Settings, *, triage: bool = True, extra_env: dict[str, str] | None = None,
             evidence_worker: bool = False) -> Iterator[Stack]:
    """The pipeline as processes; with evidence_worker, the evidence agents run in a worker of their own
    (`aiops worker -a evidence --app-id aiops-evidence`) and the alert path in the other."""
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    bench = Settings(**{**settings.model_dump(exclude={"topic_prefix"}), "topic_prefix": prefix})
    create_topics(bench)
    with tempfile.TemporaryDirectory(dir=settings.state_dir) as tmp:
        workdir = Path(tmp)
        memory_port, bridge_port = free_port(), free_port()
        env = {**os.environ, "AIOPS_TOPIC_PREFIX": prefix, "AIOPS_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
               "AIOPS_DEFAULT_PARTITIONS": str(settings.default_partitions), "AIOPS_STATE_DIR": str(workdir),
               "AIOPS_MEMORY_PORT": str(memory_port),
               "AIOPS_MEMORY_SERVICE_URL": f"http://127.0.0.1:{memory_port}", "AIOPS_CONDENSE_IN_WORKER": "false",
               "AIOPS_CANONICAL_LINES": "off",  # the line-rate mode, whose condensers run as processes here
               "AIOPS_PRODUCER_LINGER_MS": "5",  # and its producer linger (README "Condensing")
               "AIOPS_WORKER_METRICS_PORT": "0", **(extra_env or {})}
        env.pop("AIOPS_MEMORY_URI", None)
        processes = Processes(workdir)
        stack = Stack(bench, env, processes, f"http://127.0.0.1:{bridge_port}")
        try:
            if triage:
                start_memory(processes, env, bench)
                stack.pids["memory"] = processes.children[-1][1].pid
            incidents = ["-a", "incidents"] if evidence_worker else ["-a", "correlate"]
            groups = ["-a", "normalize", *incidents] + (["-a", "triage"] if triage else [])
            stack.pids["worker"] = processes.start("worker", ["worker", *groups, "--loglevel", "warn"], env).pid
            if evidence_worker:
                stack.pids["evidence-worker"] = processes.start("evidence-worker", [
                    "worker", "-a", "evidence", "--app-id", EVIDENCE_APP_ID, "--loglevel", "warn"], env).pid
            for stage in ("logs", "spans"):
                stack.pids[f"condense-{stage}"] = processes.start(f"condense-{stage}", ["condense", stage],
                                                                  env).pid
            stack.pids["bridge"] = processes.start("alertmanager-bridge", [
                "connect", "alertmanager", "--port", str(bridge_port), "--loglevel", "warning"], env).pid
            wait_for_health(processes, [f"{stack.bridge_url}/healthz"])
            yield stack
        finally:
            processes.stop()
            delete_prefixed_topics(settings.kafka_bootstrap, prefix)


class BackgroundLoad:
    """Log lines and spans at fixed rates (per second), in 100 ms slices, stamped with the current time."""

    def __init__(self, settings: Settings, lines_per_s: int, spans_per_s: int) -> None:
        self.settings = settings
        self.lines_per_s = lines_per_s
        self.spans_per_s = spans_per_s
        self.lines_sent = 0
        self.spans_sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-load", daemon=True)
        self.started_at = 0.0

    def __enter__(self) -> BackgroundLoad:
        self.started_at = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        producer = Producer({"bootstrap.servers": self.settings.kafka_bootstrap, "linger.ms": 20,
                             "batch.size": 1_000_000, "queue.buffering.max.messages": 2_000_000})
        lines = line_templates(1000)
        logs_topic, spans_topic = self.settings.topic(RAW_LOGS), self.settings.topic(OTLP_SPANS)
        slice_s = 0.1
        tick = 0
        next_at = time.monotonic()
        requests: list[bytes] = []
        while not self._stop.is_set():
            now = time.time()
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)).encode()
            for i in range(int(self.lines_per_s * slice_s)):
                line = lines[(self.lines_sent + i) % len(lines)].replace(b"@@TS@@", stamp)
                produce_waiting(producer, logs_topic, line)
            self.lines_sent += int(self.lines_per_s * slice_s)
            if self.spans_per_s:
                if tick % 10 == 0:  # a second's requests, made once a second
                    requests = trace_requests(self.spans_per_s, 50, seed=tick, start=now)
                for request in requests[(tick % 10)::10]:
                    produce_waiting(producer, spans_topic, request)
                if tick % 10 == 9:
                    self.spans_sent += self.spans_per_s
            producer.poll(0)
            tick += 1
            next_at += slice_s
            pause = next_at - time.monotonic()
            if pause > 0:
                self._stop.wait(pause)
        producer.flush(30)

    @property
    def achieved(self) -> tuple[float, float]:
        elapsed = max(time.monotonic() - self.started_at, 1e-9)
        return self.lines_sent / elapsed, self.spans_sent / elapsed
