"""What a model sees of an incident: its telemetry as one capped JSON document inside a fenced data section.

Everything that came from the monitored systems (alert names, labels and annotations, log templates and
example lines, span operations, messages and attributes, service names, retrieved past incidents) is put
into one JSON document between `<untrusted_telemetry>` and `</untrusted_telemetry>`, and nowhere else.
`<` and `>` inside it are written as JSON escapes (`\\u003c`, `\\u003e`), so no value can close the fence
or open another one. Each value is capped at `field_chars`, each list at a count, and the whole document
at `total_chars` (values are cut shorter, then the least important items dropped, until it fits).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiops.core.limits import cap_map, cap_text
from aiops.triage.context import TriageContext
from streams.output_records import AlertRef, LogTemplateEvidence, SpanEvidence

FENCE_OPEN = "<untrusted_telemetry>"
FENCE_CLOSE = "</untrusted_telemetry>"
MIN_FIELD_CHARS = 32


@dataclass(frozen=True)
class TelemetryCaps:
    """How much telemetry a model may see: per value, per list and in total."""

    field_chars: int = 300
    total_chars: int = 12_000
    alerts: int = 20
    entries: int = 16  # labels, annotations or attributes per alert or span
    log_templates: int = 10
    examples: int = 3
    spans: int = 10
    documents: int = 5
    candidates: int = 5
    anomalies: int = 10


def _alert(alert: AlertRef, caps: TelemetryCaps, chars: int) -> dict[str, Any]:
    return {"name": cap_text(alert.name, chars), "service": cap_text(alert.service, chars),
            "status": str(alert.status), "severity": str(alert.severity),
            "labels": cap_map(alert.labels, caps.entries, chars),
            "annotations": cap_map(alert.annotations, caps.entries, chars)}


def _log(evidence: LogTemplateEvidence, caps: TelemetryCaps, chars: int) -> dict[str, Any]:
    return {"service": cap_text(evidence.service, chars), "count": evidence.count,
            "level": cap_text(evidence.level, chars), "template": cap_text(evidence.template, chars),
            "examples": [cap_text(e, chars) for e in evidence.examples[:caps.examples]]}


def _span(span: SpanEvidence, caps: TelemetryCaps, chars: int) -> dict[str, Any]:
    return {"kind": str(span.kind), "service": cap_text(span.service, chars),
            "operation": cap_text(span.operation, chars), "duration_ms": span.duration_ms,
            "message": cap_text(span.message or "", chars),
            "attributes": cap_map(span.attributes, caps.entries, chars)}


def telemetry_document(ctx: TriageContext, caps: TelemetryCaps, chars: int) -> dict[str, Any]:
    """The incident's telemetry and the retrieved documents as plain JSON data, each value capped to `chars`."""
    incident = ctx.incident
    return {
        "services": [cap_text(str(s), chars) for s in ctx.services],
        "likely_root_cause": cap_text(str(ctx.root_service or "unknown"), chars),
        # Ranked by the correlator from the evidence; their reasons quote telemetry, so they stay in the fence.
        "root_cause_candidates": [
            {"service": cap_text(c.service, chars), "score": round(c.score, 3), "reason": cap_text(c.reason, chars),
             "evidence": [cap_text(e, chars) for e in c.evidence[:caps.examples]]}
            for c in incident.root_cause.candidates[:caps.candidates]],
        "anomalies": [
            {"service": cap_text(a.service, chars), "role": cap_text(str(a.role), chars),
             "signal": cap_text(str(a.signal), chars), "score": round(a.score, 2), "reason": cap_text(a.reason, chars)}
            for a in incident.anomaly_evidence[:caps.anomalies]],
        "alerts": [_alert(a, caps, chars) for a in incident.alerts[:caps.alerts]],
        "log_templates": [_log(e, caps, chars) for e in incident.log_evidence[:caps.log_templates]],
        "spans": [_span(s, caps, chars) for s in incident.span_evidence[:caps.spans]],
        "documents": [{"id": cap_text(doc.doc_id, chars), "kind": doc.kind, "title": cap_text(doc.title, chars),
                       "score": round(doc.score, 2),
                       "actions": [{"action": cap_text(str(a.get("action")), chars),
                                    "parameters": {str(k): cap_text(str(v), chars)
                                                   for k, v in (a.get("parameters") or {}).items()}}
                                   for a in doc.actions[:caps.examples]]}
                      for doc in ctx.documents[:caps.documents]],
    }


def _encode(document: dict[str, Any]) -> str:
    text = json.dumps(document, ensure_ascii=True, sort_keys=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e")


def fenced_telemetry(ctx: TriageContext, caps: TelemetryCaps) -> str:
    """The fenced data section, at most `caps.total_chars` characters of JSON between the fence tags."""
    chars = caps.field_chars
    document = telemetry_document(ctx, caps, chars)
    while len(_encode(document)) > caps.total_chars and chars > MIN_FIELD_CHARS:
        chars = max(MIN_FIELD_CHARS, chars // 2)
        document = telemetry_document(ctx, caps, chars)
    # Still too long: drop the least telling items first (documents, then spans, logs, alerts from the end).
    for name in ("documents", "anomalies", "spans", "log_templates", "root_cause_candidates", "alerts"):
        while len(_encode(document)) > caps.total_chars and document[name]:
            document[name].pop()
    return f"{FENCE_OPEN}{_encode(document)}{FENCE_CLOSE}"
