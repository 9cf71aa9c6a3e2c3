"""The "AIOps decisions" dashboard: proposals, gatekeeper decisions and their latency, executions, the trust ladder,
the LLM."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from aiops.dashboards.panels import RANGE, RATE, query, stat_panel, timeseries_panel

UID = "aiops-decisions"

LATENCY = "aiops_decision_latency_seconds"


def decisions_dashboard() -> dashboard.Dashboard:
    """Proposals by action and proposer, decisions by outcome, decision latency, executions, LLM use."""
    return (
        dashboard.Dashboard("AIOps decisions").uid(UID).tags(["aiops"]).refresh("10s").time("now-1h", "now")
        .description("What the reasoners propose, what the policy allows, what ran, and what the LLM cost.")
        .with_row(dashboard.Row("In the selected time range"))
        .with_panel(stat_panel(
            "Proposals by proposer", "Proposals emitted, by proposer kind (llm, reasoner, human).",
            query(f"sum by (proposer) (increase(aiops_proposals_total[{RANGE}]))", "{{proposer}}"), graph=False))
        .with_panel(stat_panel(
            "Decisions by outcome", "Gatekeeper decisions: allow, deny (including fail-closed), error.",
            query(f"sum by (outcome) (increase(aiops_decisions_total[{RANGE}]))", "{{outcome}}"), graph=False))
        .with_panel(stat_panel(
            "Executions by status", "Execution attempts by status, over every executor.",
            query(f"sum by (status) (increase(aiops_executions_total[{RANGE}]))", "{{status}}"), graph=False))
        .with_panel(stat_panel(
            "LLM tokens", "Tokens spent on the LLM reasoner.",
            query(f"sum(increase(aiops_llm_tokens_total[{RANGE}]))", "tokens"), graph=False))
        .with_row(dashboard.Row("Proposals and decisions"))
        .with_panel(timeseries_panel(
            "Proposals by action and proposer", "Proposals per second, by action from the catalog and proposer.",
            query(f"sum by (action, proposer) (rate(aiops_proposals_total[{RATE}]))", "{{action}} ({{proposer}})"),
            unit="suffix: /s"))
        .with_panel(timeseries_panel(
            "Decisions by outcome", "Gatekeeper decisions per second, by outcome.",
            query(f"sum by (outcome) (rate(aiops_decisions_total[{RATE}]))", "{{outcome}}"), unit="suffix: /s"))
        .with_panel(timeseries_panel(
            "Decision latency", "Time to get a policy decision from OPA: median, 95th percentile and mean. A "
            "decision slower than the OPA timeout counts as deny.",
            query(f"histogram_quantile(0.5, sum by (le) (rate({LATENCY}_bucket[{RATE}])))", "p50", "A"),
            query(f"histogram_quantile(0.95, sum by (le) (rate({LATENCY}_bucket[{RATE}])))", "p95", "B"),
            query(f"sum(rate({LATENCY}_sum[{RATE}])) / sum(rate({LATENCY}_count[{RATE}]))", "mean", "C"),
            unit="s"))
        .with_panel(timeseries_panel(
            "Execution results by executor and status", "Execution attempts per second, by executor (platform-ctl, "
            "webhook, dry-run) and status.",
            query(f"sum by (executor, status) (rate(aiops_executions_total[{RATE}]))", "{{executor}}: {{status}}"),
            unit="suffix: /s"))
        .with_row(dashboard.Row("Gate health"))
        .with_panel(timeseries_panel(
            "Approvals not kept, by reason", "Approval events the gatekeeper did not keep (bad signature, unknown "
            "key, replayed token, older than the one kept, proposal full), per second.",
            query(f"sum by (reason) (rate(aiops_approvals_dropped_total[{RATE}]))", "{{reason}}"), unit="suffix: /s"))
        .with_panel(timeseries_panel(
            "Failed writes, takeovers, escalations", "Writes the broker refused (rolled back, retried or "
            "dead-lettered), partitions this gatekeeper lost to another instance mid-step (fenced), and executions "
            "whose outcome stayed unknown and were handed to a person.",
            query(f"sum by (error) (rate(aiops_produce_failures_total[{RATE}]))", "{{error}}", "A"),
            query(f"sum(rate(aiops_gatekeeper_fenced_total[{RATE}]))", "fenced", "B"),
            query(f"sum by (executor) (rate(aiops_escalations_total[{RATE}]))", "escalated ({{executor}})", "C"),
            unit="suffix: /s"))
        .with_row(dashboard.Row("Trust ladder"))
        .with_panel(timeseries_panel(
            "Outcomes by action and verdict", "Executed actions judged by `aiops trust run`: helpful (the incident "
            "resolved within the window), no_effect, harmful (it got worse), per second.",
            query(f"sum by (action, verdict) (rate(aiops_outcomes_total[{RATE}]))", "{{action}}: {{verdict}}"),
            unit="suffix: /s"))
        .with_panel(stat_panel(
            "Selectors per rung", "(action, environment, namespace) selectors that are approval-gated, autonomous "
            "(promoted by two policy owners) or demoted (a harmful outcome); `aiops trust report` lists them.",
            query("sum by (state) (aiops_autonomy_selectors)", "{{state}}"), graph=False))
        .with_panel(stat_panel(
            "Promotions proposed, demotions", "Trust ladder moves in the selected time range, by action.",
            query(f"sum by (action, change) (increase(aiops_autonomy_changes_total[{RANGE}]))",
                  "{{action}}: {{change}}"), graph=False))
        .with_row(dashboard.Row("LLM"))
        .with_panel(timeseries_panel(
            "LLM tokens per model", "Tokens per second spent on the LLM reasoner, by model.",
            query(f"sum by (model) (rate(aiops_llm_tokens_total[{RATE}]))", "{{model}}"), unit="suffix: tok/s"))
        .with_panel(timeseries_panel(
            "LLM fallbacks by reason", "LLM answers replaced by the runbook reasoner per second, by reason class.",
            query(f"sum by (reason) (rate(aiops_llm_fallbacks_total[{RATE}]))", "{{reason}}"), unit="suffix: /s"))
    )
