"""Correlation scenarios through the real broker and a real `aiops worker` process."""

from __future__ import annotations

import pytest

from aiops.core.avro import SchemaSet, SingleObjectCodec
from aiops.core.deadletter import read_headers
from aiops.core.paths import PROJECT_ROOT
from tests.kafka_io import TopicReader, produce
from tests.processes import WorkerProcess
from tests.streams.correlation import telemetry as tm

pytestmark = pytest.mark.integration

SCHEMAS = SchemaSet.load(PROJECT_ROOT / "schemas")
CODECS = {name: SingleObjectCodec(SCHEMAS[name]) for name in ("Alert", "Span", "LogRecord", "Incident")}

SHOP = [("web-frontend", "GET /checkout"), ("orders-api", "GET /orders")]
FAST = {"AIOPS_INCIDENT_SNAPSHOT_INTERVAL_S": "0.5", "AIOPS_INCIDENT_QUIET_PERIOD_S": "3",
        "AIOPS_SPAN_MIN_SAMPLES": "5", "AIOPS_CORRELATION_ALLOWED_LATENESS_S": "120"}


@pytest.fixture
def worker(services, tmp_path):
    process = WorkerProcess(services.kafka_bootstrap, ["correlate"], tmp_path, env=FAST)
    yield process
    process.stop()


class Scenario:
    """Produces canonical records to a worker's topics and reads its incidents."""

    def __init__(self, worker: WorkerProcess):
        self.worker = worker
        self.clock = tm.Clock()
        self.incidents = TopicReader(worker.settings.kafka_bootstrap, worker.topic("aiops.incidents"))
        self.dead_letters = TopicReader(worker.settings.kafka_bootstrap, worker.topic("aiops.signals.dlq"))

    def send_spans(self, spans) -> None:
        produce(self.worker.settings.kafka_bootstrap, self.worker.topic("aiops.spans"),
                [(s.trace_id.encode(), CODECS["Span"].encode(s.to_avro())) for s in spans])

    def send_alerts(self, alerts) -> None:
        produce(self.worker.settings.kafka_bootstrap, self.worker.topic("aiops.alerts"),
                [(a.service.encode(), CODECS["Alert"].encode(a.to_avro())) for a in alerts])

    def send_logs(self, lines) -> None:
        produce(self.worker.settings.kafka_bootstrap, self.worker.topic("aiops.logs"),
                [(line.service.encode(), CODECS["LogRecord"].encode(line.to_avro())) for line in lines])

    def healthy_traffic(self, start: float, traces: int = 10) -> None:
        self.send_logs([tm.log_line(self.clock, "orders-api", f"GET /orders/{1000 + i} 200 in {12 + i}ms", start + i)
                        for i in range(traces)])
        spans = []
        for i in range(traces):
            trace = 0x1000 + i + int(start) * 1000
            chain = tm.call_chain(self.clock, trace, SHOP, start + i)
            spans += chain + [tm.datastore_call(self.clock, trace, "orders-api", "orders-db", start + i,
                                                chain[-1].span_id)]
            spans += tm.call_chain(self.clock, trace + 500, [("inventory-api", "GET /stock")], start + i)
            spans.append(tm.datastore_call(self.clock, trace + 500, "inventory-api", "inventory-db", start + i,
                                           None))
        self.send_spans(spans)

    def latest(self) -> dict[str, dict]:
        """Incident id → latest snapshot (a tombstone removes the id)."""
        state: dict[str, dict] = {}
        for record in self.incidents.records:
            key = record.key.decode()
            if record.value is None:
                state.pop(key, None)
            else:
                incident = CODECS["Incident"].decode(record.value)
                if key not in state or incident["version"] >= state[key]["version"]:
                    state[key] = incident
        return state

    def wait_for(self, condition, what: str, timeout: float = 60.0) -> dict[str, dict]:
        self.incidents.wait_until(lambda _: condition(self.latest()), timeout, what,
                                  diagnostics=lambda: f"incidents: {self.summary()}\n{self.worker.logs()}")
        return self.latest()

    def summary(self) -> list:
        return [(i["id"], i["status"], i["services"], [a["name"] for a in i["alerts"]],
                 i["root_cause"]["service"]) for i in self.latest().values()]

    def close(self) -> None:
        self.incidents.close()
        self.dead_letters.close()


@pytest.fixture
def scenario(worker):
    s = Scenario(worker.start())
    yield s
    s.close()


def cascade_failure(s: Scenario, start: float) -> None:
    """orders-db runs out of connections; orders-api's calls fail; web-frontend errors follow."""
    spans = []
    for i in range(5):
        trace = 0x9000 + i
        chain = tm.call_chain(s.clock, trace, SHOP, start + i, failing_from=1)
        spans += chain + [tm.datastore_call(s.clock, trace, "orders-api", "orders-db", start + i,
                                            chain[-1].span_id, failing=True)]
    s.send_spans(spans)
    s.send_logs([tm.log_line(s.clock, "orders-db", "FATAL: remaining connection slots are reserved for "
                             f"non-replication superuser connections (client 10.4.2.{i})", start + i, level="error")
                 for i in range(8)]
                + [tm.log_line(s.clock, "orders-api", f"timeout acquiring connection from pool after {30000 + i}ms",
                               start + 2 + i, level="error", trace_id=f"{0x9000 + (i % 5):032x}") for i in range(8)])
    s.send_alerts([tm.alert(s.clock, "PostgresConnectionsNearLimit", "orders-db", start),
                   tm.alert(s.clock, "OrdersApiHigh5xxRate", "orders-api", start + 20)])
    s.send_alerts([tm.alert(s.clock, "FrontendErrorRateHigh", "web-frontend", start + 40)])


def test_cascading_failure_is_one_incident_with_the_database_as_root_cause(scenario):
    scenario.healthy_traffic(0)
    cascade_failure(scenario, 60)
    incidents = scenario.wait_for(
        lambda inc: any(len(i["alerts"]) == 3 and i["root_cause"]["service"] == "orders-db"
                        and {e["service"] for e in i["log_evidence"]} == {"orders-api", "orders-db"}
                        for i in inc.values()),
        "one incident with all three alerts, log evidence and orders-db as root cause")
    assert len(incidents) == 1, scenario.summary()
    incident = next(iter(incidents.values()))
    assert incident["services"] == ["orders-api", "orders-db", "web-frontend"]
    assert "orders-db" in incident["root_cause"]["reason"] and "deepest" in incident["root_cause"]["reason"]
    assert {s["service"] for s in incident["span_evidence"] if s["kind"] == "error"} >= {"orders-api",
                                                                                          "web-frontend"}
    assert all(len(s["trace_id"]) == 32 for s in incident["span_evidence"])
    pool = next(e for e in incident["log_evidence"] if e["service"] == "orders-api")
    assert "timeout acquiring connection from pool" in pool["template"] and pool["count"] >= 5
    assert pool["examples"] and pool["level"] in ("error", "ERROR")


def test_two_unrelated_failures_are_two_incidents(scenario):
    scenario.healthy_traffic(0)
    scenario.send_alerts([tm.alert(scenario.clock, "PostgresConnectionsNearLimit", "orders-db", 60),
                          tm.alert(scenario.clock, "InventoryDbDiskFull", "inventory-db", 61)])
    incidents = scenario.wait_for(lambda inc: len(inc) >= 2, "two incidents")
    assert sorted(tuple(i["services"]) for i in incidents.values()) == [("inventory-db",), ("orders-db",)]


def test_flapping_alert_stays_one_incident(scenario):
    alerts = []
    for cycle in range(20):
        alerts.append(tm.alert(scenario.clock, "SearchLatencyHigh", "search-api", 0))
        alerts.append(tm.alert(scenario.clock, "SearchLatencyHigh", "search-api", 0, status="resolved",
                               end=cycle * 5 + 2))
    alerts.append(tm.alert(scenario.clock, "SearchLatencyHigh", "search-api", 0))
    scenario.send_alerts(alerts)
    incidents = scenario.wait_for(
        lambda inc: any(i["alerts"][0]["status"] == "firing" and i["version"] >= 1 for i in inc.values())
        and scenario.incidents.records[-1].value is not None, "the flapping alert's incident")
    ids = {r.key for r in scenario.incidents.records}
    assert len(ids) == 1 and len(incidents) == 1


def test_late_events_inside_lateness_join_and_beyond_are_reported(scenario):
    scenario.healthy_traffic(0)
    scenario.send_alerts([tm.alert(scenario.clock, "PostgresConnectionsNearLimit", "orders-db", 300),
                          # out of order, 100 s earlier: within the 120 s lateness
                          tm.alert(scenario.clock, "OrdersApiHigh5xxRate", "orders-api", 200),
                          tm.alert(scenario.clock, "FrontendErrorRateHigh", "web-frontend", 310),
                          # 290 s behind the latest event time: beyond lateness
                          tm.alert(scenario.clock, "CheckoutSlow", "orders-api", 20, fingerprint="latecomer")])
    incidents = scenario.wait_for(lambda inc: any(len(i["alerts"]) == 3 for i in inc.values()),
                                  "the incident with the out-of-order alert")
    assert len(incidents) == 1
    assert "CheckoutSlow" not in [a["name"] for a in next(iter(incidents.values()))["alerts"]]
    late = scenario.dead_letters.wait_until(lambda recs: len(recs) >= 1, 30, "the late alert's dead letter")
    headers = read_headers(late[0].headers)
    assert headers["aiops.error.class"] == "LateEventError"
    assert "allowed lateness is 120s" in headers["aiops.error.message"]


def test_sigkill_mid_scenario_keeps_the_same_incidents(scenario, worker):
    scenario.healthy_traffic(0)
    scenario.send_alerts([tm.alert(scenario.clock, "PostgresConnectionsNearLimit", "orders-db", 60),
                          tm.alert(scenario.clock, "InventoryDbDiskFull", "inventory-db", 61)])
    scenario.send_logs([tm.log_line(scenario.clock, "orders-db", "FATAL: remaining connection slots are reserved "
                                    f"for non-replication superuser connections (client 10.4.1.{i})", 55 + i,
                                    level="error") for i in range(6)])
    before = scenario.wait_for(lambda inc: len(inc) >= 2 and any(i["log_evidence"] for i in inc.values()),
                               "the first two incidents, with the orders-db log template")
    template_before = next(e["template_id"] for i in before.values() for e in i["log_evidence"])
    worker.kill()
    cascade_failure(scenario, 62)  # produced while the worker is down
    scenario.send_alerts([tm.alert(scenario.clock, "InventoryApiErrors", "inventory-api", 70)])
    worker.start()
    incidents = scenario.wait_for(
        lambda inc: sum(len(i["alerts"]) for i in inc.values()) == 5
        and any(i["root_cause"]["service"] == "orders-db" and len(i["alerts"]) == 3 for i in inc.values()),
        "all five alerts in two incidents after the restart", timeout=90)
    assert len(incidents) == 2, scenario.summary()
    by_root = {i["root_cause"]["service"]: i for i in incidents.values()}
    assert set(by_root) == {"orders-db", "inventory-db"}
    assert len(by_root["inventory-db"]["alerts"]) == 2
    assert worker.starts == 2
    # The miner's state survived the crash: the same lines after the restart land in the same template.
    db_templates = [e for e in by_root["orders-db"]["log_evidence"] if e["service"] == "orders-db"]
    assert [e["template_id"] for e in db_templates] == [template_before]
