"""correlate_signals: the correlator (streams/correlation/engine.py) over aiops.signals, its state in
changelog-backed tables, incident snapshots enriched with similar past incidents to the compacted
aiops.incidents topic; rejected signals go to aiops.signals.dlq with the correlator's error."""

from __future__ import annotations

import time

import faust

from aiops.core import metrics
from aiops.core.deadletter import ConsumedMessage
from aiops.core.errors import SerializationError
from aiops.core.topics import INCIDENTS, SIGNALS
from aiops.memory.client import OnDemandMemoryClient
from aiops.memory.enrich import asimilar_for_incident
from aiops.memory.similar import SimilarIncidents
from streams.app import StreamContext
from streams.correlation.engine import CorrelationConfig, Correlator, Tables
from streams.correlation.errors import LateEventError
from streams.correlation.outputs import Rejected, Snapshot, Tombstone
from streams.correlation.signals import Signal, TickSignal, decode_signal, encode_signal
from streams.output_records import Incident
from streams.scopes import home_partition, scope_of_key, scoped, scopes_in
from streams.topics import Input, raw_topic


def signal_of(value: bytes | None) -> Signal:
    if value is None:
        raise SerializationError("signal record has no value")
    return decode_signal(value)


def register(app: faust.App, ctx: StreamContext) -> None:
    signals = Input.declare(app, ctx, SIGNALS, signal_of)
    partitions = ctx.settings.default_partitions  # aiops.signals and the tables, co-partitioned
    incidents_topic = raw_topic(app, ctx, INCIDENTS)
    codec = ctx.codec("Incident", INCIDENTS)
    config = CorrelationConfig.from_settings(ctx.settings)

    def table(name: str) -> faust.types.TableT:
        return app.Table(name, partitions=partitions)  # JSON keys and values by default

    tables = Tables(
        incidents=table("incident_id_to_state"),
        fingerprint_to_incident=table("fingerprint_to_incident"),
        trace_to_incident=table("trace_to_incident"),
        edges=table("edge_to_stats"),
        service_to_recent_evidence=table("service_to_recent_evidence"),
        counters=table("counter_to_value"),
        service_to_anomalies=table("service_to_anomalies"),
    )
    correlators: dict[str, Correlator] = {}  # one per correlation scope, each over its part of the tables

    def correlator_for(scope: str) -> Correlator:
        if scope not in correlators:
            correlators[scope] = Correlator(config, Tables(**{
                name: scoped(getattr(tables, name), scope) for name in tables.__dataclass_fields__}))
        return correlators[scope]

    def scopes_for(message: ConsumedMessage, signal: Signal) -> list[str]:
        """A signal belongs to the scope of its key; a tick, to every scope whose home is its partition (so
        a scope's state changes only while its own partition is processed, as the changelogs need)."""
        if not isinstance(signal, TickSignal):
            return [scope_of_key(message.key)]
        known = scopes_in(tables.incidents) | set(correlators)
        return sorted(s for s in known if home_partition(s, partitions) == message.partition)

    memory = OnDemandMemoryClient(ctx.settings)
    similar = SimilarIncidents(lambda incident: asimilar_for_incident(incident, memory()),
                               ctx.settings.memory_timeout_s)

    @app.agent(signals.topic, name="correlate_signals")
    async def correlate_signals(stream: faust.StreamT) -> None:
        async for message, signal in signals.decoded(stream):
            outputs = [out for scope in scopes_for(message, signal)
                       for out in correlator_for(scope).handle(signal, time.time())]
            for output in outputs:
                if isinstance(output, Snapshot):
                    incident = Incident.from_avro(
                        {**output.record, "similar_incidents": await similar.for_snapshot(output.record)})
                    # Buffered: Faust flushes the producer before it commits the offsets of these events.
                    await incidents_topic.send(key=incident.id.encode(), value=codec.encode(incident.to_avro()))
                    metrics.INCIDENT_SNAPSHOTS.labels(incident.status.value).inc()
                elif isinstance(output, Tombstone):
                    await incidents_topic.send(key=output.incident_id.encode(), value=None)
                elif isinstance(output, Rejected):
                    if isinstance(output.error, LateEventError):
                        metrics.LATE_EVENTS.inc()
                    await signals.reject(message, output.error)
            if isinstance(signal, TickSignal):  # counting scans every incident: once per tick, not per signal
                metrics.INCIDENTS_OPEN.set(sum(1 for raw in tables.incidents.values()
                                               if raw.get("status") != "resolved"))

    @app.timer(interval=ctx.settings.correlation_tick_s, name="send_correlation_tick")
    async def send_correlation_tick() -> None:
        # One tick to every partition: each runs the time-based work of the scopes that live there.
        tick = encode_signal(TickSignal(now=time.time()))
        for partition in range(partitions):
            await signals.topic.send(key=b"tick", value=tick, partition=partition)
