"""Resource attributes carried from canonical records through the condensed signals into incidents: which pod,
node, namespace, environment and version failed, and the exception a failing span recorded."""

from __future__ import annotations

from datetime import timedelta

from aiops.core.avro import SchemaSet, SingleObjectCodec
from aiops.core.paths import PROJECT_ROOT
from streams.anomaly.traces import TraceCondenser, TraceCondenserConfig
from streams.correlation.signals import AlertSignal, decode_signal, encode_signal
from streams.logtemplates.miner import MinerConfig
from streams.logtemplates.rates import RateConfig
from streams.logtemplates.tracker import TemplateTracker
from streams.records import LogRecord, Placement, Resource, Severity, Span, SpanEvent
from tests.streams.correlation.builders import CASCADE_EDGES, alert, at, edges
from tests.streams.correlation.test_engine import latest, run

POD = Resource(deployment_environment="prod", k8s_namespace="shop", k8s_pod="orders-db-0", k8s_node="node-3",
               host_name="node-3", service_version="15.4")
PLACED = Placement(service="orders-db", environment="prod", namespace="shop", pod="orders-db-0", node="node-3",
                   host="node-3", version="15.4")


def failing_span() -> Span:
    return Span(trace_id="ab" * 16, span_id="cd" * 8, service="orders-db", name="SELECT", start_time=at(5),
                end_time=at(35), duration_ms=30000.0, status="error", status_message="timeout", resource=POD,
                events=[SpanEvent(name="exception", time=at(35), attributes={
                    "exception.type": "QueryCanceled", "exception.message": "canceling statement due to timeout",
                    "exception.stacktrace": "QueryCanceled: canceling statement\n" + "  at frame\n" * 1000})])


def error_signal(span: Span):
    stage = TraceCondenser(TraceCondenserConfig())
    stage.add_span(span)
    [signal] = stage.drain_errors()
    return signal


def test_span_signal_names_where_it_ran_and_its_exception():
    signal = error_signal(failing_span())
    assert signal.placement == PLACED
    assert (signal.exception_type, signal.exception_message) == ("QueryCanceled",
                                                                 "canceling statement due to timeout")
    assert signal.exception_stacktrace.startswith("QueryCanceled") and len(signal.exception_stacktrace) == 4000
    assert decode_signal(encode_signal(signal)) == signal  # survives aiops.signals


def test_log_signal_names_the_pods_that_logged_it():
    tracker = TemplateTracker(MinerConfig(), RateConfig(), {}, {})
    signals = []
    for i in range(40):
        pod = f"orders-db-{i % 2}"
        signals += tracker.observe(LogRecord(
            time=at(i * 0.1), observed_time=at(i * 0.1), service="orders-db", severity=Severity.error,
            level="ERROR", message="FATAL: remaining connection slots are reserved", source="otlp",
            resource=Resource(k8s_pod=pod, k8s_namespace="shop", deployment_environment="prod")))
    assert signals, "a new error template is signalled"
    assert {p.pod for p in signals[-1].placements} <= {"orders-db-0", "orders-db-1"}
    assert all(p.namespace == "shop" and p.environment == "prod" for p in signals[-1].placements)


def test_incident_says_which_pod_node_namespace_environment_and_version():
    signal = error_signal(failing_span())
    labelled = alert("OrdersApiHigh5xxRate", "orders-api", 10).model_copy(update={"labels": {
        "alertname": "OrdersApiHigh5xxRate", "service": "orders-api", "namespace": "shop", "pod": "orders-api-5x",
        "env": "prod"}})
    _correlator, outputs = run([*edges(CASCADE_EDGES), AlertSignal(alert=alert("PgDown", "orders-db", 6)),
                                signal, AlertSignal(alert=labelled)])
    [incident] = latest(outputs).values()
    assert PLACED.model_dump() in incident["placements"]
    assert {"service": "orders-api", "environment": "prod", "namespace": "shop", "pod": "orders-api-5x",
            "node": None, "host": None, "version": None} in incident["placements"]
    [evidence] = incident["span_evidence"]
    assert evidence["exception_type"] == "QueryCanceled"
    # The snapshot is a valid Incident of the current schema, and an old reader still reads it.
    schemas = SchemaSet.load(PROJECT_ROOT / "schemas")
    record = {**incident, "updated_at": incident["updated_at"] + timedelta(0)}
    data = SingleObjectCodec(schemas["Incident"]).encode(record)
    old = next(s for s in schemas.history if s.full_name == "io.aiops.Incident")
    read_by_old = SingleObjectCodec(old, [schemas["Incident"]]).decode(data)
    assert "placements" not in read_by_old and read_by_old["span_evidence"][0]["message"] == "timeout"
