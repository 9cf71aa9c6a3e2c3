"""Valid example records for every schema, and the schemas themselves, shared by tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiops.core.avro import SchemaSet
from aiops.core.paths import PROJECT_ROOT

# The topic contracts of the checkout, for tests that decode what the processes wrote.
SCHEMAS = SchemaSet.load(PROJECT_ROOT / "schemas")

T0 = datetime(2026, 11, 26, 10, 0, 0, tzinfo=UTC)


def alert() -> dict[str, Any]:
    return {
        "fingerprint": "3f2a9c1d0b7e6a55", "status": "firing", "name": "PostgresConnectionsNearLimit",
        "severity": "critical", "service": "orders-db",
        "labels": {"alertname": "PostgresConnectionsNearLimit", "service": "orders-db", "env": "prod"},
        "annotations": {"summary": "orders-db at 97% of max_connections"},
        "starts_at": T0, "ends_at": None, "source": "alertmanager",
        "generator_url": "http://prometheus:9090/graph?g0.expr=pg_connections", "trace_id": None,
        "received_at": T0 + timedelta(seconds=2), "values": {}, "links": {},
    }


def incident() -> dict[str, Any]:
    return {
        "id": "inc-7d1f", "version": 3, "status": "updated", "title": "orders-db connection exhaustion",
        "severity": "critical", "services": ["orders-db", "orders-api", "web-frontend"],
        "root_cause": {"service": "orders-db", "reason": "deepest failing callee with errors of its own",
                       "candidates": [{"service": "orders-db", "score": 0.9, "reason": "deepest",
                                       "evidence": ["cause client_latency: calls from orders-api 30012 ms"]},
                                      {"service": "orders-api", "score": 0.4, "reason": "caller", "evidence": []}]},
        "alerts": [{"fingerprint": "3f2a9c1d0b7e6a55", "name": "PostgresConnectionsNearLimit",
                    "service": "orders-db", "status": "firing", "severity": "critical",
                    "starts_at": T0, "ends_at": None, "labels": {"alertname": "PostgresConnectionsNearLimit"},
                    "annotations": {"summary": "connections at 97% of max_connections"}}],
        "log_evidence": [{"service": "orders-api", "template_id": "12",
                          "template": "timeout acquiring connection from pool after <NUM>ms", "level": "error",
                          "count": 412, "baseline_per_min": 0.1, "reason": "surge 400x baseline",
                          "examples": ["timeout acquiring connection from pool after 30000ms"]}],
        "span_evidence": [{"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7",
                           "service": "orders-api", "operation": "GET /orders", "kind": "error",
                           "duration_ms": 30012.5, "baseline_ms": 40.0, "message": "503",
                           "exception_type": "PoolTimeout", "exception_message": "pool timeout after 30000ms",
                           "exception_stacktrace": "PoolTimeout: pool timeout after 30000ms\n  at pool.get",
                           "attributes": {"http.status_code": "503"}}],
        "anomaly_evidence": [{"service": "orders-db", "signal": "client_latency", "role": "cause",
                              "subject": "orders-api", "score": 9.5, "value": 30012.5, "baseline": 4.0, "unit": "ms",
                              "reason": "calls from orders-api: median 30012 ms as the caller sees them",
                              "trace_ids": ["4bf92f3577b34da6a3ce929d0e0e4736"], "first_seen": T0,
                              "last_seen": T0 + timedelta(minutes=2)}],
        "opened_by": "alert",
        "similar_incidents": [{"doc_id": "pm-2025-08-orders-db", "kind": "postmortem",
                               "title": "Orders DB pool exhaustion", "score": 0.82}],
        "placements": [{"service": "orders-api", "environment": "prod", "namespace": "shop",
                        "pod": "orders-api-7d9f", "node": "node-17", "host": None, "version": "2.4.1"}],
        "window_start": T0, "window_end": T0 + timedelta(minutes=10), "updated_at": T0 + timedelta(minutes=3),
    }


def proposal() -> dict[str, Any]:
    return {
        "id": "prop-1", "incident_id": "inc-7d1f", "action": "restart_deployment",
        "parameters": {"namespace": "shop", "deployment": "orders-api", "replicas": 3, "force": False,
                       "ratio": 0.5, "note": None},
        "target": {"environment": "prod", "namespace": "shop", "service": "orders-api"},
        "risk_class": "state_changing", "blast_radius": 3, "rationale": "pool exhausted; runbook says restart",
        "evidence": [{"kind": "alert", "ref": "3f2a9c1d0b7e6a55", "summary": None},
                     {"kind": "document", "ref": "rb-orders-db-connection-exhaustion", "summary": "runbook"}],
        "confidence": 0.8,
        "proposer": {"kind": "reasoner", "name": "runbook-reasoner", "version": "1", "note": None},
        "requested_by": None, "created_at": T0, "expires_at": T0 + timedelta(hours=1),
        "idempotency_key": "inc-7d1f:restart_deployment:shop/orders-api",
    }


def approval() -> dict[str, Any]:
    return {"proposal_id": "prop-1", "decision": "approve", "token": "eyJhbGciOiJFUzI1NiJ9.e30.sig",
            "source": "cli", "time": T0 + timedelta(minutes=5), "comment": "go"}


def metric_point() -> dict[str, Any]:
    return {"service": "orders-api", "instance": "orders-api-7d9f-x2", "name": "k8s.pod.cpu_limit_utilization",
            "unit": "1", "kind": "gauge", "value": 0.42, "count": None, "delta": False, "time": T0,
            "attributes": {"k8s.namespace.name": "shop"}}


def decision() -> dict[str, Any]:
    return {"id": "dec-1", "proposal_id": "prop-1", "opa_decision_id": "b6f0c5e2", "allow": False,
            "reasons": ["state_changing action needs 1 approval, has 0"],
            "approvals_considered": [{"decision": "approve", "source": "cli", "approver": "alice",
                                      "counted": False, "reason": "token expired"}],
            "policy_revision": "2026-11-26.1", "trigger": "approval",
            "evaluated_at": T0 + timedelta(minutes=5), "latency_ms": 3.2, "autonomy_grant": None}


def execution() -> dict[str, Any]:
    return {"id": "exe-1", "proposal_id": "prop-1", "decision_id": "dec-1",
            "idempotency_key": "inc-7d1f:restart_deployment:shop/orders-api", "executor": "platform-ctl",
            "action": "restart_deployment", "request": '{"deployment": "orders-api"}',
            "response": '{"status": "ok"}', "status": "succeeded", "error": None, "attempt": 1,
            "started_at": T0 + timedelta(minutes=6), "finished_at": T0 + timedelta(minutes=6, seconds=1),
            "duration_ms": 1000.0}


def log_record() -> dict[str, Any]:
    return {"time": T0, "observed_time": T0 + timedelta(milliseconds=3), "service": "orders-api",
            "severity": "error", "level": "ERROR", "message": "timeout acquiring connection from pool after 30000ms",
            "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7",
            "attributes": {"pod": "orders-api-7d9f"}, "source": "vector", "resource": RESOURCE,
            "scope": {"name": "io.opentelemetry.logback", "version": "2.10.0"}}


RESOURCE = {"service_namespace": "shop", "service_version": "2.4.1", "service_instance_id": "orders-api-7d9f",
            "deployment_environment": "prod", "host_name": "node-17", "k8s_namespace": "shop",
            "k8s_pod": "orders-api-7d9f", "k8s_node": "node-17",
            "attributes": {"service.name": "orders-api", "k8s.pod.name": "orders-api-7d9f"}}


def span() -> dict[str, Any]:
    return {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7",
            "parent_span_id": "a1b2c3d4e5f60718", "service": "orders-api", "name": "SELECT orders",
            "kind": "client", "start_time": T0, "end_time": T0 + timedelta(milliseconds=30012),
            "duration_ms": 30012.0, "status": "error", "status_message": "pool timeout",
            "peer_service": "orders-db", "attributes": {"db.system": "postgresql"}, "resource": RESOURCE,
            "scope": None,
            "events": [{"name": "exception", "time": T0 + timedelta(milliseconds=30010),
                        "attributes": {"exception.type": "PoolTimeout", "exception.message": "pool timeout",
                                       "exception.stacktrace": "PoolTimeout: pool timeout\n  at pool.get"}}],
            "links": [{"trace_id": "ab" * 16, "span_id": "cd" * 8, "attributes": {}}]}


def outcome() -> dict[str, Any]:
    return {"proposal_id": "prop-1", "execution_id": "exe-1", "incident_id": "inc-7d1f", "action": "restart_deployment",
            "environment": "prod", "namespace": "shop", "service": "orders-api", "execution_status": "succeeded",
            "verdict": "helpful", "evidence": ["incident inc-7d1f resolved 95s after the execution"],
            "executed_at": T0 + timedelta(minutes=6), "decided_at": T0 + timedelta(minutes=8), "window_s": 1800.0}


ALL = {"LogRecord": log_record, "Span": span, "Alert": alert, "Incident": incident, "Proposal": proposal,
       "Approval": approval, "Decision": decision, "Execution": execution, "MetricPoint": metric_point,
       "Outcome": outcome}
