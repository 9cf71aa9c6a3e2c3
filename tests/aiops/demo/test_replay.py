"""The replay format and the bundled scenario, played through normalisation and correlation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from aiops.core.avro import SchemaSet, SingleObjectCodec
from aiops.core.deadletter import read_headers
from aiops.core.paths import PROJECT_ROOT
from aiops.demo.replay import DEFAULT_SCENARIO, ReplayError, load, replay, schedule, shift_times
from tests.kafka_io import TopicReader
from tests.processes import WorkerProcess


def test_shift_times_moves_timestamps_and_leaves_unset_ones():
    shift = timedelta(hours=2)
    value = {"alerts": [{"startsAt": "2026-11-26T09:00:00Z", "endsAt": "0001-01-01T00:00:00Z"}],
             "timestamp": "2026-11-26T09:00:01.500000Z", "message": "2026-11-26T09:00:00Z stays text",
             "resourceSpans": [{"spans": [{"startTimeUnixNano": "1764147600000000000", "endTimeUnixNano": "0"}]}]}
    moved = shift_times(value, shift)
    assert moved["alerts"][0]["startsAt"] == "2026-11-26T11:00:00Z"
    assert moved["alerts"][0]["endsAt"] == "0001-01-01T00:00:00Z"
    assert moved["timestamp"] == "2026-11-26T11:00:01.500000Z"
    assert moved["message"] == value["message"]
    span = moved["resourceSpans"][0]["spans"][0]
    assert span["startTimeUnixNano"] == str(1764147600000000000 + 7200 * 10**9) and span["endTimeUnixNano"] == "0"


def test_bundled_scenario_loads_and_is_moved_to_now():
    recording = load(DEFAULT_SCENARIO)
    assert recording.name == "shop-cascade" and len(recording.records) > 1000
    assert {r["topic"] for r in recording.records} == {"aiops.alerts.raw", "aiops.logs.raw", "otlp_spans"}
    now = datetime.now(UTC)
    first_alert = next(json.loads(v) for _, t, _, v in schedule(recording, now=now) if t == "aiops.alerts.raw")
    starts = datetime.fromisoformat(first_alert["alerts"][0]["startsAt"].replace("Z", "+00:00"))
    assert abs((starts - now).total_seconds() - 28) < 1


def test_checked_in_scenario_is_what_the_generator_writes(capsys):
    from aiops.demo.scenario import main

    main()
    assert capsys.readouterr().out == DEFAULT_SCENARIO.read_text()


def test_bad_recordings_are_refused_with_the_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    header = '{"scenario": "x", "recorded_at": "2026-11-26T09:00:00Z"}'
    bad.write_text(header + '\n{"at": 1, "topic": "secrets", "value": {}}\n')
    with pytest.raises(ReplayError, match=r"bad.jsonl:2: topic 'secrets' is not an input topic"):
        load(bad)
    bad.write_text("not json\n")
    with pytest.raises(ReplayError, match="bad.jsonl:1: not a recording header"):
        load(bad)


@pytest.mark.integration
def test_bundled_scenario_through_normalize_and_correlate(services, tmp_path):
    worker = WorkerProcess(services.kafka_bootstrap, ["normalize", "correlate"], tmp_path,
                           env={"AIOPS_INCIDENT_SNAPSHOT_INTERVAL_S": "0.5", "AIOPS_INCIDENT_QUIET_PERIOD_S": "5"})
    worker.start()
    reader = TopicReader(services.kafka_bootstrap, worker.topic("aiops.incidents"))
    codec = SingleObjectCodec(SchemaSet.load(PROJECT_ROOT / "schemas")["Incident"])
    try:
        counts = replay(load(DEFAULT_SCENARIO), worker.settings, speed=40)
        assert counts["aiops.alerts.raw"] == 6

        def latest() -> dict[str, dict]:
            state: dict[str, dict] = {}
            for record in reader.records:
                if record.value is None:
                    state.pop(record.key.decode(), None)
                else:
                    incident = codec.decode(record.value)
                    if incident["version"] >= state.get(incident["id"], {"version": -1})["version"]:
                        state[incident["id"]] = incident
            return state

        def cascade_complete(_records) -> bool:
            return any(i["root_cause"]["service"] == "orders-db" and len(i["alerts"]) == 4
                       and i["log_evidence"] and i["span_evidence"] for i in latest().values())

        reader.wait_until(cascade_complete, 90, "the cascade incident with all evidence",
                          diagnostics=lambda: json.dumps([(i["id"], i["services"], i["root_cause"]["service"],
                                                           len(i["alerts"])) for i in latest().values()])
                          + worker.logs())
        incidents = list(latest().values())
        cascade = next(i for i in incidents if i["root_cause"]["service"] == "orders-db")
        assert cascade["services"][:4] and {"orders-db", "orders-api", "checkout-api", "web-frontend"} <= set(
            cascade["services"])
        assert {e["service"] for e in cascade["log_evidence"]} >= {"orders-api", "orders-db"}
        noise = [i for i in incidents if i["id"] != cascade["id"]]
        assert [n["services"] for n in noise] == [["recommendation-api"]]
        # The bad input and the late host are reported, not lost.
        for topic, error in (("aiops.logs.raw.dlq", None), ("otlp_spans.dlq", None),
                             ("aiops.signals.dlq", "LateEventError")):
            dead = TopicReader(services.kafka_bootstrap, worker.topic(topic))
            try:
                records = dead.wait_until(lambda recs: len(recs) >= 1, 30, f"a dead letter on {topic}")
                headers = read_headers(records[0].headers)
                assert headers["aiops.error.message"] and headers["aiops.original.topic"]
                if error:
                    assert headers["aiops.error.class"] == error and "backup-agent" in headers["aiops.error.message"]
                assert len(records) == 1, [read_headers(r.headers)["aiops.error.message"] for r in records]
            finally:
                dead.close()
    finally:
        reader.close()
        worker.stop()
