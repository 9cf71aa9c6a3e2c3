"""The chaos checker's OPA-window judgment, on made-up decisions: it must catch an allow made without OPA and
accept an allow on an answer OPA gave right after it resumed (no processes; part of the quick run)."""

from __future__ import annotations

from datetime import UTC, datetime

from streams.output_records import Decision
from tests.chaos.driver import opa_window_problems

START, END = 1_000.0, 1_030.0  # OPA frozen for 30 s


def decision(allow: bool, decided: float, latency_ms: float) -> Decision:
    return Decision(id=f"d-{decided}", proposal_id="prop-1", opa_decision_id=None, allow=allow, reasons=[],
                    approvals_considered=[], policy_revision=None, trigger="retry",
                    evaluated_at=datetime.fromtimestamp(decided, UTC), latency_ms=latency_ms)


def test_an_allow_made_inside_the_freeze_on_a_question_asked_in_it_is_caught():
    problems = opa_window_problems([decision(True, START + 12.0, 3.0)], (START, END), opa_timeout_s=2.0)
    assert len(problems) == 1 and "while OPA was frozen" in problems[0]


def test_an_allow_on_an_answer_slower_than_the_opa_timeout_is_caught():
    problems = opa_window_problems([decision(True, END + 0.2, 20_000.0)], (START, END), opa_timeout_s=2.0)
    assert len(problems) == 1 and "more than the OPA timeout" in problems[0]


def test_legitimate_decisions_pass():
    decisions = [
        decision(True, START - 1.0, 5.0),          # answered before the freeze
        decision(True, START + 0.004, 6.0),        # asked before the freeze, the answer was in flight
        decision(True, END + 0.05, 1_500.0),       # asked 1.45 s before OPA resumed, answered right after
        decision(False, START + 5.0, 2_000.0),     # the timeout inside the freeze: a deny
    ]
    assert opa_window_problems(decisions, (START, END), opa_timeout_s=2.0) == []
