"""Which proposal the gatekeeper considers for an id: what `aiops approve` shows and signs, or refuses to.

The gatekeeper takes the first proposal record keyed by its id on its partition; a later record with the same
id and other content is dead-lettered ("ids are never reused"), an identical one is a replay, and a record
keyed by anything else is dead-lettered. Once it has seen the proposal, its ledger holds it. So the approver
is shown that first record, checked against the ledger, and nothing is signed when the id is ambiguous:
used for different proposals, found on more than one partition, or different from what the ledger holds.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

from aiops.core.avro import codec_for
from aiops.core.errors import SerializationError
from aiops.core.settings import Settings
from aiops.core.topics import GATEKEEPER_LEDGER, PROPOSALS
from aiops.core.watermarks import watermarks
from aiops.gatekeeper.bounds import decode_proposal
from aiops.gatekeeper.errors import ProposalAmbiguous, ProposalNotFound
from aiops.gatekeeper.ledger import ProposalState
from streams.output_records import Proposal


@dataclass(frozen=True)
class Candidate:
    """A proposal record keyed by the id asked for."""

    partition: int
    offset: int
    proposal: Proposal  # within the bounds the gatekeeper applies (bounds.py), as it keeps it


@dataclass(frozen=True)
class Considered:
    """The proposal the gatekeeper considers, and what its ledger says about it (None: not seen yet)."""

    proposal: Proposal
    partition: int
    offset: int
    ledger_status: str | None
    replays: int  # identical copies of the proposal after the first (harmless)


def choose(proposal_id: str, candidates: list[Candidate], ledger_proposal: Proposal | None,
           ledger_status: str | None = None) -> Considered:
    """The first candidate, if the id is unambiguous; ProposalNotFound or ProposalAmbiguous otherwise."""
    if not candidates:
        raise ProposalNotFound(f"no proposal with id {proposal_id!r} (keyed by its id) on the proposals topic")
    partitions = sorted({c.partition for c in candidates})
    if len(partitions) > 1:
        raise ProposalAmbiguous(
            f"proposal id {proposal_id!r} is on partitions {partitions}: gatekeeper instances could consider "
            "different proposals under it; refusing to sign (ask the proposer for a new id)")
    first, *later = sorted(candidates, key=lambda c: c.offset)
    different = [c.offset for c in later if c.proposal != first.proposal]
    if different:
        raise ProposalAmbiguous(
            f"proposal id {proposal_id!r} was used for {len(different) + 1} different proposals (partition "
            f"{first.partition}, offsets {[first.offset, *different]}); the gatekeeper considers only the first "
            "and dead-letters the others, and an approver must not have to tell them apart: refusing to sign")
    if ledger_proposal is not None and ledger_proposal != first.proposal:
        raise ProposalAmbiguous(
            f"the gatekeeper's ledger holds another proposal under id {proposal_id!r} than the proposals topic "
            f"(offset {first.offset}); refusing to sign")
    return Considered(first.proposal, first.partition, first.offset, ledger_status, len(later))


def _has_records(offsets: tuple[int, int]) -> bool:
    low, high = offsets
    return high > low


def _records_keyed(settings: Settings, topic: str, key: bytes, timeout_s: float,
                   partitions: set[int] | None = None) -> Iterator[tuple[int, int, bytes | None]]:
    """(partition, offset, value) of every record with this key, read from the beginning to the current end."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": "aiops-approve-lookup",
                         "enable.auto.commit": False, "enable.partition.eof": True})
    deadline = time.monotonic() + timeout_s
    try:
        metadata = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
        if metadata is None or metadata.error is not None or not metadata.partitions:
            raise ProposalNotFound(f"topic {topic} does not exist on {settings.kafka_bootstrap}")
        wanted = [p for p in metadata.partitions if partitions is None or p in partitions]
        assigned = [TopicPartition(topic, p, OFFSET_BEGINNING) for p in wanted]
        pending = {tp.partition for tp in assigned if _has_records(watermarks(consumer, tp, timeout_s))}
        consumer.assign(assigned)
        while pending:
            if time.monotonic() > deadline:
                raise ProposalNotFound(f"timed out after {timeout_s:g}s reading {topic}")
            message = consumer.poll(0.5)
            if message is None:
                continue
            if (error := message.error()) is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    pending.discard(message.partition())
                    continue
                raise ProposalNotFound(f"cannot read {topic}: {error}")
            if message.key() == key:
                yield message.partition() or 0, message.offset() or 0, message.value()
    finally:
        consumer.close()


def considered_proposal(settings: Settings, proposal_id: str, timeout_s: float = 15.0) -> Considered:
    """The proposal the gatekeeper considers for this id, read from aiops.proposals and its ledger."""
    topic = settings.topic(PROPOSALS)
    codec = codec_for("Proposal", topic, settings)
    key = proposal_id.encode()
    candidates = []
    for partition, offset, value in _records_keyed(settings, topic, key, timeout_s):
        try:
            proposal = decode_proposal(value, codec)
        except SerializationError:
            continue  # the gatekeeper dead-letters it: it is nobody's proposal
        if proposal.id == proposal_id:
            candidates.append(Candidate(partition, offset, proposal))
    ledger_proposal, ledger_status = None, None
    if candidates:
        ledger = settings.topic(GATEKEEPER_LEDGER)
        for _, _, value in _records_keyed(settings, ledger, key, timeout_s, {c.partition for c in candidates}):
            state = ProposalState.from_json(value) if value else None  # the newest entry wins (compacted)
            ledger_proposal = state.proposal if state else None
            ledger_status = state.status if state else None
    return choose(proposal_id, candidates, ledger_proposal, ledger_status)
