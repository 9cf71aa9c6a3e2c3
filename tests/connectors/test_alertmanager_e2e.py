"""End to end with a real Prometheus Alertmanager (built with `go install` at the pinned version), fired with
its own amtool: its webhook receiver points at `aiops connect alertmanager`; the alerts arrive on Kafka with
the fingerprints Alertmanager computed, and the resolve arrives as a resolved alert."""

from __future__ import annotations

import json
import subprocess
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aiops.core.avro import SingleObjectCodec
from aiops.core.deadletter import ERROR_MESSAGE
from aiops.demo.local_services import free_port
from aiops.stack import components
from streams.ingest.alerts import labels_fingerprint
from streams.records import Alert, Severity
from tests.kafka_io import TopicReader
from tests.processes import AIOPS, bridge_env, running
from tests.samples import SCHEMAS

pytestmark = pytest.mark.integration

TOKEN = "am-bridge-token"


def alertmanager_config(bridge_port: int) -> str:
    return f"""
route:
  receiver: aiops
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: aiops
    webhook_configs:
      - url: http://127.0.0.1:{bridge_port}/webhook
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: {TOKEN}
"""


def amtool(binary: Path, url: str, *args: str) -> str:
    result = subprocess.run([str(binary), f"--alertmanager.url={url}", *args], capture_output=True, text=True,
                            timeout=30, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_real_alertmanager_fires_and_resolves_through_the_bridge(settings, normalize_worker, tmp_path):
    binaries = {tool: components.binary(settings, tool) for tool in ("alertmanager", "amtool")}
    bridge_port, am_port = free_port(), free_port()
    am_url = f"http://127.0.0.1:{am_port}"
    (tmp_path / "alertmanager.yml").write_text(alertmanager_config(bridge_port))
    env = bridge_env(settings.kafka_bootstrap, normalize_worker.prefix, connect_bearer_token=TOKEN)
    name = f"DiskFull{uuid.uuid4().hex[:8]}"
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    fired = [  # (labels, annotations) fired with amtool
        ({"alertname": name, "service": "orders-db", "severity": "critical", "env": "prod"},
         {"summary": "orders-db volume 97% full"}),
        ({"alertname": name, "job": "payments-db", "severity": "warning", "env": "prod"}, {}),
        ({"alertname": name, "instance": "db-9:9100", "severity": "info"}, {}),  # no service label at all
        # Values in any script: the fingerprint is over the UTF-8 bytes.
        ({"alertname": name, "app": "søk-api", "severity": "P2", "zone": "東京-1", "a_long_label_name": "x" * 200},
         {}),
    ]

    with running([AIOPS, "connect", "alertmanager", "--port", str(bridge_port)], tmp_path / "bridge.log",
                 f"http://127.0.0.1:{bridge_port}/healthz", env=env), \
            running([str(binaries["alertmanager"]), f"--config.file={tmp_path / 'alertmanager.yml'}",
                     f"--storage.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{am_port}",
                     "--cluster.listen-address=", "--log.level=warn"],
                    tmp_path / "alertmanager.log", f"{am_url}/-/ready"):
        for labels, annotations in fired:
            amtool(binaries["amtool"], am_url, "alert", "add", *[f"{k}={v}" for k, v in labels.items()],
                   *[f"--annotation={k}={v}" for k, v in annotations.items()],
                   "--generator-url=http://prometheus:9090/graph", f"--start={rfc3339(started)}")
        queried = json.loads(amtool(binaries["amtool"], am_url, "-o", "json", "alert", "query", f"alertname={name}"))
        fingerprints = {next(a["labels"][n] for n in ("service", "job", "app", "instance") if n in a["labels"]):
                        a["fingerprint"] for a in queried}
        assert len(fingerprints) == 4
        # The generic format's fingerprint is Alertmanager's own algorithm.
        assert {labels_fingerprint(labels) for labels, _ in fired} == set(fingerprints.values())

        raw_topic = normalize_worker.topic("aiops.alerts.raw")
        with TopicReader(settings.kafka_bootstrap, raw_topic) as raw:
            ours = {fp.encode() for fp in fingerprints.values()}  # other tests write hostile messages here

            def statuses(wanted: str):
                return lambda rs: {r.key for r in rs if r.key in ours and json.loads(r.value)["status"] == wanted} \
                    == ours

            got = raw.wait_until(statuses("firing"), 60, "the firing alerts from Alertmanager",
                               diagnostics=lambda: (tmp_path / "bridge.log").read_text()[-2000:])
            firing = {r.key.decode(): json.loads(r.value) for r in got if r.key in ours}
            # What Alertmanager sends as each alert's fingerprint is what we compute for the same labels, so a
            # sender without fingerprints (Alertmanager before 0.19, look-alike tools) pairs up the same way.
            assert all(labels_fingerprint(alert["labels"]) == fp for fp, alert in firing.items())
            # And the same alerts posted as an Alertmanager before 0.19 would (no fingerprints) get the same keys.
            fields = ("status", "labels", "annotations", "startsAt", "endsAt", "generatorURL")
            older = {"version": "4", "receiver": "replayed", "status": "firing", "groupKey": "{}:{}",
                     "alerts": [{k: a[k] for k in fields} for a in firing.values()]}
            request = urllib.request.Request(f"http://127.0.0.1:{bridge_port}/webhook", json.dumps(older).encode(),
                                             {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=30) as answer:
                assert json.loads(answer.read())["records"] == 4
            replayed = raw.wait_until(lambda rs: sum(r.key in ours and json.loads(r.value)["receiver"] == "replayed"
                                                   for r in rs) == 4, 30, "the alerts posted without fingerprints")
            assert {r.key for r in replayed if r.key in ours and json.loads(r.value)["receiver"] == "replayed"} == ours
            orders = firing[fingerprints["orders-db"]]
            assert orders["fingerprint"] == fingerprints["orders-db"] and orders["status"] == "firing"
            assert orders["labels"] == fired[0][0] and orders["annotations"] == fired[0][1]
            assert orders["startsAt"].startswith(rfc3339(started)[:-1]) and orders["endsAt"].startswith("0001-01-01")
            assert orders["generatorURL"] == "http://prometheus:9090/graph" and orders["receiver"] == "aiops"

            # Resolve: the same alerts again, with an end in the past.
            ended = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
            for labels, annotations in fired:
                amtool(binaries["amtool"], am_url, "alert", "add", *[f"{k}={v}" for k, v in labels.items()],
                       *[f"--annotation={k}={v}" for k, v in annotations.items()],
                       "--generator-url=http://prometheus:9090/graph", f"--start={rfc3339(started)}",
                       f"--end={rfc3339(ended)}")
            raw.wait_until(statuses("resolved"), 60, "the resolved alerts from Alertmanager")

    codec = SingleObjectCodec(SCHEMAS["Alert"])
    with TopicReader(settings.kafka_bootstrap, normalize_worker.topic("aiops.alerts")) as canonical:
        def normalised(rs):
            alerts = [Alert.from_avro(codec.decode(r.value)) for r in rs]
            return [a for a in alerts if a.name == name]

        got = canonical.wait_until(lambda rs: {(a.service, a.status) for a in normalised(rs)} >= {
            ("orders-db", "firing"), ("payments-db", "firing"), ("orders-db", "resolved"),
            ("payments-db", "resolved")}, 60, "normalised firing and resolved alerts",
            diagnostics=normalize_worker.logs)
    alerts = {(a.service, a.status): a for a in normalised(got)}
    firing, resolved = alerts[("orders-db", "firing")], alerts[("orders-db", "resolved")]
    assert firing.fingerprint == resolved.fingerprint == fingerprints["orders-db"]
    assert firing.severity is Severity.critical and firing.source == "alertmanager"
    assert firing.starts_at == resolved.starts_at == started and firing.ends_at is None
    assert resolved.ends_at == ended
    assert alerts[("payments-db", "firing")].fingerprint == fingerprints["payments-db"]
    assert alerts[("payments-db", "firing")].severity is Severity.warning

    # The alert without a service is kept, with the reason, in the dead-letter topic.
    with TopicReader(settings.kafka_bootstrap, normalize_worker.topic("aiops.alerts.raw.dlq")) as dlq:
        letters = dlq.wait_until(lambda rs: sum(r.key == fingerprints["db-9:9100"].encode() for r in rs) >= 2, 60,
                               "the firing and resolved alert without a service")
    for letter in (r for r in letters if r.key == fingerprints["db-9:9100"].encode()):
        assert letter.headers[ERROR_MESSAGE] == "no service: none of labels service, job, app"
