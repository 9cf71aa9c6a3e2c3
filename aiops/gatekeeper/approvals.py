"""Approval events: the signed Approval for a proposal, produced to aiops.approvals.

(Which proposal an approver is shown for an id is aiops/gatekeeper/lookup.py.)

Producers here partition by murmur2 over the key (what Java clients, aiokafka and Faust do), so an
approval lands on the same partition number as its proposal and reaches the same gatekeeper instance.
"""

from __future__ import annotations

import time
from typing import Any

from aiops.core.avro import codec_for
from aiops.core.settings import Settings
from aiops.core.topics import APPROVALS
from aiops.gatekeeper.binding import action_hash
from aiops.gatekeeper.errors import ProduceError
from aiops.gatekeeper.keys import ApproverKey
from aiops.gatekeeper.tokens import sign_approval
from streams.output_records import Proposal


def approval_record(proposal: Proposal, key: ApproverKey, decision: str, *, source: str,
                    comment: str | None, ttl_s: int, now: float | None = None) -> dict[str, Any]:
    """A signed Approval for this proposal: the token binds its id and the hash of its action and parameters."""
    now = time.time() if now is None else now
    token = sign_approval(key.load_private_key(), key.kid, proposal_id=proposal.id,
                          action_hash=action_hash(proposal.action, dict(proposal.parameters)),
                          decision=decision, subject=key.name, ttl_s=ttl_s, now=now)
    return {"proposal_id": proposal.id, "decision": decision, "token": token, "source": source,
            "time": int(now * 1000), "comment": comment}


def produce_approval(settings: Settings, approval: dict[str, Any], timeout_s: float = 15.0) -> tuple[int, int]:
    """Produce an Approval (Avro) keyed by proposal id and wait for the broker's ack; (partition, offset)."""
    from confluent_kafka import Producer

    topic = settings.topic(APPROVALS)
    value = codec_for("Approval", topic, settings).encode(approval)
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "acks": "all",
                         "enable.idempotence": True, "partitioner": "murmur2_random",
                         "message.timeout.ms": int(timeout_s * 1000)})
    outcome: dict[str, Any] = {}

    def delivered(err: Any, msg: Any) -> None:
        outcome["error"], outcome["msg"] = err, msg

    producer.produce(topic, value=value, key=approval["proposal_id"].encode(), on_delivery=delivered)
    producer.flush(timeout_s + 5)
    if outcome.get("error") is not None or "msg" not in outcome:
        raise ProduceError(f"Kafka did not acknowledge the approval on {topic}: {outcome.get('error', 'timeout')}")
    return outcome["msg"].partition(), outcome["msg"].offset()
