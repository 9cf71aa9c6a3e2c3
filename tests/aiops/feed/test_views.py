"""The feed's rows and memory, without a broker: flattening, newest first, highest version, bad records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aiops.core.avro import codec_for
from aiops.core.settings import Settings
from aiops.feed.consumer import OutputFollower
from aiops.feed.store import FeedStore, LatestRecords
from aiops.feed.views import VIEWS, decision_row, incident_row, proposal_row, rfc3339
from streams.output_records import Decision, Execution, Incident, Proposal
from tests import samples

VIEW = {view.endpoint: view for view in VIEWS}


def test_rfc3339_is_utc_with_milliseconds():
    assert rfc3339(datetime(2026, 11, 26, 10, 0, 0, 5000, tzinfo=UTC)) == "2026-11-26T10:00:00.005Z"
    assert rfc3339(datetime(2026, 11, 26, 10, 0)) == "2026-11-26T10:00:00.000Z"  # naive means UTC
    assert rfc3339(None) is None


def test_incident_row_is_flat():
    row = incident_row(Incident.from_avro(samples.incident()))
    assert row["root_cause_service"] == "orders-db"
    assert row["services"] == "orders-db, orders-api, web-frontend"
    assert row["alerts"] == "PostgresConnectionsNearLimit (orders-db, firing)"
    assert row["alert_count"] == 1 and row["alerts_firing"] == 1
    assert row["updated_at"] == "2026-11-26T10:03:00.000Z"
    assert all(not isinstance(value, list | dict) for value in row.values())


def test_proposal_and_decision_rows():
    proposal = proposal_row(Proposal.from_avro(samples.proposal()))
    assert proposal["target"] == "prod/shop/orders-api"
    assert proposal["proposer"] == "reasoner: runbook-reasoner 1"
    decision = decision_row(Decision.from_avro(samples.decision()))
    assert decision["outcome"] == "deny" and decision["allow"] is False
    assert decision["reasons"] == "state_changing action needs 1 approval, has 0"
    assert decision["approvals_considered"] == 1 and decision["approvals_counted"] == 0
    allowed = decision_row(Decision.from_avro({**samples.decision(), "allow": True, "latency_ms": float("nan")}))
    assert allowed["outcome"] == "allow" and allowed["latency_ms"] is None


def test_incidents_keep_the_highest_version():
    store = FeedStore(capacity=10)
    statuses = {1: "open", 2: "updated", 3: "resolved"}
    for version in (1, 3, 2):
        store.add(VIEW["incidents"], Incident.from_avro({**samples.incident(), "version": version,
                                                         "status": statuses[version]}))
    rows = store.rows("incidents")
    assert [(r["version"], r["status"]) for r in rows] == [(3, "resolved")]
    assert store.stale_versions["incidents"] == 1


def test_newest_first_and_bounded():
    latest = LatestRecords(capacity=5)
    t0 = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    for i in range(100):
        latest.add(f"id-{i}", {"i": i}, t0 + (i * 7919) % 100, i)  # arrival order is not time order
    newest = latest.newest_first()
    assert len(newest) == 5
    times = [(i * 7919) % 100 for i in (row["i"] for row in newest)]
    assert times == sorted(times, reverse=True) and times[0] == 99
    assert len(latest) <= 5 + 16
    assert latest.newest_first(2) == newest[:2]


def test_same_id_again_replaces_instead_of_duplicating():
    store = FeedStore(capacity=10)
    execution = samples.execution()
    store.add(VIEW["executions"], Execution.from_avro({**execution, "status": "started"}))
    store.add(VIEW["executions"], Execution.from_avro({**execution, "status": "succeeded"}))
    assert [r["status"] for r in store.rows("executions")] == ["succeeded"]


@pytest.fixture
def follower() -> OutputFollower:
    return OutputFollower(Settings(topic_prefix="unit."), FeedStore(capacity=10))


def test_bad_records_are_counted_and_skipped(follower: OutputFollower):
    settings = follower.settings
    good = codec_for("Proposal", settings.topic("aiops.proposals"), settings).encode(samples.proposal())
    wrong_schema = codec_for("Decision", settings.topic("aiops.decisions"), settings).encode(samples.decision())
    for value in (b"not avro", b"", wrong_schema, good[:-3], good):
        follower.handle("unit.aiops.proposals", b"prop-1", value)
    assert follower.store.decode_errors["proposals"] == 4
    assert follower.store.records_read["proposals"] == 5
    assert [r["id"] for r in follower.store.rows("proposals")] == ["prop-1"]


def test_a_tombstone_removes_the_incident(follower: OutputFollower):
    settings = follower.settings
    codec = codec_for("Incident", settings.topic("aiops.incidents"), settings)
    follower.handle("unit.aiops.incidents", b"inc-7d1f", codec.encode(samples.incident()))
    later = {**samples.incident(), "id": "inc-other", "updated_at": samples.T0 + timedelta(hours=1)}
    follower.handle("unit.aiops.incidents", b"inc-other", codec.encode(later))
    assert [r["id"] for r in follower.store.rows("incidents")] == ["inc-other", "inc-7d1f"]
    follower.handle("unit.aiops.incidents", b"inc-7d1f", None)
    assert [r["id"] for r in follower.store.rows("incidents")] == ["inc-other"]
    assert follower.store.decode_errors["incidents"] == 0
