"""The feed's store with listeners: every record kept is announced to the open pages (server-sent events)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from aiops.console.records import CONSOLE_VIEWS
from aiops.feed.store import FeedStore
from aiops.feed.views import Row, View

# What a page needs to decide whether to fetch a fragment: never the record itself (pages ask for that).
_SUMMARY_FIELDS = {
    "incidents": ("id", "version", "status"),
    "proposals": ("id", "incident_id"),
    "decisions": ("id", "proposal_id", "allow"),
    "executions": ("id", "proposal_id", "status"),
    "outcomes": ("id", "proposal_id", "verdict"),
}
EVENT_NAME = {"incidents": "incident", "proposals": "proposal", "decisions": "decision", "executions": "execution",
              "outcomes": "outcome"}


@dataclass(frozen=True)
class Change:
    """One record kept (or an incident removed by a tombstone), as a server-sent event numbered by `seq`."""

    seq: int
    view: str
    summary: dict[str, Any]
    removed: bool = False

    def event(self) -> bytes:
        name = EVENT_NAME[self.view] + ("-removed" if self.removed else "")
        data = json.dumps(self.summary, separators=(",", ":"))
        return f"id: {self.seq}\nevent: {name}\ndata: {data}\n\n".encode()


class Subscription:
    """One page's queue of changes. Bounded: a page that cannot keep up is told to reload, not buffered forever."""

    def __init__(self, capacity: int):
        self.queue: asyncio.Queue[Change | None] = asyncio.Queue(capacity + 1)
        self.capacity = capacity
        self.overflowed = False
        self.closed = False

    def offer(self, change: Change) -> None:
        if self.overflowed or self.closed:
            return
        if self.queue.qsize() >= self.capacity:
            self.overflowed = True
            self.queue.put_nowait(None)  # the one slot kept free for this
            return
        self.queue.put_nowait(change)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            with contextlib.suppress(asyncio.QueueFull):
                self.queue.put_nowait(None)


class LiveStore(FeedStore):
    """The latest records of the output topics, whole, with subscribers told of every change.

    Changes are numbered; a page rendered at change N subscribes from N (or, reconnecting, from the Last-Event-ID
    its browser sends), and gets what it missed replayed from a bounded window of recent changes.
    """

    def __init__(self, capacity: int, subscription_capacity: int = 1000):
        super().__init__(capacity, CONSOLE_VIEWS)
        self.subscription_capacity = subscription_capacity
        self._subscriptions: set[Subscription] = set()
        self._recent: deque[Change] = deque(maxlen=subscription_capacity)
        self.seq = 0  # the number of the latest change
        self.reused_ids: dict[str, int] = {}  # proposal id -> how many different proposals carried it

    def add(self, view: View[Any], record: Any) -> Row | None:
        if view.endpoint == "proposals":
            kept = self.row("proposals", record.id)
            if kept is not None:
                # Like the gatekeeper: the first proposal under an id is the one; a repeat changes nothing, and
                # another proposal under the same id makes the id ambiguous (nothing may be signed for it).
                if kept != view.to_row(record):
                    self.reused_ids[record.id] = self.reused_ids.get(record.id, 1) + 1
                    self._publish(view.endpoint, {"id": kept["id"], "incident_id": kept["incident_id"]})
                return None
        row = super().add(view, record)
        if row is not None:
            self._publish(view.endpoint, {k: row.get(k) for k in _SUMMARY_FIELDS[view.endpoint]})
        return row

    def remove(self, view: View[Any], record_id: str) -> None:
        super().remove(view, record_id)
        self._publish(view.endpoint, {"id": record_id}, removed=True)

    def _publish(self, view: str, summary: dict[str, Any], removed: bool = False) -> None:
        self.seq += 1
        change = Change(self.seq, view, summary, removed)
        self._recent.append(change)
        for subscription in list(self._subscriptions):
            subscription.offer(change)

    @contextlib.contextmanager
    def subscribe(self, since: int | None = None) -> Iterator[Subscription]:
        """A queue of the changes after `since` (None: from now on)."""
        subscription = Subscription(self.subscription_capacity)
        if since is not None and since < self.seq:
            if self._recent and self._recent[0].seq > since + 1:
                subscription.overflowed = True  # what was missed is gone from the window: the page must reload
                subscription.queue.put_nowait(None)
            else:
                for change in self._recent:
                    if change.seq > since:
                        subscription.offer(change)
        self._subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            self._subscriptions.discard(subscription)

    def close_subscriptions(self) -> None:
        """End every open event stream (the server is stopping)."""
        for subscription in list(self._subscriptions):
            subscription.close()
