"""`aiops trust report`: every selector's track record as a table (or JSON), read from the topics' beginning."""

from __future__ import annotations

import asyncio
from typing import Any

from rich.table import Table

from aiops.core.settings import Settings
from aiops.trust.audit import read_all
from aiops.trust.track_record import TrackRecord, track_records


def collect(settings: Settings) -> tuple[list[TrackRecord], list[str]]:
    """The track records, and the audit topics that do not exist."""
    audit = asyncio.run(read_all(settings))
    records = track_records(audit.proposals, audit.decisions, audit.executions, audit.outcomes)
    return [records[s] for s in sorted(records)], audit.missing


def as_json(records: list[TrackRecord]) -> list[dict[str, Any]]:
    return [r.as_json() for r in records]


def table(records: list[TrackRecord]) -> Table:
    t = Table(title="Trust ladder: track record per action, environment and namespace")
    for column in ("action", "env/namespace", "state", "approved", "autonomous", "helpful", "no effect",
                   "harmful", "median to approval", "rejections", "grant"):
        t.add_column(column)
    for r in records:
        median = r.median_approval_s
        grant = "-"
        if r.grant is not None:
            grant = f"{r.grant.proposal_id} by {', '.join(r.grant.approvers) or '?'}"
            if r.grant.demotion_reasons:
                grant += f"; demoted: {'; '.join(r.grant.demotion_reasons[:1])}"
        reasons = ", ".join(f"{n}x {why}" for why, n in r.rejection_reasons.most_common(2))
        t.add_row(r.selector.action, f"{r.selector.environment}/{r.selector.namespace}", r.state,
                  str(r.approved_executions), str(r.autonomous_executions), str(r.helpful), str(r.no_effect),
                  str(r.harmful), "-" if median is None else f"{median:.0f}s",
                  f"{r.rejections}" + (f" ({reasons})" if reasons else ""), grant)
    return t
