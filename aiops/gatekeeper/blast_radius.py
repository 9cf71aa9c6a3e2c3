"""Blast radius from what an action really touches: asked from its executor's read API, else the catalog's
worst case. The proposal's own `blast_radius` is never used: a proposer could say 0."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiops.core.catalog import ValidatedAction, at_least
from connectors.errors import ExecutorError, OutcomeUnknown
from connectors.executors import Executor


@dataclass(frozen=True)
class BlastRadius:
    """How many things the action touches, and where that number came from (shown in the Decision)."""

    count: int
    basis: str


async def blast_radius(validated: ValidatedAction, executor: Executor | None, timeout_s: float) -> BlastRadius:
    """The measured count (raised to a count the action creates), or the catalog's worst case."""
    rule = validated.blast_rule
    if rule.fixed is not None:
        return BlastRadius(rule.fixed, "fixed by the action catalog")
    worst = validated.blast_radius
    if executor is None or rule.measure is None:
        return BlastRadius(worst, "the action catalog's worst case")
    try:
        measured = await asyncio.wait_for(executor.footprint(rule.measure, validated.target.as_dict()), timeout_s)
    except (ExecutorError, OutcomeUnknown, TimeoutError) as exc:
        reason = str(exc) or type(exc).__name__
        basis = f"the action catalog's worst case; {executor.name} could not be asked: {reason}"
        return BlastRadius(worst, basis[:300])
    if measured is None:
        return BlastRadius(worst, f"the action catalog's worst case; {executor.name} cannot count {rule.measure}")
    count = at_least(rule, validated.parameters, measured)
    return BlastRadius(count, f"{measured} {rule.measure} counted by {executor.name}"
                       + (f", at least {rule.at_least}" if count != measured else ""))
