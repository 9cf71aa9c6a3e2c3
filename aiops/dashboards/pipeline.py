"""The "AIOps pipeline" dashboard: records flowing through the topics, dead letters, lag and incidents."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from aiops.dashboards.panels import RANGE, RATE, query, stat_panel, timeseries_panel

UID = "aiops-pipeline"


def pipeline_dashboard() -> dashboard.Dashboard:
    """Records in/out per topic, dead letters, consumer lag, open incidents, late events, snapshots."""
    return (
        dashboard.Dashboard("AIOps pipeline").uid(UID).tags(["aiops"]).refresh("10s").time("now-1h", "now")
        .description("Records through the Kafka topics, dead letters, consumer lag and the incidents they become.")
        .with_row(dashboard.Row("Health"))
        .with_panel(stat_panel(
            "Processes up", "Scrape targets Prometheus reaches (1 = up), by job.",
            query("up", "{{job}}"), width=8, graph=False, colors=("red", "green"), from_one=True))
        .with_panel(stat_panel(
            "Incidents open", "Incidents not resolved yet, as the correlator counts them.",
            query("sum(aiops_incidents_open)", "open"), width=4, colors=("green", "red"), from_one=True))
        .with_panel(stat_panel(
            "Dead letters", "Records sent to a dead-letter topic in the selected time range.",
            query(f"sum(increase(aiops_dead_letters_total[{RANGE}]))", "dead letters"), width=4, graph=False,
            colors=("green", "red"), from_one=True))
        .with_panel(stat_panel(
            "Late events", "Signals older than the allowed lateness in the selected time range (reported, not "
            "correlated).",
            query(f"sum(increase(aiops_late_events_total[{RANGE}]))", "late"), width=4, graph=False,
            colors=("green", "orange"), from_one=True))
        .with_panel(stat_panel(
            "Consumer lag", "Records not consumed yet, over every topic and partition.",
            query("sum(aiops_consumer_lag)", "lag"), width=4))
        .with_row(dashboard.Row("Records"))
        .with_panel(timeseries_panel(
            "Records in per topic", "Records consumed per second, by topic.",
            query(f"sum by (topic) (rate(aiops_records_in_total[{RATE}]))", "{{topic}}"), unit="suffix: rec/s"))
        .with_panel(timeseries_panel(
            "Records out per topic", "Records produced per second, by topic.",
            query(f"sum by (topic) (rate(aiops_records_out_total[{RATE}]))", "{{topic}}"), unit="suffix: rec/s"))
        .with_panel(timeseries_panel(
            "Dead letters by topic and error", "Records sent to <topic>.dlq per second, by source topic and error "
            "class; the error itself is in the dead-letter record's headers. Read-only followers (the feed, the "
            "gatekeeper's execution tail) skip what they cannot decode instead: those show as `skipped`. Record "
            "batches a consumer could not read at all (a corrupt batch, a missing codec) show as `unreadable`.",
            query(f"sum by (topic, error) (rate(aiops_dead_letters_total[{RATE}]))", "{{topic}}: {{error}}"),
            query(f"sum by (topic, follower, error) (rate(aiops_records_skipped_total[{RATE}]))",
                  "skipped by {{follower}}: {{topic}}: {{error}}", ref_id="B"),
            query(f"sum by (topic, error) (rate(aiops_fetch_failures_total[{RATE}]))",
                  "unreadable batches: {{topic}}: {{error}}", ref_id="C"),
            unit="suffix: rec/s"))
        .with_panel(timeseries_panel(
            "Consumer lag", "Records not yet consumed, by topic (summed over partitions).",
            query("sum by (topic) (aiops_consumer_lag)", "{{topic}}")))
        .with_row(dashboard.Row("Incidents"))
        .with_panel(timeseries_panel(
            "Incidents open", "Incidents not resolved yet.",
            query("sum(aiops_incidents_open)", "open"), width=8))
        .with_panel(timeseries_panel(
            "Incident snapshots by status", "Snapshots written to aiops.incidents per second: open, updated, "
            "resolved.",
            query(f"sum by (status) (rate(aiops_incident_snapshots_total[{RATE}]))", "{{status}}"),
            unit="suffix: /s", width=8))
        .with_panel(timeseries_panel(
            "Late events", "Signals per second that arrived later than the allowed lateness.",
            query(f"sum(rate(aiops_late_events_total[{RATE}]))", "late"), unit="suffix: /s", width=8))
    )
