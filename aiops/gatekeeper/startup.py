"""Starting the gatekeeper: the topics it needs (and their partition counts), waiting for a broker that cannot be
reached yet (restarting, say) instead of exiting, and quieting the futures a fenced producer leaves behind."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from aiokafka.errors import KafkaError, ProducerFenced
from confluent_kafka import KafkaException

from aiops.core.topics import APPROVALS, DECISIONS, EXECUTIONS, GATEKEEPER_LEDGER, PROPOSALS
from aiops.gatekeeper.errors import GatekeeperError

log = logging.getLogger("gatekeeper")


async def until_kafka_answers(start: Callable[[], Any], stopping: Callable[[], bool]) -> None:
    """A start-up step, retried while the broker cannot be reached: a gatekeeper started during a broker outage
    waits for it instead of exiting."""
    delay = 1.0
    while True:
        try:
            await start()
            return
        except (KafkaError, KafkaException, OSError) as exc:
            if stopping():
                raise
            log.warning("Kafka cannot be reached at start-up (%s); retrying in %.0fs", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


async def check_topics(bootstrap: str, topics: dict[str, str]) -> None:
    """Every topic exists; proposals and approvals have as many partitions as each other, the ledger at least as
    many (GatekeeperError otherwise: a configuration to fix, not a moment to wait out)."""
    counts = {}
    deadline = time.monotonic() + 15
    for name in (PROPOSALS, APPROVALS, GATEKEEPER_LEDGER, DECISIONS, EXECUTIONS):
        parts = await partitions(bootstrap, topics[name])
        while not parts and time.monotonic() < deadline:  # a topic created a moment ago
            await asyncio.sleep(0.2)
            parts = await partitions(bootstrap, topics[name])
        if not parts:
            raise GatekeeperError(f"topic {topics[name]} does not exist; run `aiops topics create`")
        counts[name] = len(parts)
    if counts[PROPOSALS] != counts[APPROVALS]:
        raise GatekeeperError(
            f"{topics[PROPOSALS]} has {counts[PROPOSALS]} partitions and {topics[APPROVALS]} "
            f"{counts[APPROVALS]}: they must be equal so that one instance sees a proposal and its approvals")
    if counts[GATEKEEPER_LEDGER] < counts[PROPOSALS]:
        raise GatekeeperError(f"{topics[GATEKEEPER_LEDGER]} needs at least {counts[PROPOSALS]} partitions "
                              f"(one per proposals partition), has {counts[GATEKEEPER_LEDGER]}")


async def partitions(bootstrap: str, topic: str) -> set[int]:
    """The topic's partition numbers from fresh cluster metadata (empty when it does not exist)."""
    from confluent_kafka.admin import AdminClient

    def lookup() -> set[int]:
        metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=10).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return set()
        return set(metadata.partitions)

    return await asyncio.to_thread(lookup)



def quiet_fenced_futures(loop: asyncio.AbstractEventLoop) -> None:
    """A fenced producer leaves aiokafka-internal futures failed with ProducerFenced that nobody reads: expected
    after a takeover (and handled as Fenced), so they are noted at debug level instead of as unread errors."""
    default = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if isinstance(context.get("exception"), ProducerFenced):
            log.debug("fenced producer: %s", context.get("message"))
        elif default is not None:
            default(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
