"""A gatekeeper under test on unique topics, with a private OPA, a platform-ctl server and test approvers."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from aiops.core.avro import AvroCodec, codec_for
from aiops.core.settings import Settings
from aiops.gatekeeper.binding import action_hash
from aiops.gatekeeper.keys import ApproverKey
from aiops.gatekeeper.tokens import sign_approval
from tests.aiops.gatekeeper.doubles import OpaServer, PlatformCtlServer

# name -> groups. eve's key is never registered in the bundle; mallory is in no approver group.
APPROVERS = {"alice": ["sre"], "bob": ["platform"], "carol": ["sre", "dba"], "mallory": ["marketing"],
             "runbook-reasoner": ["sre"], "eve": ["sre"]}
UNREGISTERED = {"eve"}


def unique(prefix: str = "p") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class TopicReader:
    """Every record of one topic, decoded, collected from the beginning in the background."""

    def __init__(self, bootstrap: str, topic: str, codec: AvroCodec, read_committed: bool = False):
        self.bootstrap, self.topic, self.codec = bootstrap, topic, codec
        self.isolation = "read_committed" if read_committed else "read_uncommitted"
        self.records: list[dict[str, Any]] = []
        self._changed = asyncio.Condition()
        self._task: asyncio.Task | None = None

    async def start(self) -> TopicReader:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False,
                                    isolation_level=self.isolation)
        await consumer.start()
        await consumer.topics()
        parts = consumer.partitions_for_topic(self.topic) or {0}
        tps = [TopicPartition(self.topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)

        async def follow() -> None:
            try:
                while True:
                    batch = await consumer.getmany(timeout_ms=200)
                    if batch:
                        async with self._changed:
                            for records in batch.values():
                                self.records.extend(self.codec.decode(r.value) for r in records)
                            self._changed.notify_all()
            finally:
                await consumer.stop()

        self._task = asyncio.create_task(follow())
        return self

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    def of(self, proposal_id: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r["proposal_id"] == proposal_id]

    async def wait(self, predicate: Callable[[dict[str, Any]], bool], timeout_s: float = 30.0,
                   what: str = "record") -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        async with self._changed:
            while True:
                for record in self.records:
                    if predicate(record):
                        return record
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {what} on {self.topic} within {timeout_s}s; "
                                         f"last records: {self.records[-5:]}")
                try:
                    await asyncio.wait_for(self._changed.wait(), left)
                except TimeoutError:
                    pass


@dataclass
class Harness:
    settings: Settings
    opa: OpaServer
    platform: PlatformCtlServer
    keys: dict[str, ApproverKey]
    producer: AIOKafkaProducer
    decisions: TopicReader
    executions: TopicReader
    codecs: dict[str, AvroCodec] = field(default_factory=dict)

    def codec(self, record: str, topic: str) -> AvroCodec:
        if record not in self.codecs:
            self.codecs[record] = codec_for(record, self.settings.topic(topic), self.settings)
        return self.codecs[record]

    async def propose(self, action: str, parameters: dict[str, Any], *, proposal_id: str | None = None,
                      proposer: str = "runbook-reasoner", requested_by: str | None = None,
                      expires_in_s: float = 900, target: dict[str, str] | None = None) -> dict[str, Any]:
        now = datetime.now(UTC)
        pid = proposal_id or unique()
        proposal = {
            "id": pid, "incident_id": f"inc-{pid}", "action": action, "parameters": parameters,
            "target": target or {"environment": str(parameters.get("environment", "prod")),
                                 "namespace": str(parameters.get("namespace", "shop")),
                                 "service": str(parameters.get("deployment") or parameters.get("service")
                                                or parameters.get("node") or parameters.get("queue") or "x")},
            "risk_class": "state_changing", "blast_radius": 1, "rationale": "test",
            "evidence": [{"kind": "alert", "ref": "fp-1", "summary": "a test alert"}], "confidence": 0.9,
            "proposer": {"kind": "reasoner", "name": proposer, "version": "1", "note": None},
            "requested_by": requested_by, "created_at": now, "expires_at": now + timedelta(seconds=expires_in_s),
            "idempotency_key": f"{pid}:{action}",
        }
        await self.producer.send_and_wait(self.settings.topic("aiops.proposals"),
                                          self.codec("Proposal", "aiops.proposals").encode(proposal),
                                          key=pid.encode())
        return proposal

    def token(self, signer: str, proposal: dict[str, Any], decision: str = "approve", *,
              proposal_id: str | None = None, parameters: dict[str, Any] | None = None, now: float | None = None,
              ttl_s: int = 600, kid: str | None = None) -> str:
        key = self.keys[signer]
        bound = parameters if parameters is not None else proposal["parameters"]
        return sign_approval(
            key.load_private_key(), kid or key.kid, proposal_id=proposal_id or proposal["id"],
            action_hash=action_hash(proposal["action"], bound), decision=decision, subject=signer,
            ttl_s=ttl_s, now=now)

    async def send_approval(self, proposal_id: str, token: str, decision: str = "approve",
                            source: str = "test") -> None:
        record = {"proposal_id": proposal_id, "decision": decision, "token": token, "source": source,
                  "time": int(time.time() * 1000), "comment": None}
        await self.producer.send_and_wait(self.settings.topic("aiops.approvals"),
                                          self.codec("Approval", "aiops.approvals").encode(record),
                                          key=proposal_id.encode())

    async def approve(self, signer: str, proposal: dict[str, Any], **kwargs: Any) -> str:
        token = self.token(signer, proposal, **kwargs)
        await self.send_approval(proposal["id"], token)
        return token

    async def decision(self, proposal_id: str, trigger: str | None = None, *, nth: int = 1,
                       timeout_s: float = 30.0) -> dict[str, Any]:
        """The nth Decision for this proposal (with this trigger)."""
        def match(record: dict[str, Any]) -> bool:
            mine = [r for r in self.decisions.of(proposal_id) if trigger is None or r["trigger"] == trigger]
            return len(mine) >= nth and record is mine[nth - 1]

        return await self.decisions.wait(match, timeout_s, f"decision #{nth} ({trigger}) for {proposal_id}")

    async def execution(self, proposal_id: str, status: str = "succeeded", timeout_s: float = 30.0) -> dict[str, Any]:
        return await self.executions.wait(lambda r: r["proposal_id"] == proposal_id and r["status"] == status,
                                          timeout_s, f"{status} execution of {proposal_id}")

    async def dead_letter(self, topic: str, predicate: Callable[[bytes | None, dict[str, str]], bool],
                          timeout_s: float = 30.0) -> tuple[bytes | None, dict[str, str]]:
        """The first record on `<topic>.dlq` (value, headers as text) that matches, read from the beginning."""
        from aiops.core.deadletter import read_headers

        consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap, enable_auto_commit=False,
                                    max_partition_fetch_bytes=4 * 1024 * 1024)
        await consumer.start()
        try:
            tp = TopicPartition(self.settings.topic(topic) + ".dlq", 0)
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for record in records:
                        headers = read_headers(record.headers)
                        if predicate(record.value, headers):
                            return record.value, headers
        finally:
            await consumer.stop()
        raise AssertionError(f"no matching dead letter on {topic}.dlq within {timeout_s}s")

    def assert_not_executed(self, proposal_id: str) -> None:
        assert self.platform.posts(proposal_id) == [], f"platform-ctl was called for {proposal_id}"
        assert self.executions.of(proposal_id) == [], f"an Execution record exists for {proposal_id}"


def aiops(args: list[str], env: dict[str, str], timeout_s: float = 60) -> subprocess.CompletedProcess:
    """The `aiops` command, run to the end (output captured as text)."""
    return subprocess.run([str(Path(sys.executable).with_name("aiops")), *args], env=env, capture_output=True,
                          text=True, timeout=timeout_s, check=False)


def params(action: str, **overrides: Any) -> dict[str, Any]:
    """Valid catalog parameters for an action on a target of its own (so rate limits never interfere)."""
    subject = unique("svc")
    base: dict[str, dict[str, Any]] = {
        "collect_diagnostics": {"service": subject},
        "get_pod_logs": {"service": subject},
        "restart_deployment": {"deployment": subject},
        "scale_deployment": {"deployment": subject, "replicas": 4},
        "drain_node": {"node": subject},
        "purge_queue": {"queue": subject},
        "toggle_feature_flag": {"service": subject, "flag": "new-checkout", "enabled": False},
    }
    return {"environment": "prod", "namespace": "shop", **base.get(action, {"service": subject}), **overrides}
