"""The one settings object: built once at start-up (from AIOPS_* variables) and passed in."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from aiops.core.paths import data_path


def _default_cache_dir() -> Path:
    # Outside the repo so that downloads and builds survive a fresh clone.
    return Path.home() / ".cache" / "aiops"


def _default_state_dir() -> Path:
    return Path.home() / ".local" / "state" / "aiops"


# A list setting read from the environment as a JSON array or comma-separated ("a,b,c").
FieldList = Annotated[list[str], NoDecode, Field(min_length=1)]


class Settings(BaseSettings):
    """Effective configuration. Nothing else in the code reads os.environ."""

    model_config = SettingsConfigDict(env_prefix="AIOPS_", frozen=True, extra="ignore")

    # Kafka
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="bootstrap servers for every client")
    topic_prefix: str = Field("", description="prepended to every topic name")
    default_partitions: int = Field(3, ge=1, description="partitions for topics created by `aiops topics create`")
    producer_linger_ms: int = Field(
        0, ge=0, description="how long the workers' producers wait to batch records into one request. 0 (the "
        "default) sends each record at once: the per-line root-cause stages' evidence arrives in the order it "
        "was made, and a linger changed it enough to rank the TrainTicket CPU-contention case differently; "
        "set 5 for the line-rate mode, where one request per record was the largest cost of a Faust stage")
    schema_registry_url: str | None = Field(
        None, description="when set, Avro uses the Confluent wire format with this registry"
    )
    schema_registry_password: SecretStr | None = Field(None, description="basic-auth password for the registry")
    schema_registry_user: str | None = Field(None, description="basic-auth user for the registry")

    # OPA
    opa_url: str = Field("http://127.0.0.1:8181", description="OPA server the gatekeeper asks")
    opa_timeout_s: float = Field(2.0, gt=0, description="a slower OPA answer counts as deny")

    # Local stack (`aiops stack up`)
    cache_dir: Path = Field(default_factory=_default_cache_dir, description="downloads and builds")
    state_dir: Path = Field(default_factory=_default_state_dir, description="broker data, pid files, logs")
    kafka_version: str = Field("4.1.2", description="Apache Kafka version fetched from Maven Central")
    kafka_port: int = Field(9092, description="broker listener port on 127.0.0.1")
    kafka_controller_port: int = Field(9093, description="KRaft controller port on 127.0.0.1")
    opa_version: str = Field("v1.22.3", description="OPA version built with go install")
    opa_port: int = Field(8181, description="OPA server port on 127.0.0.1")
    policy_dir: Path = Field(default_factory=lambda: data_path("policy"), description="the Rego bundle OPA serves")
    schemas_dir: Path = Field(default_factory=lambda: data_path("schemas"),
                             description="Avro schemas (topic contracts)")
    startup_timeout_s: float = Field(180.0, gt=0, description="how long `stack up` waits for health")

    # LLM (OpenAI-compatible); without a base URL the deterministic runbook reasoner runs.
    llm_base_url: str | None = Field(None, description="OpenAI-compatible endpoint")
    llm_model: str = Field("gpt-4o-mini", description="model name sent to the endpoint")
    llm_api_key: SecretStr | None = Field(None, description="API key for the endpoint")
    llm_timeout_s: float = Field(20.0, gt=0, description="one LLM call slower than this fails (and falls back)")
    llm_max_attempts: int = Field(2, ge=1, description="LLM calls per incident before falling back")
    llm_token_budget: int = Field(8000, ge=1, description="tokens the LLM may spend on one incident")
    llm_telemetry_field_chars: int = Field(
        300, ge=32, description="each telemetry value (label, annotation, log example, span attribute) the LLM sees "
        "is cut to this many characters")
    llm_telemetry_max_chars: int = Field(
        12_000, ge=1000, description="the fenced telemetry section of the LLM prompt is at most this long")

    # Triage (aiops/triage/, streams/agents/triage.py)
    handbook_dir: Path = Field(default_factory=lambda: data_path("handbook"),
                              description="runbooks and postmortems the reasoner follows")
    proposal_ttl_s: float = Field(3600.0, gt=0, description="a proposal expires this long after it is made")
    triage_environment: str = Field("prod", description="environment of the actions triage proposes")
    triage_namespace: str = Field("shop", description="namespace used when a runbook does not name one")
    triage_top_k: int = Field(5, ge=1, description="similar past incidents and postmortems retrieved per incident")
    triage_remediation_min_severity: Literal["critical", "error", "warning", "info"] = Field(
        "error", description="less severe incidents get read-only diagnosis proposals only")

    # Institutional memory (memory/): the handbook and resolved incidents in Milvus, BM25 (+ dense when configured)
    memory_uri: str | None = Field(
        None, description="Milvus URI: a local path ending in .db (Milvus Lite) or http://host:19530 (Milvus "
        "server); default <state_dir>/memory/milvus.db")
    memory_collection: str = Field("aiops_memory", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,254}$",
                                   description="Milvus collection holding the memory")
    memory_host: str = Field("127.0.0.1", description="`aiops memory serve` listen address")
    memory_port: int = Field(8791, description="`aiops memory serve` listen port")
    memory_service_url: str | None = Field(
        None, description="where clients reach the memory service; default http://<memory_host>:<memory_port>")
    memory_timeout_s: float = Field(10.0, gt=0, description="memory service and embeddings request timeout")
    embedding_model: str | None = Field(
        None, description="embedding model at llm_base_url; when set, search fuses BM25 with dense vectors")

    # Every consumer: the largest record it decodes (larger ones are dead-lettered before decoding), and how much
    # of an original a dead letter copies when it cannot copy it whole.
    max_record_bytes: int = Field(
        1_000_000, ge=65_536, description="a consumed record (key and value) larger than this is dead-lettered "
        "before decoding; also the largest record the gatekeeper writes")
    dead_letter_copy_bytes: int = Field(
        65_536, ge=1024, description="a dead letter whose original the producer cannot take whole copies this much "
        "of it")

    # Ingestion: the normalize agents (streams/ingest) and the bridges (connectors/)
    ingest_max_message_bytes: int = Field(
        1_048_576, ge=1024, description="an input message or OTLP request larger than this is refused / dead-lettered")
    ingest_max_field_bytes: int = Field(
        65_536, ge=64, description="a field (message, label, attribute) longer than this is rejected, not truncated")
    service_labels: FieldList = Field(
        ["service", "job", "app"],
        description="alert labels naming the service, in order (OTLP: after the resource attribute service.name)")
    alert_severity_labels: FieldList = Field(
        ["severity", "priority"], description="alert labels holding the severity word, in order")
    severity_words: dict[str, Literal["critical", "error", "warning", "info", "unknown"]] = Field(
        default_factory=dict, description="extra or changed alert severity words, JSON {word: level}, on top of "
        "the built-in ones (critical/page/P1, high/major/P2, warning/minor/P3, info/low/P4/P5, ...)")
    otlp_encoding: Literal["auto", "otlp_proto", "otlp_json"] = Field(
        "auto", description="encoding on otlp_spans / otlp_logs; auto: JSON when the value starts with '{'")
    log_timestamp_fields: FieldList = Field(
        ["timestamp", "@timestamp", "time", "ts", "date"], description="JSON log fields holding the event time")
    log_message_fields: FieldList = Field(["message", "msg", "log"], description="JSON log fields holding the text")
    log_level_fields: FieldList = Field(
        ["level", "severity", "lvl", "log.level", "levelname"], description="JSON log fields holding the level")
    log_service_fields: FieldList = Field(
        ["service", "service.name", "service_name", "kubernetes.labels.app.kubernetes.io/name",
         "kubernetes.pod_labels.app.kubernetes.io/name", "kubernetes.labels.app", "kubernetes.pod_labels.app",
         "kubernetes.container_name", "app", "appname", "container_name", "source_type"],
        description="JSON log fields naming the service, in order")
    log_trace_id_fields: FieldList = Field(
        ["trace_id", "traceId", "trace.id", "otelTraceID"], description="JSON log fields holding a trace id")
    log_span_id_fields: FieldList = Field(
        ["span_id", "spanId", "span.id", "otelSpanID"], description="JSON log fields holding a span id")
    alertmanager_bridge_host: str = Field("127.0.0.1", description="`aiops connect alertmanager` listen address")
    alertmanager_bridge_port: int = Field(9097, description="`aiops connect alertmanager` listen port")
    otlp_receiver_host: str = Field("127.0.0.1", description="`aiops connect otlp` listen address")
    otlp_receiver_port: int = Field(4318, description="`aiops connect otlp` listen port (OTLP/HTTP)")
    otlp_receiver_encoding: Literal["as_received", "otlp_proto", "otlp_json"] = Field(
        "as_received", description="encoding the OTLP receiver writes: as received, or always proto / JSON")
    connect_bearer_token: SecretStr | None = Field(None, description="bridges require this bearer token when set")
    connect_basic_user: str | None = Field(None, description="bridges accept this basic-auth user when set")
    connect_basic_password: SecretStr | None = Field(None, description="basic-auth password for the bridges")
    connect_kafka_timeout_s: float = Field(
        10.0, gt=0, description="a bridge answers 5xx when Kafka has not acknowledged a record within this")
    connect_max_request_bytes: int = Field(
        16_777_216, ge=1024, description="largest HTTP body a bridge reads (after decompression)")
    alertmanager_version: str = Field(
        "v0.31.1", description="Prometheus Alertmanager (and amtool) built with go install, for tests")
    otelcol_version: str = Field(
        "0.165.0", description="OpenTelemetry Collector (OTLP receiver, batch processor, Kafka exporter) built "
        "with the collector builder (ocb) of this version, for tests")
    otelcol_confmap_version: str = Field(
        "1.71.0", description="the collector's confmap provider modules released with otelcol_version")

    @field_validator(
        "service_labels", "alert_severity_labels", "correlation_scope_labels", "log_timestamp_fields",
        "log_message_fields", "log_level_fields", "log_service_fields", "log_trace_id_fields", "log_span_id_fields",
        "log_code_location_fields",
        mode="before")
    @classmethod
    def _field_list(cls, value: Any) -> Any:
        # From the environment: a JSON array or a comma-separated list.
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json

                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    # Gatekeeper, approvals and executors
    action_catalog: Path = Field(default_factory=lambda: data_path("actions") / "catalog.yaml",
                                 description="the action catalog file")
    key_dir: Path = Field(default_factory=lambda: Path.home() / ".config" / "aiops" / "keys",
                          description="approval signing keys made by `aiops keys create`")
    approval_token_ttl_s: int = Field(3600, gt=0, description="lifetime of approval tokens that `aiops approve` signs")
    approvals_http_host: str = Field("127.0.0.1", description="address the approvals HTTP endpoint listens on")
    approvals_http_port: int = Field(8788, description="port of the approvals HTTP endpoint")
    platform_ctl_url: str | None = Field(None, description="base URL of the platform-ctl API (the paved-road executor)")
    platform_ctl_token: SecretStr | None = Field(None, description="bearer token for platform-ctl")
    webhook_url: str | None = Field(None, description="URL the webhook executor POSTs actions to")
    webhook_token: SecretStr | None = Field(None, description="bearer token for the webhook executor")
    webhook_status_url: str | None = Field(
        None, description="where the webhook executor looks a call up by idempotency key ({idempotency_key} in the "
        "URL); without it an interrupted webhook call is recorded outcome_unknown and escalated")
    executor_timeout_s: float = Field(30.0, gt=0, description="how long an executor call may take")
    gatekeeper_dry_run: bool = Field(False, description="run every action with the dry-run executor")
    gatekeeper_instance_id: str | None = Field(
        None, description="static consumer-group member id: a restarted gatekeeper takes its partitions back at once")
    gatekeeper_retry_initial_s: float = Field(1.0, gt=0, description="first re-evaluation delay after OPA failed")
    gatekeeper_retry_max_s: float = Field(60.0, gt=0, description="longest re-evaluation delay after OPA failed")
    gatekeeper_session_timeout_s: float = Field(
        30.0, ge=6, description="an instance silent this long loses its partitions to another (then fenced)")
    gatekeeper_max_approvals_per_proposal: int = Field(
        8, ge=1, le=64, description="approvals kept per proposal (one per approver); further ones are dead-lettered")
    gatekeeper_orphan_approval_ttl_s: float = Field(
        900.0, gt=0, description="approvals for a proposal that has not arrived wait this long, then expire")
    gatekeeper_executor_concurrency: int = Field(
        8, ge=1, description="executor calls running at once (one at a time per target, in order)")
    gatekeeper_reconcile_max_attempts: int = Field(
        10, ge=1, description="status lookups for an execution of unknown outcome before it is escalated")
    gatekeeper_produce_retries: int = Field(
        8, ge=0, description="retries of a record whose writes the broker refused (with backoff) before it is "
        "dead-lettered")

    # Earned autonomy (aiops/trust): outcome verification in event time, and where promotions/demotions are written.
    trust_outcome_window_s: float = Field(
        1800.0, gt=0, description="an execution's incident must resolve within this much event time to count as "
        "helpful; after it, no_effect (harmful as soon as the incident worsens within it)")
    trust_apply: Literal["opa", "file"] = Field(
        "opa", description="opa: promotions and demotions are PUT to the OPA data API (data.autonomy.grants); file: "
        "written as bundle data files under trust_patch_dir for the operator to ship")
    trust_patch_dir: Path | None = Field(
        None, description="where trust_apply=file writes grant patches; default <state_dir>/autonomy")
    trust_grant_check_s: float = Field(
        30.0, gt=0, description="how often `aiops trust run` checks that every demotion is still in OPA (the data "
        "API's documents do not survive an OPA restart) and writes it again when not")
    trust_proposal_ttl_s: float = Field(86400.0, gt=0, description="a promotion proposal expires this long after it "
                                        "is made")

    # Observability: each process serves aiops/core/metrics.py on its own port (deploy/prometheus scrapes them), and
    # the read-only feed (feed/) serves the output topics as JSON for Grafana's Infinity datasource.
    metrics_host: str = Field("127.0.0.1", description="address every process serves /metrics on (0.0.0.0 in "
                              "containers)")
    worker_metrics_port: int = Field(9101, description="/metrics port of `aiops worker`")
    gatekeeper_metrics_port: int = Field(9102, description="/metrics port of `aiops gatekeeper`")
    alertmanager_bridge_metrics_port: int = Field(9103, description="/metrics port of `aiops connect alertmanager`")
    otlp_receiver_metrics_port: int = Field(9104, description="/metrics port of `aiops connect otlp`")
    approvals_metrics_port: int = Field(9105, description="/metrics port of `aiops approvals serve`")
    trust_metrics_port: int = Field(9109, description="/metrics port of `aiops trust run`")
    mcp_host: str = Field("127.0.0.1", description="`aiops mcp --transport http` listen address")
    mcp_port: int = Field(8792, description="`aiops mcp --transport http` port (streamable HTTP at /mcp)")
    mcp_token: SecretStr | None = Field(
        None, description="`aiops mcp --transport http` requires this bearer token when set; without it the server "
        "listens only on a loopback address")
    feed_host: str = Field("127.0.0.1", description="`aiops feed serve` listen address")
    feed_port: int = Field(9108, description="`aiops feed serve` port (JSON feed, /healthz and /metrics)")
    feed_max_records: int = Field(500, ge=1, description="latest records the feed keeps per topic")

    # The on-call console (console/): the output topics live, and approvals signed in the browser
    console_host: str = Field("127.0.0.1", description="`aiops console` listen address")
    console_port: int = Field(8789, description="`aiops console` listen port")
    console_read_auth: Literal["token", "none"] = Field(
        "token", description="token: reading needs the read token; none: only behind a proxy that authenticates")
    console_read_token: SecretStr | None = Field(
        None, description="the read token; unset means a random one per start, printed in the console's URL")
    console_max_records: int = Field(500, ge=1, description="latest records the console keeps per topic")

    # Log templates (streams/logtemplates): drain3 per service, masking, surging and new error templates
    log_mask_rules: list[dict[str, str]] = Field(
        default_factory=list, description="extra masking rules, JSON [{name, regex, mask}], run before the "
        "defaults; a rule named like a default replaces it")
    log_mask_disabled: list[str] = Field(
        default_factory=list, description="default masking rules to turn off, JSON array of names (timestamp, "
        "uuid, ipv6, ipv4, hex, duration, size, path, number)")
    log_template_sim_th: float = Field(0.4, gt=0, le=1, description="drain similarity needed to join a template")
    log_template_depth: int = Field(4, ge=3, description="drain prefix-tree depth")
    log_template_max_children: int = Field(100, ge=2, description="drain children per tree node")
    log_template_max_clusters: int = Field(
        1000, ge=1, description="templates kept per service (least recently used go); bounds the saved state")
    log_template_parametrize_numeric_tokens: bool = Field(True, description="tokens with digits route as wildcards")
    log_template_extra_delimiters: list[str] = Field(
        default_factory=list, description="token delimiters besides whitespace, JSON array")
    log_rate_bucket_s: int = Field(10, ge=1, description="event-time bucket of template counts")
    log_rate_window_s: int = Field(60, ge=1, description="window judged for surges, a multiple of the bucket")
    log_rate_baseline_half_life_s: float = Field(1800.0, gt=0, description="half-life of a template's baseline")
    log_rate_surge_factor: float = Field(5.0, gt=1, description="window count over baseline that is a surge")
    log_rate_surge_min_count: int = Field(5, ge=1, description="fewer lines in the window never surge")
    log_rate_examples: int = Field(3, ge=0, description="example lines kept per template per window")
    log_rate_forget_after_s: float = Field(86400.0, gt=0, description="templates idle this long are forgotten")

    # Correlation (streams/correlation)
    correlation_allowed_lateness_s: float = Field(120.0, ge=0, description="events older than the latest event "
                                                  "time minus this are reported as late, not correlated")
    correlation_group_gap_s: float = Field(300.0, gt=0, description="alerts this close in event time may group")
    correlation_graph_hops: int = Field(2, ge=0, description="services this many dependency edges apart group")
    incident_quiet_period_s: float = Field(300.0, ge=0, description="resolved once all alerts resolved and "
                                           "nothing new arrived for this long")
    incident_snapshot_interval_s: float = Field(5.0, ge=0, description="at most one update per incident per interval")
    correlation_tick_s: float = Field(1.0, gt=0, description="how often time-based incident work runs")
    edge_flush_s: float = Field(1.0, gt=0, description="how often learned dependency edges are sent on")
    span_slow_factor: float = Field(5.0, gt=1, description="a span this many times its operation's baseline is slow")
    span_min_samples: int = Field(20, ge=1, description="spans per operation before slowness is judged")
    correlation_scope_labels: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="resource attributes or labels whose values form the correlation scope "
        "(e.g. k8s.cluster.name,deployment.environment): signals are keyed by it, so scopes correlate apart and "
        "spread over aiops.signals' partitions; empty: one scope")

    # Condensing (streams/condense): log lines and spans counted per key and bucket before Faust sees them
    condense_flush_s: float = Field(5.0, gt=0, description="how often a condensing process writes its counts and "
                                    "commits (one Kafka transaction with the input offsets); each flush writes one "
                                    "record per active key, so shorter means fresher evidence and more Faust events")
    condense_max_batch: int = Field(50_000, ge=1, description="input messages a condensing process reads "
                                    "before it flushes, whatever the time")
    condense_instance_id: str | None = Field(
        None, description="this condensing process's stable name (e.g. the pod name), part of its transactional "
        "id: a restarted process with the same name aborts what its predecessor left open at once; unset: "
        "host and pid, and a crashed process's open flush blocks read_committed readers until it times out (30 s)")
    condense_trace_stats: bool = Field(False, description="the span condenser also holds each trace until it goes "
                                       "quiet and reads it whole, for the span detector (own time, time on the "
                                       "wire, entry latency); it costs about half the stage's spans/s, so it is off "
                                       "by default: counts and edges only")
    condense_in_worker: bool = Field(True, description="`aiops worker` runs the condensing loops in threads; "
                                     "false when `aiops condense logs|spans` run as processes of their own")
    canonical_lines: Literal["off", "all"] = Field(
        "all", description="all (default): the normalize agents write every log line and span to aiops.logs / "
        "aiops.spans, where root-cause analysis joins them per trace (mine_logs, profile_traces: per-operation "
        "latency, own time, wire time, own errors and log patterns); the condensers do not run in the worker. "
        "off: line-rate mode: the condensers count lines and spans straight from the raw inputs and Faust reads "
        "only their aggregates (template rates, operation errors and slowness, edges, and per-service span "
        "statistics of whole traces read in the span condenser); nothing is written per line, so log lines "
        "are not joined to requests: no log patterns (README \"Condensing\")")

    # Root-cause analysis: anomalies from spans, log patterns and metrics (streams/anomaly, streams/metrics)
    rca_bucket_s: int = Field(10, ge=1, description="event-time bucket of span statistics")
    rca_trace_idle_s: float = Field(5.0, gt=0, description="a trace is read once no span came for this long")
    rca_bucket_grace_s: float = Field(15.0, ge=0, description="a bucket of span statistics closes this long "
                                      "after its end (event time), so late spans and log lines still count")
    rca_window_buckets: int = Field(3, ge=1, description="recent buckets judged for latency, errors and calls")
    rca_pattern_window_buckets: int = Field(6, ge=1, description="recent buckets judged for log patterns")
    rca_z_min: float = Field(4.0, gt=0, description="robust deviations (median/MAD) above the baseline that count")
    rca_metric_bucket_s: int = Field(15, ge=1, description="event-time bucket of metric series (about the "
                                     "scrape interval: each bucket is one value of the baseline)")
    rca_metric_roles: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="what other metrics mean, JSON {name: {role, direction (up|down), "
        "floor, floor_rel, cause}}; the OpenTelemetry CPU, memory and request-duration names are known")
    rca_ranking: Literal["blame", "walk"] = Field(
        "blame", description="how root causes are ranked across the call graph: blame propagation or a "
        "personalised random walk")
    incident_open_score: float = Field(8.0, gt=0, description="anomaly scores (0-10 each, symptoms count half) "
                                       "of connected services that open an incident without an alert")
    incident_open_min_evidence: int = Field(2, ge=1, description="anomalies needed to open an incident")
    anomaly_evidence_window_s: float = Field(180.0, gt=0, description="anomaly evidence ages out this long "
                                             "(event time) after it was last seen")
    anomaly_join_hops: int = Field(1, ge=0, description="an anomaly joins a live incident holding a service "
                                   "this many call edges away")
    log_code_location_fields: FieldList = Field(
        ["code.function.name", "code.function", "code.namespace", "code.file.path", "code.filepath",
         "code.line.number", "code.lineno", "logger", "logger_name", "log.logger", "caller"],
        description="log record attributes that say where in the code a line was written (part of its event type)")

    @model_validator(mode="before")
    @classmethod
    def _addresses_follow_ports(cls, data: Any) -> Any:
        # Moving the local stack to other ports moves the clients with it, unless set explicitly.
        if isinstance(data, dict):
            data = dict(data)
            if "kafka_bootstrap" not in data and "kafka_port" in data:
                data["kafka_bootstrap"] = f"127.0.0.1:{data['kafka_port']}"
            if "opa_url" not in data and "opa_port" in data:
                data["opa_url"] = f"http://127.0.0.1:{data['opa_port']}"
        return data

    def topic(self, name: str) -> str:
        """The full topic name for a catalog name, with the configured prefix."""
        return f"{self.topic_prefix}{name}"

    def masked(self) -> dict[str, Any]:
        """Effective settings for display: secrets replaced by a mask, paths as strings."""
        shown: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = "**********" if value.get_secret_value() else ""
            elif isinstance(value, Path):
                value = str(value)
            shown[name] = value
        return shown
