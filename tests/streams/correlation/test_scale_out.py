"""Correlation scales out: signals keyed by correlation scope spread over aiops.signals' partitions, and two
worker processes sharing them make the same incidents as one worker alone."""

from __future__ import annotations

import time

import pytest
from confluent_kafka.admin import AdminClient

from streams.scopes import home_partition
from tests.kafka_io import produce
from tests.processes import WorkerProcess
from tests.streams.correlation import telemetry as tm
from tests.streams.correlation.test_scenarios import CODECS, FAST, Scenario

pytestmark = pytest.mark.integration

CLUSTERS = ["eu-1", "us-1", "ap-1", "eu-2"]
PARTITIONS = 3
# The line-rate mode: its span condenser keys operation stats and edges by scope. (The per-line root-cause
# stages send their signals in the default scope: README "Correlation scopes".)
SCOPED = {**FAST, "AIOPS_CORRELATION_SCOPE_LABELS": "k8s.cluster.name", "AIOPS_CANONICAL_LINES": "off"}


def telemetry_of(clock: tm.Clock) -> tuple[list, list]:
    """Per cluster: orders-db fails and orders-api (which calls it) follows; search-api fails on its own."""
    alerts, spans = [], []
    for n, cluster in enumerate(CLUSTERS):
        label = {"k8s.cluster.name": cluster}
        for i in range(3):
            trace = 0x7000 + 100 * n + i
            chain = tm.call_chain(clock, trace, [("orders-api", "GET /orders")], 10 + i)
            spans += [s.model_copy(update={"attributes": label}) for s in
                      chain + [tm.datastore_call(clock, trace, "orders-api", "orders-db", 10 + i, chain[-1].span_id)]]
        for name, service, at in (("PostgresConnectionsNearLimit", "orders-db", 60),
                                  ("OrdersApiHigh5xxRate", "orders-api", 70), ("SearchDown", "search-api", 65)):
            alert = tm.alert(clock, name, service, at, fingerprint=f"{cluster}-{name}")
            alerts.append(alert.model_copy(update={"labels": {**alert.labels, **label}}))
    return alerts, spans


def run(workers: list[WorkerProcess], alerts: list, spans: list) -> list[tuple]:
    first = workers[0]
    scenario = Scenario(first)
    produce(first.settings.kafka_bootstrap, first.topic("aiops.spans"),
            [(s.trace_id.encode(), CODECS["Span"].encode(s.to_avro())) for s in spans])
    scenario.send_alerts(alerts)
    expected = {("orders-api", "orders-db"): 2, ("search-api",): 1}

    def settled(incidents: dict[str, dict]) -> bool:
        shapes = [tuple(i["services"]) for i in incidents.values()]
        return len(incidents) == 2 * len(CLUSTERS) and all(
            shapes.count(shape) == len(CLUSTERS) and all(len(i["alerts"]) == alerts_in for i in incidents.values()
                                                         if tuple(i["services"]) == shape)
            for shape, alerts_in in expected.items())

    incidents = scenario.wait_for(settled, f"two incidents in each of {len(CLUSTERS)} clusters", timeout=120)
    # By content, not id: an incident's id is its first alert's, and alerts of different services come
    # through different partitions of aiops.alerts, in either order.
    return sorted((tuple(i["services"]), tuple(sorted(a["fingerprint"] for a in i["alerts"])),
                   i["root_cause"]["service"]) for i in incidents.values())


def assignments(workers: list[WorkerProcess]) -> list[set[int]]:
    """The aiops.signals partitions each member of the workers' consumer group owns."""
    admin = AdminClient({"bootstrap.servers": workers[0].settings.kafka_bootstrap})
    group = workers[0].settings.topic("aiops-streams")
    description = admin.describe_consumer_groups([group])[group].result(timeout=10)
    signals = workers[0].topic("aiops.signals")
    return [{tp.partition for tp in member.assignment.topic_partitions if tp.topic == signals}
            for member in description.members]


def test_the_clusters_spread_over_the_partitions():
    assert len({home_partition(cluster, PARTITIONS) for cluster in CLUSTERS}) >= 2


def test_two_workers_make_the_same_incidents_as_one(services, tmp_path):
    clock = tm.Clock()
    alerts, spans = telemetry_of(clock)

    alone = WorkerProcess(services.kafka_bootstrap, ["correlate"], tmp_path, env=SCOPED, partitions=PARTITIONS,
                          name="alone").start()
    try:
        one = run([alone], alerts, spans)
    finally:
        alone.stop()

    pair = [WorkerProcess(services.kafka_bootstrap, ["correlate"], tmp_path, env=SCOPED, partitions=PARTITIONS,
                          name="first").start()]
    pair.append(WorkerProcess(services.kafka_bootstrap, ["correlate"], tmp_path, env=SCOPED, partitions=PARTITIONS,
                              prefix=pair[0].prefix, name="second").start())
    try:
        deadline = time.monotonic() + 90
        while True:  # both workers in the group, each with part of aiops.signals, before any signal is sent
            try:
                owned = assignments(pair)
            except Exception:  # the group may not exist yet
                owned = []
            if len(owned) == 2 and all(owned) and set().union(*owned) == set(range(PARTITIONS)):
                break
            assert time.monotonic() < deadline, f"the two workers did not share aiops.signals: {owned}\n" + \
                pair[0].logs() + pair[1].logs()
            time.sleep(1)
        two = run(pair, alerts, spans)
    finally:
        for worker in pair:
            worker.stop()

    assert two == one
    assert {services for services, _, _ in one} == {("orders-api", "orders-db"), ("search-api",)}
    assert all(root == "orders-db" for services, _, root in one if "orders-db" in services)
    # each incident holds one cluster's alerts only: scopes never mix
    assert all(len({fingerprint.split("-", 2)[0] + fingerprint.split("-", 2)[1] for fingerprint in fingerprints}) == 1
               for _, fingerprints, _ in one)
