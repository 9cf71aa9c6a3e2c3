"""The Faust agents, one module each. `AGENTS` maps a group name (as `aiops worker --agent NAME` takes it)
to the modules that register its agents; modules are imported only when their group runs."""

from __future__ import annotations

import importlib
from types import ModuleType

# Evidence: the agents that turn logs, spans and metrics into signals (per line, or from the condensers'
# aggregates). Each registers only in the mode it belongs to (AIOPS_CANONICAL_LINES): per line (all, the
# default): mine_logs, profile_traces and the span detector, which join lines to traces; line rate (off): the
# condensers and the two agents that read their aggregates.
EVIDENCE = ("streams.agents.run_condensers", "streams.agents.profile_traces", "streams.agents.mine_logs",
            "streams.agents.detect_span_anomalies", "streams.agents.detect_metric_anomalies",
            "streams.agents.profile_operations", "streams.agents.rate_log_templates")
# Incidents: alerts become signals, and signals become incidents.
INCIDENTS = ("streams.agents.forward_alerts", "streams.agents.correlate")

AGENTS: dict[str, tuple[str, ...]] = {
    "normalize": ("streams.agents.normalize_alerts", "streams.agents.normalize_logs", "streams.agents.normalize_spans",
                  "streams.agents.normalize_metrics"),
    "correlate": EVIDENCE + INCIDENTS,
    "triage": ("streams.agents.triage",),
    # The correlate group in two halves, for a worker of their own each: at volume the evidence agents take
    # bursts of records, and an alert that lands behind a burst waits for it in a shared event loop. Their
    # only link is Kafka (aiops.signals), so they can run under different app ids (`aiops worker --app-id`).
    "evidence": EVIDENCE,
    "incidents": INCIDENTS,
}
# Groups made of other groups' modules: `aiops worker` runs every group unless told otherwise, once.
PARTS = frozenset({"evidence", "incidents"})


def modules_for(groups: list[str] | None) -> list[ModuleType]:
    """The agent modules of the named groups (all groups when none are named)."""
    names = groups or [g for g in AGENTS if g not in PARTS]
    unknown = [g for g in names if g not in AGENTS]
    if unknown:
        raise KeyError(f"unknown agent group(s) {unknown}; known: {sorted(AGENTS)}")
    wanted = dict.fromkeys(m for g in names for m in AGENTS[g])  # once each, in order: a module registers once
    return [importlib.import_module(m) for m in wanted]
