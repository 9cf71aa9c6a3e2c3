"""The Faust agents, one module each. `AGENTS` maps a group name (as `aiops worker --agent NAME` takes it)
to the modules that register its agents; modules are imported only when their group runs."""

from __future__ import annotations

import importlib
from types import ModuleType

AGENTS: dict[str, tuple[str, ...]] = {
    "normalize": ("streams.agents.normalize_alerts", "streams.agents.normalize_logs", "streams.agents.normalize_spans",
                  "streams.agents.normalize_metrics"),
    # Each agent of the correlate group registers only in the mode it belongs to (AIOPS_CANONICAL_LINES):
    # per line (all, the default): mine_logs, profile_traces and the span detector, which join lines to traces;
    # line rate (off): the condensers and the two agents that read their aggregates.
    "correlate": ("streams.agents.run_condensers", "streams.agents.forward_alerts", "streams.agents.profile_traces",
                  "streams.agents.mine_logs", "streams.agents.detect_span_anomalies",
                  "streams.agents.detect_metric_anomalies", "streams.agents.profile_operations",
                  "streams.agents.rate_log_templates", "streams.agents.correlate"),
    "triage": ("streams.agents.triage",),
}


def modules_for(groups: list[str] | None) -> list[ModuleType]:
    """The agent modules of the named groups (all groups when none are named)."""
    names = groups or list(AGENTS)
    unknown = [g for g in names if g not in AGENTS]
    if unknown:
        raise KeyError(f"unknown agent group(s) {unknown}; known: {sorted(AGENTS)}")
    return [importlib.import_module(m) for g in names for m in AGENTS[g]]
