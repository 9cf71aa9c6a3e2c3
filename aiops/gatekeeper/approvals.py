"""Approval events: finding the proposal an approver is asked about, and producing the signed Approval.

Producers here partition by murmur2 over the key (what Java clients, aiokafka and Faust do), so an
approval lands on the same partition number as its proposal and reaches the same gatekeeper instance.
"""

from __future__ import annotations

import time
from typing import Any

from aiops.core.avro import codec_for
from aiops.core.deadletter import DeadLetter, RawMessage, decode_or_letter, skip_undecodable
from aiops.core.settings import Settings
from aiops.core.topics import APPROVALS, PROPOSALS
from aiops.gatekeeper.binding import action_hash
from aiops.gatekeeper.errors import ProduceError, ProposalNotFound
from aiops.gatekeeper.keys import ApproverKey
from aiops.gatekeeper.tokens import sign_approval
from streams.output_records import Proposal


def find_proposal(settings: Settings, proposal_id: str, timeout_s: float = 15.0) -> Proposal:
    """The newest Proposal with this id on aiops.proposals, read from the beginning (ProposalNotFound if none)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

    topic = settings.topic(PROPOSALS)
    codec = codec_for("Proposal", topic, settings)
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": "aiops-approve-lookup",
                         "enable.auto.commit": False, "enable.partition.eof": True})
    deadline = time.monotonic() + timeout_s
    found: Proposal | None = None
    try:
        metadata = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
        if metadata is None or metadata.error is not None or not metadata.partitions:
            raise ProposalNotFound(f"topic {topic} does not exist on {settings.kafka_bootstrap}")
        partitions = [TopicPartition(topic, p, OFFSET_BEGINNING) for p in metadata.partitions]
        pending = set()
        for tp in partitions:
            low, high = consumer.get_watermark_offsets(tp, timeout=timeout_s)
            if high > low:
                pending.add(tp.partition)
        consumer.assign(partitions)
        wanted = proposal_id.encode()
        while pending:
            if time.monotonic() > deadline:
                raise ProposalNotFound(f"timed out after {timeout_s:g}s reading {topic} looking for {proposal_id!r}")
            message = consumer.poll(0.5)
            if message is None:
                continue
            if (error := message.error()) is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    pending.discard(message.partition())
                    continue
                raise ProposalNotFound(f"cannot read {topic}: {error}")
            if message.key() is not None and message.key() != wanted:
                continue
            proposal = decode_or_letter(lambda value: Proposal.from_avro(codec.decode(value)),
                                        RawMessage.of_confluent(message))
            if isinstance(proposal, DeadLetter):
                skip_undecodable(proposal, "approve-lookup")  # the gatekeeper dead-letters it
                continue
            if proposal.id == proposal_id:
                found = proposal
    finally:
        consumer.close()
    if found is None:
        raise ProposalNotFound(f"no proposal with id {proposal_id!r} on {topic}")
    return found


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
