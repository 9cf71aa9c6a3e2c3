"""The topic catalog: every topic the product reads or writes, in one place."""

from __future__ import annotations

from dataclasses import dataclass, field

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


def _dead_letters(topic: str) -> TopicSpec:
    return TopicSpec(f"{topic}.dlq", key="original key", value="original bytes; error in headers")


def by_name_in(specs: tuple[TopicSpec, ...], name: str) -> TopicSpec:
    return next(spec for spec in specs if spec.name == name)


INPUTS = (
    TopicSpec("otlp_spans", key="none", value="OTLP ExportTraceServiceRequest (otlp_proto or otlp_json)"),
    TopicSpec("otlp_logs", key="none", value="OTLP ExportLogsServiceRequest (otlp_proto or otlp_json)"),
    TopicSpec("aiops.alerts.raw", key="alert fingerprint", value="Alertmanager webhook JSON or generic JSON alert"),
    TopicSpec("aiops.logs.raw", key="service", value="JSON log line (Vector / Fluent Bit)"),
    TopicSpec("aiops.approvals", key="proposal id", value="Approval (Avro or JSON)"),
)

OUTPUTS = (
    TopicSpec("aiops.alerts", key="service", value="Alert (Avro), normalised"),
    TopicSpec("aiops.logs", key="service", value="LogRecord (Avro), normalised; per line, only with "
              "AIOPS_CANONICAL_LINES=all (condensed like the raw inputs)"),
    TopicSpec("aiops.spans", key="trace id", value="Span (Avro), normalised; per span, only with "
              "AIOPS_CANONICAL_LINES=all (condensed like the raw inputs)"),
    TopicSpec("aiops.logs.condensed", key="service",
              value="JSON LogTemplateCount: lines per scope, service, template and bucket (internal, transactional)"),
    TopicSpec("aiops.spans.condensed", key="service", value="JSON OperationStats and CallEdge: spans per scope, "
              "service, operation, peer, side and bucket, with a latency sketch (internal, transactional)"),
    # Internal: the log condenser's template miners, one record per service, saved with each flush.
    TopicSpec("aiops.condense.state", key="service", value="drain3 miner snapshot (zlib JSON, internal)",
              cleanup_policy="compact", partitions=1),
    TopicSpec("aiops.signals", key="correlation scope", value="JSON signal (internal: alerts, log and span evidence)",
              partitions=1),
    TopicSpec("aiops.incidents", key="incident id", value="Incident snapshot (Avro)", cleanup_policy="compact"),
    TopicSpec("aiops.proposals", key="proposal id", value="Proposal (Avro)"),
    TopicSpec("aiops.decisions", key="proposal id", value="Decision (Avro)"),
    TopicSpec("aiops.executions", key="proposal id", value="Execution (Avro)"),
    # Internal: the gatekeeper's per-proposal state and execution ledger (same partitions as proposals).
    TopicSpec("aiops.gatekeeper.ledger", key="proposal id", value="gatekeeper ledger entry (JSON, internal)",
              cleanup_policy="compact"),
)

# Every topic a consumer reads has a dead-letter topic; proposals are read by the gatekeeper.
_CONSUMED_OUTPUTS = tuple(by_name_in(OUTPUTS, n) for n in (
    "aiops.logs", "aiops.spans", "aiops.logs.condensed", "aiops.spans.condensed", "aiops.signals", "aiops.proposals"))
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
