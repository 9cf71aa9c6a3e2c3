"""The records the MCP tools read: incidents, proposals and decisions, followed from the beginning of their topics
with the feed's follower (aiops/feed/consumer.py), but kept whole instead of as flat rows."""

from __future__ import annotations

from typing import Any

from aiops.core.settings import Settings
from aiops.core.topics import DECISIONS, INCIDENTS, PROPOSALS
from aiops.feed.consumer import OutputFollower
from aiops.feed.store import FeedStore
from aiops.feed.views import View
from streams.output_records import Decision, Incident, Proposal
from streams.records import CanonicalRecord


def _whole(record: CanonicalRecord) -> dict[str, Any]:
    return record.to_avro()


RECORD_VIEWS: tuple[View[Any], ...] = (
    View("incidents", INCIDENTS, Incident, _whole, "updated_at", version_field="version"),
    View("proposals", PROPOSALS, Proposal, _whole, "created_at"),
    View("decisions", DECISIONS, Decision, _whole, "evaluated_at"),
)


class FollowedRecords:
    """The latest incidents (highest version), proposals and decisions, newest first."""

    def __init__(self, settings: Settings):
        self.store = FeedStore(settings.feed_max_records, RECORD_VIEWS)
        self.follower = OutputFollower(settings, self.store, group_id=settings.topic(f"aiops-mcp-{id(self):x}"))

    async def run(self) -> None:
        await self.follower.run()

    def incidents(self) -> list[dict[str, Any]]:
        return self.store.rows("incidents")

    def proposals(self) -> list[dict[str, Any]]:
        return self.store.rows("proposals")

    def decisions(self) -> list[dict[str, Any]]:
        return self.store.rows("decisions")

    def reading(self) -> str:
        """What has been read, for a not-found answer."""
        read = self.store.records_read
        state = "reading" if self.follower.assigned else "not yet connected to Kafka"
        problem = f"; last broker error: {self.follower.last_error}" if self.follower.last_error else ""
        return (f"{state}: {read['incidents']} incident snapshots, {read['proposals']} proposals, "
                f"{read['decisions']} decisions read so far{problem}")
