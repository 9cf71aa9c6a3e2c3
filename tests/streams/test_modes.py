"""The two modes of the correlate group never run together: per line (the default) the root-cause stages that
join lines to traces, at line rate the condensers and the agents that read their aggregates."""

from __future__ import annotations

import pytest

from aiops.core.settings import Settings
from streams.agents import modules_for
from streams.app import StreamContext, create_app, register_agents

PER_LINE = {"mine_log_templates", "profile_traces", "normalize_log_lines", "normalize_spans"}
LINE_RATE = {"profile_operations", "rate_log_templates"}


def agents_in(mode: str | None, groups: list[str] | None = None) -> set[str]:
    settings = Settings() if mode is None else Settings(canonical_lines=mode)
    app = create_app(settings, app_id=f"modes-{mode}-{'-'.join(groups or ['all'])}")
    register_agents(app, StreamContext.build(settings), modules_for(["normalize", "correlate"] if groups is None
                                                                    else groups))
    return {agent.name.rsplit(".", 1)[-1] for agent in app.agents.values()}


def test_the_default_is_per_line_with_the_root_cause_stages():
    agents = agents_in(None)
    assert PER_LINE <= agents and not LINE_RATE & agents
    assert {"correlate_signals", "detect_span_anomalies", "forward_alerts"} <= agents


@pytest.mark.parametrize("mode, present, absent", [("all", PER_LINE, LINE_RATE), ("off", LINE_RATE, PER_LINE)])
def test_each_mode_registers_only_its_own_agents(mode, present, absent):
    agents = agents_in(mode)
    assert present <= agents and not absent & agents


@pytest.mark.parametrize("mode", ["all", "off"])
def test_evidence_and_incidents_are_the_correlate_group_in_two_halves(mode):
    evidence, incidents = agents_in(mode, ["evidence"]), agents_in(mode, ["incidents"])
    assert incidents == {"forward_alerts", "correlate_signals"}
    assert not evidence & incidents
    assert evidence | incidents == agents_in(mode, ["correlate"])
    # Named together with the whole group (or with every group, by default), each agent registers once.
    assert agents_in(mode, ["correlate", "evidence", "incidents"]) == agents_in(mode, ["correlate"])
    assert [m.__name__ for m in modules_for(None)] == [m.__name__ for m in modules_for(["normalize", "correlate",
                                                                                         "triage"])]
