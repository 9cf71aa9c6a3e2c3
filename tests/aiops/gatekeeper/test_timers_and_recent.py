"""The gatekeeper's helpers without a broker: timers fire in due order, the recent-executions index counts the
last hour per (action, target)."""

from __future__ import annotations

from aiops.gatekeeper.recent import HOUR_MS, RecentExecutions
from aiops.gatekeeper.timers import Timers

TARGET = {"environment": "prod", "namespace": "shop", "service": "orders-api"}


def test_timers_fire_earliest_first_and_in_the_order_set_when_due_together():
    timers = Timers()
    timers.schedule(200, "p2", "expiry")
    timers.schedule(100, "p1", "retry")
    timers.schedule(100, "p3", "reconcile")
    assert timers.next_due_ms() == 100
    assert timers.pop_due(99) is None
    fired = [timers.pop_due(150), timers.pop_due(150), timers.pop_due(150)]
    assert [(t.proposal_id, t.kind) for t in fired if t] == [("p1", "retry"), ("p3", "reconcile")]
    assert len(timers) == 1
    timers.clear()
    assert timers.next_due_ms() is None and len(timers) == 0


def test_recent_executions_count_the_last_hour_per_action_and_target():
    recent = RecentExecutions()
    now = 10 * HOUR_MS
    recent.add("restart_deployment", TARGET, "p1", now - HOUR_MS - 1)  # older than an hour
    recent.add("restart_deployment", TARGET, "p2", now - 1000)
    recent.add("restart_deployment", TARGET, "p2", now - 10)  # the same proposal again: counted once
    recent.add("restart_deployment", {**TARGET, "service": "checkout-api"}, "p3", now)
    recent.add("scale_deployment", TARGET, "p4", now)
    assert recent.count("restart_deployment", TARGET, now) == 1
    assert recent.count("restart_deployment", TARGET, now, exclude="p2") == 0
    assert recent.count("restart_deployment", {**TARGET, "service": "checkout-api"}, now) == 1
