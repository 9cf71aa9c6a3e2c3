"""Every stream agent dead-letters what it cannot decode to `<topic>.dlq`, with the error in headers, and keeps
going: one real worker running the correlate and triage groups on its own topics."""

from __future__ import annotations

from aiops.core.avro import SingleObjectCodec
from aiops.core.deadletter import read_headers
from aiops.core.topics import ALERTS, EXECUTIONS, INCIDENTS, LOGS, SIGNALS, SPANS
from tests.processes import WorkerProcess
from tests.samples import SCHEMAS
from tests.streams.correlation import telemetry as tm

ALERT_CODEC = SingleObjectCodec(SCHEMAS["Alert"])
GARBAGE = b"\xc3\x01 not an Avro record"


def test_undecodable_records_go_to_their_dead_letter_topics_and_the_agents_keep_going(
        services, tmp_path, kafka_produce, topic_reader):
    worker = WorkerProcess(services.kafka_bootstrap, ["correlate", "triage"], tmp_path,
                           env={"AIOPS_INCIDENT_SNAPSHOT_INTERVAL_S": "0.5",
                                "AIOPS_MEMORY_SERVICE_URL": "http://127.0.0.1:9"}).start()
    try:
        names = (ALERTS, LOGS, SPANS, SIGNALS, INCIDENTS, EXECUTIONS)
        readers = {name: topic_reader(worker.topic(f"{name}.dlq")) for name in names}
        incidents = topic_reader(worker.topic(INCIDENTS))
        for name in names:
            kafka_produce(worker.topic(name), [(b"bad-key", GARBAGE)])
        for name, reader in readers.items():
            [letter] = reader.wait_until(lambda recs: len(recs) >= 1, 90, f"the dead letter on {name}.dlq",
                                         diagnostics=worker.logs)
            headers = read_headers(letter.headers)
            assert (letter.key, letter.value) == (b"bad-key", GARBAGE), name
            assert headers["aiops.original.topic"] == worker.topic(name)
            assert headers["aiops.error.class"] and headers["aiops.error.message"], headers
        # Still running: a good alert after the bad records becomes an incident.
        alert = tm.alert(tm.Clock(), "PostgresConnectionsNearLimit", "orders-db", 0)
        kafka_produce(worker.topic(ALERTS), [(b"orders-db", ALERT_CODEC.encode(alert.to_avro()))])
        incidents.wait_until(lambda recs: any(r.value for r in recs), 60, "an incident after the bad records",
                             diagnostics=worker.logs)
        assert worker.alive
    finally:
        worker.stop()
