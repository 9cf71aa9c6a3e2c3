"""The topic catalog: every topic the product reads or writes, in one place."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiops.core.deadletter import dead_letter_topic
from aiops.core.settings import Settings


@dataclass(frozen=True)
class TopicSpec:
    name: str
    key: str
    value: str
    cleanup_policy: str = "delete"
    partitions: int | None = None  # None: settings.default_partitions
    config: dict[str, str] = field(default_factory=dict)

    def full_name(self, settings: Settings) -> str:
        return settings.topic(self.name)


# Consumer groups (without the configured prefix) that the measuring tools (eval, bench soak) look up as well.
WORKER_GROUP = "aiops-streams"  # `aiops worker`'s Faust app id: its consumer group and changelog prefix


def condenser_group(stage: str) -> str:
    """The consumer group of `aiops condense logs|spans`."""
    return f"aiops-condense-{stage}"


# Catalog names (without the configured prefix): the one place each topic name is written down.
OTLP_SPANS = "otlp_spans"
OTLP_LOGS = "otlp_logs"
OTLP_METRICS = "otlp_metrics"
RAW_ALERTS = "aiops.alerts.raw"
RAW_LOGS = "aiops.logs.raw"
APPROVALS = "aiops.approvals"
ALERTS = "aiops.alerts"
LOGS = "aiops.logs"
SPANS = "aiops.spans"
METRICS = "aiops.metrics"
LOG_EVENTS = "aiops.log_events"
SPAN_STATS = "aiops.span_stats"
SIGNALS = "aiops.signals"
INCIDENTS = "aiops.incidents"
PROPOSALS = "aiops.proposals"
DECISIONS = "aiops.decisions"
EXECUTIONS = "aiops.executions"
GATEKEEPER_LEDGER = "aiops.gatekeeper.ledger"
OUTCOMES = "aiops.outcomes"
LOGS_CONDENSED = "aiops.logs.condensed"
SPANS_CONDENSED = "aiops.spans.condensed"
CONDENSE_STATE = "aiops.condense.state"


def _dead_letters(topic: str) -> TopicSpec:
    return TopicSpec(dead_letter_topic(topic), key="original key", value="original bytes; error in headers")


def by_name_in(specs: tuple[TopicSpec, ...], name: str) -> TopicSpec:
    return next(spec for spec in specs if spec.name == name)


INPUTS = (
    TopicSpec(OTLP_SPANS, key="none", value="OTLP ExportTraceServiceRequest (otlp_proto or otlp_json)"),
    TopicSpec(OTLP_LOGS, key="none", value="OTLP ExportLogsServiceRequest (otlp_proto or otlp_json)"),
    TopicSpec(OTLP_METRICS, key="none", value="OTLP ExportMetricsServiceRequest (otlp_proto or otlp_json)"),
    TopicSpec(RAW_ALERTS, key="alert fingerprint", value="Alertmanager webhook JSON or generic JSON alert"),
    TopicSpec(RAW_LOGS, key="service", value="JSON log line (Vector / Fluent Bit)"),
    TopicSpec(APPROVALS, key="proposal id", value="Approval (Avro or JSON)"),
)

OUTPUTS = (
    TopicSpec(ALERTS, key="service", value="Alert (Avro), normalised"),
    TopicSpec(LOGS, key="service", value="LogRecord (Avro), normalised; per line, with AIOPS_CANONICAL_LINES=all "
              "(the default: root-cause analysis joins lines to their traces)"),
    TopicSpec(SPANS, key="trace id", value="Span (Avro), normalised; per span, with AIOPS_CANONICAL_LINES=all "
              "(the default: root-cause analysis reads whole traces)"),
    TopicSpec(METRICS, key="service", value="MetricPoint (Avro), normalised"),
    TopicSpec(LOG_EVENTS, key="trace id", value="JSON log event (internal: a mined line's event type, trace and span)"),
    TopicSpec(SPAN_STATS, key="service", value="JSON span statistics (internal: one service, one event-time bucket)"),
    TopicSpec(LOGS_CONDENSED, key="service",
              value="JSON LogTemplateCount: lines per scope, service, template and bucket (internal, transactional; "
              "AIOPS_CANONICAL_LINES=off)"),
    TopicSpec(SPANS_CONDENSED, key="service", value="JSON OperationStats, CallEdge and ServiceSpanStats: spans "
              "per scope, service, operation, peer, side and bucket, with a latency sketch, and per-service span "
              "statistics of whole traces (internal, transactional; AIOPS_CANONICAL_LINES=off)"),
    # Internal: the log condenser's template miners, one record per service, saved with each flush.
    TopicSpec(CONDENSE_STATE, key="service", value="drain3 miner snapshot (zlib JSON, internal)",
              cleanup_policy="compact", partitions=1),
    TopicSpec(SIGNALS, key="correlation scope", value="JSON signal (internal: alerts, log and span evidence)"),
    TopicSpec(INCIDENTS, key="incident id", value="Incident snapshot (Avro)", cleanup_policy="compact"),
    TopicSpec(PROPOSALS, key="proposal id", value="Proposal (Avro)"),
    TopicSpec(DECISIONS, key="proposal id", value="Decision (Avro)"),
    TopicSpec(EXECUTIONS, key="proposal id", value="Execution (Avro)"),
    TopicSpec(OUTCOMES, key="proposal id", value="Outcome (Avro): helpful, no_effect or harmful, with the evidence"),
    # Internal: the gatekeeper's per-proposal state and execution ledger (same partitions as proposals).
    TopicSpec(GATEKEEPER_LEDGER, key="proposal id", value="gatekeeper ledger entry (JSON, internal)",
              cleanup_policy="compact"),
)

# Every topic a consumer group processes has a dead-letter topic: the inputs, the canonical topics the
# correlation stages read, the signals, the incidents and executions triage reads, the proposals the
# gatekeeper reads.
_CONSUMED_OUTPUTS = tuple(by_name_in(OUTPUTS, n) for n in (ALERTS, LOGS, SPANS, METRICS, LOG_EVENTS, SPAN_STATS,
                                                           LOGS_CONDENSED, SPANS_CONDENSED,
                                                           SIGNALS, INCIDENTS, PROPOSALS, EXECUTIONS))
DEAD_LETTERS = tuple(_dead_letters(t.name) for t in INPUTS + _CONSUMED_OUTPUTS)

CATALOG: tuple[TopicSpec, ...] = INPUTS + OUTPUTS + DEAD_LETTERS


def by_name(name: str) -> TopicSpec:
    try:
        return by_name_in(CATALOG, name)
    except StopIteration:
        raise KeyError(f"{name!r} is not in the topic catalog") from None


def create_topics(settings: Settings, specs: tuple[TopicSpec, ...] = CATALOG,
                  timeout_s: float = 30.0) -> dict[str, str]:
    """Create the topics that do not exist yet; returns topic -> 'created' or 'exists'. Idempotent."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    existing = set(admin.list_topics(timeout=timeout_s).topics)
    result: dict[str, str] = {}
    wanted = []
    for spec in specs:
        name = spec.full_name(settings)
        if name in existing:
            result[name] = "exists"
            continue
        config = {"cleanup.policy": spec.cleanup_policy, **spec.config}
        wanted.append(NewTopic(name, num_partitions=spec.partitions or settings.default_partitions,
                               replication_factor=1, config=config))
    if wanted:
        for name, future in admin.create_topics(wanted, operation_timeout=timeout_s).items():
            try:
                future.result(timeout=timeout_s)
                result[name] = "created"
            except KafkaException as exc:
                # A concurrent creator won the race: that is still success for an idempotent call.
                if "TOPIC_ALREADY_EXISTS" in str(exc):
                    result[name] = "exists"
                else:
                    raise
    return result


def delete_prefixed_topics(bootstrap: str, prefix: str, timeout_s: float = 30.0) -> list[str]:
    """Delete every topic whose name starts with prefix (a run's catalog copy and its worker's changelogs all
    carry the run's prefix), so that benchmarks and evaluations leave a long-lived broker as they found it.
    Returns the names asked for; ones already gone are fine."""
    from confluent_kafka.admin import AdminClient

    if not prefix:
        raise ValueError("refusing to delete every topic: the prefix is empty")
    admin = AdminClient({"bootstrap.servers": bootstrap})
    names = sorted(name for name in admin.list_topics(timeout=timeout_s).topics if name.startswith(prefix))
    for future in admin.delete_topics(names, operation_timeout=timeout_s).values() if names else []:
        try:
            future.result(timeout=timeout_s)
        except Exception:  # noqa: S110 - already gone is fine; a leftover topic harms nothing
            pass
    return names
