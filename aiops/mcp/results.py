"""What the MCP tools answer: typed results with a status, the invocation and, when something failed, the upstream
error. Tools never raise into the client's model loop (HolmesGPT's rule): a failure is a result too."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

Status = Literal["success", "not_found", "invalid", "error"]


class ToolResult(BaseModel):
    """Every tool's result: `success`, `not_found` (nothing by that id), `invalid` (the request does not fit, e.g.
    an action outside the catalog) or `error` (an upstream system failed; `error` says which and how)."""

    status: Status = "success"
    invocation: dict[str, Any] = Field(default_factory=dict, description="the tool and arguments as called")
    error: str | None = Field(None, description="why it did not succeed, with the upstream error")


class HandbookHit(BaseModel):
    doc_id: str
    kind: str
    title: str
    score: float
    services: list[str]
    source: str = Field(description="where the document is: an MCP resource URI for handbook documents")


class HandbookSearchResult(ToolResult):
    hits: list[HandbookHit] = Field(default_factory=list)


class IncidentResult(ToolResult):
    incident: dict[str, Any] | None = Field(None, description="the latest snapshot: alerts, evidence, root cause "
                                            "with ranked candidates, placements, similar incidents")


class IncidentSummary(BaseModel):
    id: str
    version: int
    status: str
    title: str
    severity: str
    services: list[str]
    root_cause: str | None
    updated_at: str


class IncidentListResult(ToolResult):
    incidents: list[IncidentSummary] = Field(default_factory=list)


class ProposalListResult(ToolResult):
    proposals: list[dict[str, Any]] = Field(default_factory=list)


class DecisionResult(ToolResult):
    decisions: list[dict[str, Any]] = Field(default_factory=list, description="every evaluation of the proposal, "
                                            "newest first, with the policy's reasons and the approvals considered")


class ProposeResult(ToolResult):
    proposal_id: str | None = None
    topic: str | None = None
    risk_class: str | None = None
    problems: list[str] = Field(default_factory=list, description="why the catalog refused the action")
    note: str = ("proposals are decided by the gatekeeper's policy; a state-changing action waits for signed "
                 "human approvals, and nothing here can approve or execute")


def jsonable(value: Any) -> Any:
    """Avro-decoded records as JSON values (times as RFC3339 text)."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return value
