"""Memory that grows: a resolved incident, with the actions taken and their outcomes, becomes a memory record."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aiops.memory.client import AsyncMemoryClient, MemoryWriter
from aiops.memory.documents import SYMPTOM_WEIGHT, MemoryRecord
from aiops.memory.enrich import alert_words, strip_masks, unique_lines


def _action_line(taken: Mapping[str, Any]) -> str:
    parameters = taken.get("parameters") or {}
    params = " ".join(f"{name}={value}" for name, value in parameters.items()) if isinstance(parameters, Mapping) \
        else str(parameters)
    return f"action {taken.get('action', '')} {params} -> {taken.get('status', 'unknown')}".replace("  ", " ")


def incident_record(incident: Mapping[str, Any], actions: Sequence[Mapping[str, Any]] = ()) -> MemoryRecord:
    """The memory record (kind "incident", id = the incident id) of a resolved incident.

    The text reads like a handbook postmortem's front matter: alerts, services, root cause and reason, log
    templates and span operations/messages are the symptoms (weighted as handbook symptoms are), followed by
    the actions taken and their outcomes.

    Args:
        incident: the Avro Incident dict as on aiops.incidents.
        actions: what was executed for it, each {action, parameters, status}.
    """
    root = incident.get("root_cause") or {}
    alerts = incident.get("alerts") or []
    services = unique_lines([*(incident.get("services") or []), *(a.get("service", "") for a in alerts)])
    symptoms = unique_lines(f"alert {alert_words(a.get('name', ''))} on {a.get('service', '')}" for a in alerts)
    symptoms += unique_lines(f"{e.get('service', '')}: {strip_masks(e.get('template', ''))}"
                        for e in incident.get("log_evidence") or [])
    symptoms += unique_lines(f"{s.get('service', '')}: {s.get('operation', '')} {s.get('kind', '')} "
                        f"{s.get('message') or ''}" for s in incident.get("span_evidence") or [])
    lines = [incident.get("title") or incident["id"], f"severity {incident.get('severity', 'unknown')}",
             "services: " + " ".join(services)]
    if root.get("service"):
        lines.append(f"root cause: {root['service']}")
    if root.get("reason"):
        lines.append(f"reason: {root['reason']}")
    for _ in range(SYMPTOM_WEIGHT):
        lines.extend(symptoms)
    lines.extend(_action_line(taken) for taken in actions)
    return MemoryRecord(id=str(incident["id"]), kind="incident", title=str(incident.get("title") or incident["id"]),
                        services=services, text="\n".join(line for line in lines if line.strip()))


def write_back(incident: Mapping[str, Any], actions: Sequence[Mapping[str, Any]], client: MemoryWriter
               ) -> MemoryRecord:
    """Upsert the resolved incident into memory (through the service, or the store for its owner).

    Writing the same incident again replaces its record, so a replayed resolution is harmless.
    """
    record = incident_record(incident, actions)
    client.upsert([record])
    return record


async def awrite_back(incident: Mapping[str, Any], actions: Sequence[Mapping[str, Any]], client: AsyncMemoryClient
                      ) -> MemoryRecord:
    """write_back for a Faust agent, through the non-blocking client."""
    record = incident_record(incident, actions)
    await client.upsert([record])
    return record
