"""A fenced transactional producer surfaces as `Fenced`, never as aiokafka's bare state-machine AssertionError."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import ProducerFenced
from aiokafka.producer.transaction_manager import TransactionState

from aiops.gatekeeper.errors import Fenced
from aiops.gatekeeper.writers import PartitionWriters, _Writer


@pytest.mark.parametrize("step", ["send", "commit", "abort"])
async def test_a_producer_that_went_fatal_on_fencing_reports_fenced(step):
    writers = PartitionWriters("127.0.0.1:1", "g", max_record_bytes=1000, dead_letter_copy_bytes=100)
    producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:1", transactional_id="g-p0")
    writer = _Writer(producer)
    writer.in_transaction = True
    writers._writers[0] = writer
    # A transaction is open, then aiokafka's sender hears PRODUCER_FENCED from the broker.
    manager = producer._txn_manager
    manager._transition_to(TransactionState.READY)
    manager.begin_transaction()
    manager.fatal_error(ProducerFenced())
    try:
        with pytest.raises(Fenced):
            async with asyncio.timeout(10):  # a fatal producer's commit never returns: that is a failure too
                if step == "send":
                    await writers.send(0, "t", b"k", b"v")
                elif step == "commit":
                    await writers.commit(0)
                else:
                    await writers.abort(0)
    finally:
        await producer.stop()
