"""The "AIOps incidents" dashboard: the output topics as tables, read through the feed (`aiops feed serve`)."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from aiops.dashboards.infinity import InfinityTable
from aiops.dashboards.panels import feed_table

UID = "aiops-incidents"

INCIDENT_STATUS = {"open": "red", "updated": "orange", "resolved": "green"}
SEVERITY = {"critical": "dark-red", "error": "red", "warning": "orange", "info": "blue"}
RISK = {"read_only": "green", "state_changing": "orange", "destructive": "red"}
OUTCOME = {"allow": "green", "deny": "red"}
EXECUTION_STATUS = {"succeeded": "green", "failed": "red", "started": "blue", "skipped_duplicate": "text"}
VERDICT = {"helpful": "green", "no_effect": "orange", "harmful": "red"}


def incidents_dashboard() -> dashboard.Dashboard:
    """Latest incidents, proposals, decisions, executions and outcomes, newest first."""
    return (
        dashboard.Dashboard("AIOps incidents").uid(UID).tags(["aiops"]).refresh("10s").time("now-6h", "now")
        .description("The latest records on aiops.incidents, aiops.proposals, aiops.decisions and aiops.executions, "
                     "served as JSON by the feed service and read with the Infinity datasource.")
        .with_panel(feed_table(
            "Latest incidents", "Each incident at its latest version (aiops.incidents).",
            InfinityTable("/incidents")
            .column("updated_at", "Updated", "timestamp")
            .column("id", "Incident")
            .column("status", "Status")
            .column("severity", "Severity")
            .column("title", "Title")
            .column("root_cause_service", "Root cause")
            .column("root_cause_reason", "Why")
            .column("services", "Services")
            .column("alerts", "Alerts")
            .column("alert_count", "# alerts", "number")
            .column("version", "Version", "number"),
            colors={"Status": INCIDENT_STATUS, "Severity": SEVERITY}, height=10))
        .with_panel(feed_table(
            "Proposals", "Actions the reasoners proposed (aiops.proposals).",
            InfinityTable("/proposals")
            .column("created_at", "Created", "timestamp")
            .column("id", "Proposal")
            .column("incident_id", "Incident")
            .column("action", "Action")
            .column("target", "Target")
            .column("risk_class", "Risk")
            .column("confidence", "Confidence", "number")
            .column("proposer", "Proposer")
            .column("rationale", "Rationale")
            .column("expires_at", "Expires", "timestamp"),
            colors={"Risk": RISK}))
        .with_panel(feed_table(
            "Decisions", "Every gatekeeper evaluation: allow or deny, with the policy's reasons (aiops.decisions).",
            InfinityTable("/decisions")
            .column("evaluated_at", "Evaluated", "timestamp")
            .column("proposal_id", "Proposal")
            .column("outcome", "Decision")
            .column("reasons", "Reasons")
            .column("approvers", "Approvals counted")
            .column("autonomy_grant", "Autonomy grant")
            .column("trigger", "Trigger")
            .column("policy_revision", "Policy revision")
            .column("latency_ms", "Latency (ms)", "number")
            .column("opa_decision_id", "OPA decision id"),
            colors={"Decision": OUTCOME}))
        .with_panel(feed_table(
            "Executions", "Every execution attempt and its result (aiops.executions).",
            InfinityTable("/executions")
            .column("started_at", "Started", "timestamp")
            .column("proposal_id", "Proposal")
            .column("action", "Action")
            .column("executor", "Executor")
            .column("status", "Status")
            .column("attempt", "Attempt", "number")
            .column("duration_ms", "Duration (ms)", "number")
            .column("error", "Error"),
            colors={"Status": EXECUTION_STATUS}))
        .with_panel(feed_table(
            "Outcomes (trust ladder)", "Whether each executed action helped its incident, decided in event time by "
            "`aiops trust run` (aiops.outcomes); `aiops trust report` sums them per action and namespace.",
            InfinityTable("/outcomes")
            .column("decided_at", "Decided", "timestamp")
            .column("proposal_id", "Proposal")
            .column("selector", "Action and where")
            .column("verdict", "Verdict")
            .column("execution_status", "Execution")
            .column("evidence", "Evidence")
            .column("incident_id", "Incident"),
            colors={"Verdict": VERDICT}))
    )
