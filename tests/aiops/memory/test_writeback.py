"""Memory that grows: a resolved incident written back is retrieved by the next similar incident."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiops.memory.documents import HandbookDocument
from aiops.memory.enrich import similar_for_incident
from aiops.memory.store import MemoryStore
from aiops.memory.writeback import incident_record, write_back
from tests.aiops.memory.incidents import incident
from tests.aiops.memory.test_retrieval import as_on_the_topic

ACTIONS = [
    {"action": "get_pod_logs", "parameters": {"service": "notification-worker", "namespace": "shop",
                                              "since_minutes": 30}, "status": "succeeded"},
    {"action": "toggle_feature_flag", "parameters": {"flag": "notifications.bulk_resend", "enabled": False},
     "status": "succeeded"},
    {"action": "restart_deployment", "parameters": {"namespace": "shop", "deployment": "notification-worker"},
     "status": "denied"},
]


def smtp_incident(incident_id: str, *, status: str, waited: str) -> dict[str, Any]:
    """A failure the handbook does not describe: the mail relay throttles the notification worker."""
    return as_on_the_topic(incident(
        incident_id, status=status, services=["notification-worker", "orders-api"], root="notification-worker",
        alerts=[("SmtpRelayDeferralsHigh", "notification-worker"), ("OrderConfirmationEmailsDelayed", "orders-api")],
        templates=[
            ("notification-worker", "smtp relay mx.shop-mail.example deferred message: 421 4.7.0 Try again later, "
                                    "closing connection"),
            ("notification-worker", f"bulk resend of order confirmations throttled, waited {waited} for a relay slot"),
        ],
        spans=[{"trace_id": "ab" * 16, "span_id": "cd" * 8, "service": "notification-worker",
                "operation": "smtp.send", "kind": "error", "duration_ms": 30000.0, "baseline_ms": 120.0,
                "message": "421 4.7.0 rate limited by relay"}],
    ))


def test_the_record_of_a_resolved_incident() -> None:
    resolved = smtp_incident("inc-0000000000000a11", status="resolved", waited="<DURATION>")
    record = incident_record(resolved, ACTIONS)
    assert (record.id, record.kind) == ("inc-0000000000000a11", "incident")
    assert record.services == ["notification-worker", "orders-api"] and record.title == resolved["title"]
    text = record.text
    assert "root cause: notification-worker" in text and "reason: first to alert" in text
    assert "alert SmtpRelayDeferralsHigh Smtp Relay Deferrals High on notification-worker" in text
    assert "waited for a relay slot" in text and "<DURATION>" not in text
    assert "notification-worker: smtp.send error 421 4.7.0 rate limited by relay" in text
    assert "action toggle_feature_flag flag=notifications.bulk_resend enabled=False -> succeeded" in text
    assert "action restart_deployment namespace=shop deployment=notification-worker -> denied" in text


def test_a_written_back_incident_is_retrieved_next_time_across_restarts(
        tmp_path: Path, handbook: list[HandbookDocument]) -> None:
    uri = str(tmp_path / "milvus.db")
    with MemoryStore(uri) as store:  # the handbook, indexed by an earlier process
        store.upsert([d.to_record() for d in handbook])
    resolved = smtp_incident("inc-0000000000000a11", status="resolved", waited="<DURATION>")
    with MemoryStore(uri) as store:  # the resolution, written back by the next one
        write_back(resolved, ACTIONS, store)
        write_back(resolved, ACTIONS, store)  # a replayed resolution replaces, it does not duplicate
        assert store.count() == len(handbook) + 1
        assert store.count("incident") == 1

    with MemoryStore(uri) as store:  # a restart later, a similar incident opens
        new = smtp_incident("inc-0000000000000b22", status="open", waited="<NUM>s")
        similar = similar_for_incident(new, store, top_k=5)
        past = [s for s in similar if s["kind"] != "runbook"]
        assert past[0]["doc_id"] == "inc-0000000000000a11" and past[0]["kind"] == "incident"
        # ... and it ranks above every postmortem (none of them is about a throttling mail relay).
        assert all(past[0]["score"] > s["score"] for s in past[1:])
        assert {s["kind"] for s in past[1:]} <= {"postmortem"}

        # The incident itself never shows up among its own similar incidents.
        again = similar_for_incident(resolved, store, top_k=5)
        assert "inc-0000000000000a11" not in [s["doc_id"] for s in again]

        assert store.delete(["inc-0000000000000a11", "inc-unknown"]) == 1
        assert store.count() == len(handbook)
