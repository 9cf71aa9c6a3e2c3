"""correlate_signals: the correlator over aiops.signals, state in changelog-backed tables, incident
snapshots to the compacted aiops.incidents topic."""

from __future__ import annotations

import asyncio
import logging
import time

import faust
from pydantic import ValidationError

from aiops.core import metrics
from aiops.core.errors import AiopsError
from aiops.memory.client import OnDemandMemoryClient
from aiops.memory.enrich import asimilar_for_incident
from streams.agents._deadletters import dead_letter
from streams.agents.forward_alerts import SCOPE
from streams.app import StreamContext
from streams.correlation.engine import CorrelationConfig, Correlator, Rejected, Snapshot, Tables, Tombstone
from streams.correlation.signals import TickSignal, decode_signal, encode_signal

log = logging.getLogger(__name__)


class LateEventError(AiopsError):
    """A signal older than the allowed lateness."""


class UncorrelatedSignalError(AiopsError):
    """A well-formed signal the correlator cannot place (e.g. a resolve for an alert never seen firing)."""


def config_from(ctx: StreamContext) -> CorrelationConfig:
    s = ctx.settings
    return CorrelationConfig(
        allowed_lateness_s=s.correlation_allowed_lateness_s, group_gap_s=s.correlation_group_gap_s,
        graph_hops=s.correlation_graph_hops, quiet_period_s=s.incident_quiet_period_s,
        snapshot_interval_s=s.incident_snapshot_interval_s,
    )


def register(app: faust.App, ctx: StreamContext) -> None:
    signals_topic = app.topic(ctx.topic("aiops.signals"), key_serializer="raw", value_serializer="raw",
                              partitions=1)
    incidents_topic = app.topic(ctx.topic("aiops.incidents"), key_serializer="raw", value_serializer="raw")
    dlq = app.topic(ctx.topic("aiops.signals.dlq"), key_serializer="raw", value_serializer="raw")
    codec = ctx.codec("Incident", "aiops.incidents")

    def table(name: str) -> faust.Table:
        return app.Table(name, partitions=1)  # JSON keys and values by default

    correlator = Correlator(config_from(ctx), Tables(
        incidents=table("incident_id_to_state"),
        fingerprint_to_incident=table("fingerprint_to_incident"),
        trace_to_incident=table("trace_to_incident"),
        edges=table("edge_to_stats"),
        service_to_recent_evidence=table("service_to_recent_evidence"),
        counters=table("counter_to_value"),
    ))

    memory = OnDemandMemoryClient(ctx.settings)
    similar_cache: dict[str, tuple[tuple, list[dict]]] = {}  # open incidents only: dropped when resolved

    async def similar_incidents(record: dict) -> list[dict]:
        """Past incidents, postmortems and runbooks like this one: best effort, cached until the incident changes."""
        signature = (tuple(record["services"]), tuple(sorted(a["name"] for a in record["alerts"])),
                     record["root_cause"]["service"], tuple(e["template_id"] for e in record["log_evidence"]))
        cached = similar_cache.get(record["id"])
        if not (cached and cached[0] == signature):
            try:
                similar = await asyncio.wait_for(asimilar_for_incident(record, memory()),
                                                 ctx.settings.memory_timeout_s)
                cached = similar_cache[record["id"]] = (signature, similar)
            except (AiopsError, TimeoutError) as exc:
                log.debug("no similar incidents for %s: %s", record["id"], exc)
        if record["status"] == "resolved":
            similar_cache.pop(record["id"], None)
        return cached[1] if cached else []

    @app.agent(signals_topic, name="correlate_signals")
    async def correlate_signals(stream):
        async for event in stream.events():
            try:
                signal = decode_signal(event.value)
            except ValidationError as exc:
                await dead_letter(dlq, event, exc)
                continue
            for output in correlator.handle(signal, time.time()):
                if isinstance(output, Snapshot):
                    record = {**output.record, "similar_incidents": await similar_incidents(output.record)}
                    # Buffered: Faust flushes the producer before it commits the offsets of these events.
                    await incidents_topic.send(key=output.incident_id.encode(), value=codec.encode(record))
                    metrics.INCIDENT_SNAPSHOTS.labels(record["status"]).inc()
                elif isinstance(output, Tombstone):
                    await incidents_topic.send(key=output.incident_id.encode(), value=None)
                elif isinstance(output, Rejected):
                    error_type = LateEventError if output.error == "LateEventError" else UncorrelatedSignalError
                    if error_type is LateEventError:
                        metrics.LATE_EVENTS.inc()
                    await dead_letter(dlq, event, error_type(output.reason))
            if isinstance(signal, TickSignal):  # counting scans every incident: once per tick, not per signal
                metrics.INCIDENTS_OPEN.set(correlator.open_count())

    @app.timer(interval=ctx.settings.correlation_tick_s, name="send_correlation_tick")
    async def send_correlation_tick():
        await signals_topic.send(key=SCOPE, value=encode_signal(TickSignal(now=time.time())))
