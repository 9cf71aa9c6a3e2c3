"""`aiops bench e2e`: alert → proposal latency through the whole pipeline (Alertmanager webhook to the bridge,
normalize, correlate, triage with retrieval from memory, the proposal read back from aiops.proposals), first
with the system idle (the baseline) and then under a background load of log lines and spans, in one run.

Each alert names a service of its own (bench<n>-db, so the orders-db runbook applies), so it opens an incident
of its own and triage proposes for it; its latency runs from just before the webhook is posted to the first
proposal for that incident (the incident id is the correlator's deterministic one).
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import httpx
from confluent_kafka import Consumer

from aiops.bench.errors import BenchError
from aiops.bench.hops import Sent, breakdown
from aiops.bench.stack import BackgroundLoad, Stack, pipeline
from aiops.bench.stats import percentile
from aiops.core.avro import codec_for
from aiops.core.settings import Settings
from aiops.core.topics import PROPOSALS
from streams.correlation.incident import incident_id_for
from streams.records import Alert


@dataclass
class E2eResult:
    alerts: int
    proposals: int
    idle_p50_ms: float
    idle_p99_ms: float
    alert_to_proposal_p50_ms: float
    alert_to_proposal_p99_ms: float
    load_lines_per_s: float
    load_spans_per_s: float
    hops_under_load: dict[str, dict[str, float]] | None = None  # per stage p50/p99 (aiops/bench/hops.py)
    evidence_worker: bool = False  # the evidence agents in a worker of their own

    @property
    def ratio(self) -> float:
        return self.alert_to_proposal_p99_ms / self.idle_p99_ms if self.idle_p99_ms else 0.0

    def as_dict(self) -> dict:
        return {**asdict(self), "ratio": round(self.ratio, 2)}


class ProposalWatcher:
    """Reads aiops.proposals in a thread; when each incident's first proposal arrived (perf_counter)."""

    def __init__(self, settings: Settings) -> None:
        self.codec = codec_for("Proposal", settings.topic(PROPOSALS), settings)
        self.consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"bench-{uuid.uuid4()}",
                                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
        self.consumer.subscribe([settings.topic(PROPOSALS)])
        self.first_seen: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            # poll, not consume(n): consume waits for n records or its timeout, which would add to every reading
            message = self.consumer.poll(0.05)
            if message is not None and message.error() is None and message.value() is not None:
                seen = time.perf_counter()
                incident_id = self.codec.decode(message.value())["incident_id"]
                self.first_seen.setdefault(incident_id, seen)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.consumer.close()


def _post_alerts(stack: Stack, watcher: ProposalWatcher, count: int, tag: str, interval_s: float,
                 timeout_s: float, sent: list[Sent] | None = None) -> list[float]:
    posted: dict[str, float] = {}
    with httpx.Client(timeout=10) as client:
        for i in range(count):
            service = f"bench{tag}{i:02d}-db"
            starts = datetime.now(UTC).replace(microsecond=0)
            fingerprint = uuid.uuid4().hex[:16]
            alert = {"status": "firing", "fingerprint": fingerprint, "startsAt": starts.isoformat().replace(
                "+00:00", "Z"), "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus/graph",
                "labels": {"alertname": "PostgresConnectionsNearLimit", "service": service, "severity": "critical"},
                "annotations": {"summary": f"{service} at 97% of max_connections"}}
            incident_id = incident_id_for(Alert(fingerprint=fingerprint, status="firing", name="x", service=service,
                                                starts_at=starts, source="bench", received_at=starts))
            payload = {"receiver": "aiops", "status": "firing", "alerts": [alert], "groupLabels": {},
                       "commonLabels": alert["labels"], "commonAnnotations": {}, "externalURL": "http://am",
                       "version": "4", "groupKey": f"{{}}:{{alertname=\"{service}\"}}", "truncatedAlerts": 0}
            posted[incident_id] = time.perf_counter()
            if sent is not None:
                sent.append(Sent(fingerprint, incident_id, time.time() * 1000))
            response = client.post(f"{stack.bridge_url}/webhook", json=payload)
            if response.status_code != 200:
                raise BenchError(f"the bridge answered {response.status_code}: {response.text[:200]}")
            stack.processes.check()
            time.sleep(interval_s)
    deadline = time.monotonic() + timeout_s
    while not set(posted) <= set(watcher.first_seen) and time.monotonic() < deadline:
        stack.processes.check()
        time.sleep(0.2)
    return [(watcher.first_seen[i] - at) * 1000 for i, at in posted.items() if i in watcher.first_seen]


def run(settings: Settings, alerts: int = 30, lines_per_s: int = 10_000, spans_per_s: int = 2_000,
        warmup_s: float = 15.0, interval_s: float = 1.0, timeout_s: float = 60.0,
        extra_env: dict[str, str] | None = None, evidence_worker: bool = False) -> E2eResult:
    with pipeline(settings, extra_env=extra_env, evidence_worker=evidence_worker) as stack:
        watcher = ProposalWatcher(stack.settings)
        sent: list[Sent] = []
        try:
            # The first incident also pays for start-up (Faust's join, the first retrieval): not timed.
            _post_alerts(stack, watcher, 1, "w", 0.0, 120.0)
            idle = _post_alerts(stack, watcher, max(5, alerts // 3), "i", interval_s, timeout_s)
            with BackgroundLoad(stack.settings, lines_per_s, spans_per_s) as load:
                time.sleep(warmup_s)
                loaded = _post_alerts(stack, watcher, alerts, "l", interval_s, timeout_s, sent)
                lines, spans = load.achieved
        finally:
            watcher.close()
        hops = breakdown(stack.settings, sent)
    if not loaded:
        raise BenchError("no proposal arrived for any alert under load")
    return E2eResult(alerts=alerts + len(idle), proposals=len(loaded) + len(idle),
                     idle_p50_ms=percentile(idle, 0.5), idle_p99_ms=percentile(idle, 0.99),
                     alert_to_proposal_p50_ms=percentile(loaded, 0.5),
                     alert_to_proposal_p99_ms=percentile(loaded, 0.99), load_lines_per_s=round(lines, 1),
                     load_spans_per_s=round(spans, 1), hops_under_load=hops, evidence_worker=evidence_worker)
