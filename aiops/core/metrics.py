"""Every Prometheus metric the product exports, in one place, so dashboards and code agree on names.

Each process (worker, gatekeeper, bridges) serves them with `serve(port)`; the Grafana dashboards in
deploy/grafana are generated from code that queries exactly these names (a test checks that)."""

from __future__ import annotations

import threading

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from aiops.core.errors import AiopsError

RECORDS_IN = Counter("aiops_records_in_total", "Records consumed, by topic", ["topic"])
RECORDS_OUT = Counter("aiops_records_out_total", "Records produced, by topic", ["topic"])
DEAD_LETTERS = Counter("aiops_dead_letters_total", "Records sent to a dead-letter topic, by source topic and error",
                       ["topic", "error"])
FETCH_FAILURES = Counter("aiops_fetch_failures_total", "Record batches a consumer could not read and skipped past "
                         "(codec, corruption), by topic and error", ["topic", "error"])
RECORDS_SKIPPED = Counter("aiops_records_skipped_total", "Records a read-only follower could not decode and skipped, "
                          "by topic, follower and error", ["topic", "follower", "error"])
CONSUMER_LAG = Gauge("aiops_consumer_lag", "Records not yet consumed, by topic and partition", ["topic", "partition"])
INCIDENTS_OPEN = Gauge("aiops_incidents_open", "Incidents currently open (not resolved)")
INCIDENT_SNAPSHOTS = Counter("aiops_incident_snapshots_total", "Incident snapshots emitted, by status", ["status"])
LATE_EVENTS = Counter("aiops_late_events_total", "Signals older than the allowed lateness (reported, not correlated)")
PROPOSALS = Counter("aiops_proposals_total", "Proposals emitted, by action and proposer kind", ["action", "proposer"])
DECISIONS = Counter("aiops_decisions_total", "Gatekeeper decisions, by outcome (allow, deny, error)", ["outcome"])
DECISION_LATENCY = Histogram("aiops_decision_latency_seconds", "Time to get a policy decision from OPA",
                             buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
EXECUTIONS = Counter("aiops_executions_total", "Execution attempts, by executor and status", ["executor", "status"])
PRODUCE_FAILURES = Counter("aiops_produce_failures_total", "Writes the broker did not take (rolled back, then retried "
                           "or the input dead-lettered), by topic and error", ["topic", "error"])
APPROVALS_DROPPED = Counter("aiops_approvals_dropped_total", "Approval events not kept for their proposal, by reason",
                            ["reason"])
ESCALATIONS = Counter("aiops_escalations_total", "Executions whose outcome is unknown, handed to a human, by executor",
                      ["executor"])
FENCED = Counter("aiops_gatekeeper_fenced_total", "Partitions this gatekeeper lost to another instance mid-step")
OUTCOMES = Counter("aiops_outcomes_total", "Outcomes of executed actions (trust ladder), by action and verdict "
                   "(helpful, no_effect, harmful)", ["action", "verdict"])
AUTONOMY_CHANGES = Counter("aiops_autonomy_changes_total", "Trust ladder moves, by action and change (proposed: a "
                           "promotion proposal; demoted)", ["action", "change"])
AUTONOMY_SELECTORS = Gauge("aiops_autonomy_selectors", "Selectors (action, environment, namespace) on each rung of "
                           "the trust ladder (gated, autonomous, demoted)", ["state"])
LLM_TOKENS = Counter("aiops_llm_tokens_total", "Tokens spent on the LLM reasoner", ["model"])
LLM_FALLBACKS = Counter("aiops_llm_fallbacks_total", "LLM answers replaced by the runbook reasoner, by reason class",
                        ["reason"])

_started: set[int] = set()
_lock = threading.Lock()


def serve(port: int, addr: str = "127.0.0.1") -> None:
    """Serve /metrics on addr:port (once per port per process)."""
    with _lock:
        if port in _started:
            return
        try:
            start_http_server(port, addr=addr)
        except OSError as exc:
            raise AiopsError(f"cannot serve metrics on {addr}:{port} ({exc.strerror}); choose another port "
                             "or 0 to disable") from None
        _started.add(port)
