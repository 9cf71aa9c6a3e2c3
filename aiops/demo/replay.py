"""`aiops replay FILE`: plays recorded telemetry into the input topics at a chosen speed.

The format (JSON Lines, the demo's own scenarios use it):
- line 1, a header: {"scenario": NAME, "recorded_at": RFC3339, "description": TEXT}
- every other line, one record: {"at": seconds after the start, "topic": an input topic of the catalog
  (aiops.alerts.raw, aiops.logs.raw, otlp_spans, otlp_logs, aiops.approvals), "key": string or null,
  "value": the JSON payload exactly as the producing tool writes it (Alertmanager webhook payload, a
  Vector/Fluent Bit JSON log line, an OTLP/JSON export request)} — or, instead of "value", "value_text": a
  string sent as it is (UTF-8), for recording input that is not JSON at all

Records are produced in order, each at `at / speed` seconds after the replay starts. Unless told to keep
them, timestamps in the payloads are moved so that the recording happens now: RFC3339 strings under the
keys startsAt, endsAt, timestamp, @timestamp and time, and nanosecond strings under keys ending in
UnixNano (Alertmanager's "unset" 0001-01-01 time and zero nanos are left alone)."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiops.core.settings import Settings
from aiops.core.topics import INPUTS, OTLP_LOGS, OTLP_SPANS, RAW_ALERTS
from aiops.demo.errors import ReplayError

# The bundled scenario (package data, so an installed wheel has it too).
DEFAULT_SCENARIO = Path(__file__).resolve().parent / "scenarios" / "shop-cascade.jsonl"
TIME_KEYS = {"startsAt", "endsAt", "timestamp", "@timestamp", "time"}
REPLAYABLE_TOPICS = {spec.name for spec in INPUTS}


@dataclass(frozen=True)
class Recording:
    name: str
    recorded_at: datetime
    description: str
    records: list[dict[str, Any]]

    @property
    def duration_s(self) -> float:
        return self.records[-1]["at"] if self.records else 0.0


def load(path: Path) -> Recording:
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as exc:
        raise ReplayError(f"cannot read {path}: {exc}") from exc
    if not lines:
        raise ReplayError(f"{path} is empty")
    try:
        header = json.loads(lines[0])
        recorded_at = datetime.fromisoformat(header["recorded_at"].replace("Z", "+00:00"))
    except (ValueError, KeyError, TypeError) as exc:
        raise ReplayError(f"{path}:1: not a recording header ({exc})") from None
    records = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            at = float(record["at"])
            topic = record["topic"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ReplayError(f"{path}:{number}: not a record line ({exc})") from None
        if "value" not in record and "value_text" not in record:
            raise ReplayError(f"{path}:{number}: a record needs a value or a value_text")
        if topic not in REPLAYABLE_TOPICS:
            raise ReplayError(f"{path}:{number}: topic {topic!r} is not an input topic "
                              f"({', '.join(sorted(REPLAYABLE_TOPICS))})")
        records.append({**record, "at": at})
    return Recording(header.get("scenario", Path(path).stem), recorded_at, header.get("description", ""), records)


def shift_times(value: Any, shift: timedelta) -> Any:
    """A copy of a JSON payload with its timestamps moved by `shift`."""
    if isinstance(value, dict):
        shifted = {}
        for key, item in value.items():
            if key in TIME_KEYS and isinstance(item, str) and not item.startswith("0001-"):
                try:
                    moved = datetime.fromisoformat(item.replace("Z", "+00:00")) + shift
                    shifted[key] = moved.astimezone(UTC).isoformat().replace("+00:00", "Z")
                    continue
                except ValueError:
                    pass
            if key.endswith("UnixNano") and isinstance(item, str | int) and str(item).isdigit() and int(item) > 0:
                shifted[key] = str(int(item) + int(shift.total_seconds() * 1_000_000_000))
                continue
            shifted[key] = shift_times(item, shift)
        return shifted
    if isinstance(value, list):
        return [shift_times(item, shift) for item in value]
    return value


def schedule(recording: Recording, keep_times: bool = False, now: datetime | None = None
             ) -> Iterator[tuple[float, str, bytes | None, bytes]]:
    """(at, topic, key, value bytes) for each record, timestamps moved to `now` unless kept."""
    shift = timedelta(0) if keep_times else (now or datetime.now(UTC)) - recording.recorded_at
    for record in recording.records:
        key = record.get("key")
        if "value_text" in record:
            value = str(record["value_text"]).encode()
        else:
            value = json.dumps(shift_times(record["value"], shift), separators=(",", ":")).encode()
        yield record["at"], record["topic"], key.encode() if key is not None else None, value


# The HTTP paths through which the tools themselves would deliver a topic's records, when bridges are used.
BRIDGED_PATHS = {RAW_ALERTS: "/webhook", OTLP_SPANS: "/v1/traces", OTLP_LOGS: "/v1/logs"}


def replay(recording: Recording, settings: Settings, speed: float = 1.0, keep_times: bool = False,
           on_record: Callable[[int, str], None] = lambda n, topic: None,
           bridges: dict[str, str] | None = None) -> Counter:
    """Play the recording into the (prefixed) input topics, paced by `speed`; returns counts per topic.

    With `bridges` ({topic: base URL}), records of those topics go the way the tools send them: Alertmanager
    payloads to the bridge's /webhook, OTLP/JSON to the receiver's /v1/traces or /v1/logs. A bridge's 4xx
    for a bad record is counted as "<topic> refused by the bridge"; its 5xx stops the replay."""
    import httpx
    from confluent_kafka import KafkaException, Producer

    if speed <= 0:
        raise ReplayError("speed must be positive")
    bridges = bridges or {}
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "linger.ms": 10, "enable.idempotence": True})
    http = httpx.Client(timeout=30.0)
    counts: Counter = Counter()
    started = time.monotonic()
    try:
        for n, (at, topic, key, value) in enumerate(schedule(recording, keep_times), start=1):
            delay = started + at / speed - time.monotonic()
            if delay > 0:
                producer.poll(min(delay, 0.5))
                while (delay := started + at / speed - time.monotonic()) > 0:
                    producer.poll(min(delay, 0.5))
            if topic in bridges:
                response = http.post(bridges[topic].rstrip("/") + BRIDGED_PATHS[topic], content=value,
                                     headers={"Content-Type": "application/json"})
                if response.status_code >= 500:
                    raise ReplayError(f"the bridge for {topic} answered {response.status_code}: {response.text[:300]}")
                if response.status_code >= 400:
                    counts[f"{topic} refused by the bridge"] += 1
                    continue
            else:
                producer.produce(settings.topic(topic), key=key, value=value)
                producer.poll(0)
            counts[topic] += 1
            on_record(n, topic)
        undelivered = producer.flush(60)
    except KafkaException as exc:
        raise ReplayError(f"Kafka refused the replay: {exc}") from exc
    except httpx.HTTPError as exc:
        raise ReplayError(f"a bridge could not be reached: {exc}") from exc
    finally:
        http.close()
    if undelivered:
        raise ReplayError(f"{undelivered} records were not delivered within 60 s")
    return counts
