"""`aiops bench gate`: gate decisions (the gatekeeper's policy input, asked of the real OPA server) paced at a
rate, with their latency, and the most decisions per second one client gets; the baseline is a bare HTTP
round trip to the same OPA (GET /health) in the same run, so the ratio shows what the policy itself costs.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from aiops.bench.stats import percentile
from aiops.core.settings import Settings
from aiops.gatekeeper.binding import action_hash
from aiops.gatekeeper.policy import PolicyClient
from aiops.gatekeeper.records import policy_input
from streams.output_records import Proposal


@dataclass
class GateResult:
    rate_per_s: float  # the paced rate asked for
    decisions: int
    allowed: int
    decision_p50_ms: float
    decision_p99_ms: float
    max_decisions_per_s: float  # one client, back to back
    baseline_p50_ms: float  # GET /health
    baseline_p99_ms: float

    @property
    def ratio(self) -> float:
        return self.decision_p99_ms / self.baseline_p99_ms if self.baseline_p99_ms else 0.0

    def as_dict(self) -> dict:
        return {**asdict(self), "ratio": round(self.ratio, 2)}


def _proposal(i: int, now: datetime) -> Proposal:
    service = f"svc-{i % 50}"
    parameters = {"environment": "prod", "namespace": "shop", "service": service, "query": "rate(http_errors[5m])",
                  "window_minutes": 30}
    return Proposal.model_validate({
        "id": f"prop-bench-{i:06d}", "incident_id": f"inc-bench-{i // 3:06d}", "action": "query_metrics",
        "parameters": parameters, "risk_class": "read_only",
        "target": {"environment": "prod", "namespace": "shop", "service": service}, "blast_radius": 1,
        "rationale": "benchmark", "evidence": [{"kind": "alert", "ref": f"fp-{i}"}], "confidence": 0.7,
        "proposer": {"kind": "reasoner", "name": "runbook-reasoner", "version": "1"}, "requested_by": None,
        "created_at": now, "expires_at": now + timedelta(hours=1), "idempotency_key": f"bench:{i}"})


def inputs(count: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    found = []
    for i in range(count):
        proposal = _proposal(i, now)
        found.append(policy_input(proposal, action_hash=action_hash(proposal.action, dict(proposal.parameters)),
                                  target=proposal.target.model_dump(), blast_radius=1, approvals=[],
                                  now_ns=time.time_ns(), recent_executions=i % 3))
    return found



async def _run(settings: Settings, rate: float, seconds: float) -> GateResult:
    count = max(10, int(rate * seconds))
    documents = inputs(count)
    client = PolicyClient(settings.opa_url, settings.opa_timeout_s)
    try:
        await client.decide(documents[0])  # warm-up: connection and the policy's first evaluation
        latencies, allowed = [], 0
        started = time.perf_counter()
        for i, document in enumerate(documents):
            due = started + i / rate
            pause = due - time.perf_counter()
            if pause > 0:
                await asyncio.sleep(pause)
            asked = time.perf_counter()
            answer = await client.decide(document)
            latencies.append((time.perf_counter() - asked) * 1000)
            allowed += answer.allow
        burst = documents[: min(len(documents), 500)]
        started = time.perf_counter()
        for document in burst:
            await client.decide(document)
        max_rate = len(burst) / (time.perf_counter() - started)
    finally:
        await client.close()
    baseline = []
    async with aiohttp.ClientSession() as session:
        for _ in range(count):
            asked = time.perf_counter()
            async with session.get(f"{settings.opa_url}/health") as response:
                await response.read()
            baseline.append((time.perf_counter() - asked) * 1000)
    return GateResult(rate, count, allowed, percentile(latencies, 0.5, 3), percentile(latencies, 0.99, 3),
                      round(max_rate, 1), percentile(baseline, 0.5, 3), percentile(baseline, 0.99, 3))


def run(settings: Settings, rate: float = 100.0, seconds: float = 10.0) -> GateResult:
    return asyncio.run(_run(settings, rate, seconds))
