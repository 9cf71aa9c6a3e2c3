"""The console's parts without a broker: gate states, what the browser signs, the change stream, read access."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest

from aiops.console.access import CONTENT_SECURITY_POLICY, _matches
from aiops.console.handbook import Handbook, render_markdown
from aiops.console.live import LiveStore
from aiops.console.queries import ConsoleQueries, gate_state
from aiops.console.records import CONSOLE_VIEWS, plain, whole_record
from aiops.core.catalog import ActionCatalog
from aiops.core.paths import PROJECT_ROOT
from aiops.gatekeeper.binding import action_hash
from streams.output_records import Incident
from tests import samples

VIEW = {view.endpoint: view for view in CONSOLE_VIEWS}
NOW = samples.T0 + timedelta(minutes=10)


def stored(store: LiveStore, view: str, record: dict) -> None:
    store.add(VIEW[view], VIEW[view].record.from_avro(record))


def test_plain_keeps_the_whole_record_as_json():
    row = whole_record(Incident.from_avro(samples.incident()))
    assert row["root_cause"]["candidates"][1] == {"service": "orders-api", "score": 0.4, "reason": "caller",
                                                  "evidence": []}
    assert row["updated_at"] == "2026-11-26T10:03:00.000Z"
    assert row["alerts"][0]["ends_at"] is None
    assert plain(float("nan")) is None
    json.dumps(row)  # nothing left that JSON cannot carry


def decision(**changes) -> dict:
    record = plain(samples.decision())
    record.update(changes)
    return record


def execution(**changes) -> dict:
    record = plain(samples.execution())
    record.update(changes)
    return record


@pytest.mark.parametrize(("decisions", "executions", "label", "actionable"), [
    ([], [], "pending", True),
    ([decision(approvals_considered=[])], [], "needs approval", True),
    ([decision(allow=True, reasons=[])], [], "allowed", False),
    ([decision(reasons=["approval 0: bob rejected this action"],
               approvals_considered=[{"decision": "reject", "source": "cli", "approver": "bob-1", "counted": True,
                                      "reason": "valid rejection (veto)"}])], [], "rejected", True),
    ([decision(reasons=["change freeze in prod"])], [], "denied", True),
    ([decision(allow=True, reasons=[])], [execution(status="started")], "executing", False),
    ([decision(allow=True, reasons=[])], [execution()], "executed", False),
    ([decision(allow=True, reasons=[])], [execution(status="failed", error="boom")], "failed", False),
])
def test_gate_state_follows_the_newest_decision_and_execution(decisions, executions, label, actionable):
    state = gate_state(plain(samples.proposal()), decisions, executions, NOW)
    assert (state.label, state.actionable) == (label, actionable)


def test_an_expired_proposal_cannot_be_decided_any_more():
    state = gate_state(plain(samples.proposal()), [decision()], [], samples.T0 + timedelta(hours=2))
    assert state.label == "expired" and not state.actionable


def test_the_signing_request_carries_the_canonical_action_the_gatekeeper_hashes():
    store = LiveStore(10)
    proposal = samples.proposal()  # parameters with an int, a bool, a float and a null
    stored(store, "proposals", proposal)
    view = ConsoleQueries(store, None).proposal("prop-1", now=NOW)
    request = view.signing_request(token_ttl_s=600)
    # The browser hashes this very text; it must be what the gatekeeper hashes (aiops/gatekeeper/binding.py).
    assert hashlib.sha256(request["canonical_action"].encode("ascii")).hexdigest() == request["action_hash"]
    assert request["action_hash"] == action_hash(proposal["action"], proposal["parameters"])
    assert '"ratio":0.5' in request["canonical_action"] and '"replicas":3' in request["canonical_action"]
    assert request["token_ttl_s"] == 600 and request["proposal_id"] == "prop-1"


def test_the_catalog_decides_risk_class_and_blast_radius_not_the_proposal():
    store = LiveStore(10)
    proposal = samples.proposal()
    proposal.update(risk_class="read_only", blast_radius=0,
                    parameters={"environment": "prod", "namespace": "shop", "deployment": "orders-api"})
    stored(store, "proposals", proposal)
    view = ConsoleQueries(store, ActionCatalog.load(PROJECT_ROOT / "actions" / "catalog.yaml")).proposal("prop-1")
    assert view.risk_class == "state_changing"
    assert "claims read_only" in view.catalog_problem
    assert view.blast_radius >= 1 and view.description


def test_an_incidents_proposals_list_the_ones_to_decide_first():
    store = LiveStore(10)
    waiting = {**samples.proposal(), "id": "p-waiting", "created_at": samples.T0}
    done = {**samples.proposal(), "id": "p-done", "created_at": samples.T0 + timedelta(minutes=1)}
    stored(store, "proposals", waiting)
    stored(store, "proposals", done)
    stored(store, "decisions", {**samples.decision(), "id": "d1", "proposal_id": "p-waiting"})
    stored(store, "executions", {**samples.execution(), "id": "e1", "proposal_id": "p-done"})
    queries = ConsoleQueries(store, None)
    assert [v.id for v in queries.incident_proposals("inc-7d1f", now=NOW)] == ["p-waiting", "p-done"]
    assert queries.waiting_counts(now=NOW) == {"inc-7d1f": (2, 1)}


def test_a_proposal_id_used_twice_keeps_the_first_and_cannot_be_signed():
    store = LiveStore(10)
    stored(store, "proposals", samples.proposal())
    stored(store, "proposals", samples.proposal())  # the same proposal again: a replay, nothing changes
    queries = ConsoleQueries(store, None)
    assert queries.proposal("prop-1", now=NOW).state.actionable and store.reused_ids == {}
    seq = store.seq
    stored(store, "proposals", {**samples.proposal(), "action": "delete_namespace", "rationale": "trust me"})
    view = queries.proposal("prop-1", now=NOW)
    assert view.proposal["action"] == "restart_deployment"  # the first one, as the gatekeeper considers it
    assert view.state.label == "ambiguous id" and not view.state.actionable
    assert store.seq == seq + 1  # pages are told, so the buttons go away


async def test_changes_are_numbered_and_replayed_from_where_a_page_stopped():
    store = LiveStore(10, subscription_capacity=3)
    stored(store, "incidents", samples.incident())
    stored(store, "incidents", {**samples.incident(), "version": 1})  # older: not kept, not announced
    assert store.seq == 1
    stored(store, "decisions", samples.decision())
    stored(store, "executions", samples.execution())
    with store.subscribe(since=1) as subscription:
        first = await asyncio.wait_for(subscription.queue.get(), 1)
        second = await asyncio.wait_for(subscription.queue.get(), 1)
    assert (first.seq, first.view, first.summary) == (2, "decisions", {"id": "dec-1", "proposal_id": "prop-1",
                                                                        "allow": False})
    assert second.event().startswith(b"id: 3\nevent: execution\ndata: {")
    # More than the window keeps: the page is told to reload instead of silently missing records.
    for n in range(4):
        stored(store, "decisions", {**samples.decision(), "id": f"more-{n}"})
    with store.subscribe(since=1) as subscription:
        assert subscription.overflowed and subscription.queue.get_nowait() is None


async def test_a_page_that_falls_behind_is_told_to_reload():
    store = LiveStore(10, subscription_capacity=2)
    with store.subscribe() as subscription:
        for n in range(5):
            stored(store, "decisions", {**samples.decision(), "id": f"d-{n}"})
        items = [subscription.queue.get_nowait() for _ in range(subscription.queue.qsize())]
    assert [item.seq if item else None for item in items] == [1, 2, None]


def test_read_token_comparison_and_headers():
    assert _matches("s3cret", "s3cret") and not _matches("s3cre", "s3cret") and not _matches(None, "s3cret")
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY and "'unsafe-inline'" not in CONTENT_SECURITY_POLICY


def test_handbook_markdown_never_lets_markup_through():
    html = render_markdown("# Title\n\n<script>alert(1)</script> and [x](javascript:alert(1)) `code`")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="javascript:' not in html
    assert "<h1>Title</h1>" in html and "<code>code</code>" in html


def test_the_handbook_is_read_once_and_a_broken_one_is_empty(tmp_path):
    handbook = Handbook(PROJECT_ROOT / "handbook")
    assert "rb-orders-db-connection-exhaustion" in handbook
    assert handbook.get("pm-2025-09-orders-db-migration-lock-connection-exhaustion").kind == "postmortem"
    (tmp_path / "bad.md").write_text("no front matter")
    broken = Handbook(tmp_path)
    assert broken.get("bad") is None and "no YAML front matter" in broken.problem


def test_times_render_in_utc():
    from aiops.console.rendering import clock, stamp

    today = datetime.now(UTC).replace(hour=9, minute=5, second=7, microsecond=0)
    assert clock(today.isoformat().replace("+00:00", "Z")) == "09:05:07"
    assert clock("2020-01-02T03:04:05.000Z") == "2020-01-02 03:04:05"
    assert stamp(None) == "-" and clock("garbage") == "-"
