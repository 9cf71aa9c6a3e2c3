"""Incident-shaped dicts (the Avro Incident as on aiops.incidents) built from a postmortem's symptoms."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from aiops.memory.documents import HandbookDocument
from streams.logtemplates.masking import MaskingConfig

SHOP_SERVICES = {
    "web-frontend", "api-gateway", "auth-service", "checkout-api", "orders-api", "orders-db", "payments-api",
    "payments-db", "inventory-api", "inventory-db", "cart-redis", "search-api", "notification-worker",
    "shipping-api", "recommendation-api",
}
_ALERT = re.compile(r"\balert ([A-Z][A-Za-z0-9]+)(?: on ([a-z][a-z0-9-]+))?")
_SERVICE_PREFIX = re.compile(r"^([a-z][a-z0-9-]+)(?: [a-z]+)?: (.+)$")
_MASKER = MaskingConfig().masker()
WHEN = datetime(2025, 11, 1, 12, 0, tzinfo=UTC)


def incident(incident_id: str, *, services: list[str], root: str, alerts: list[tuple[str, str]],
             templates: list[tuple[str, str]], spans: list[dict[str, Any]] | None = None,
             status: str = "open") -> dict[str, Any]:
    """An Avro Incident dict."""
    names = sorted({name for name, _ in alerts})
    return {
        "id": incident_id, "version": 1, "status": status,
        "title": f"{names[0] if names else 'incident'} across {', '.join(services)} — likely cause {root}",
        "severity": "critical", "services": sorted(services),
        "root_cause": {"service": root, "reason": "first to alert and upstream of the others", "candidates": []},
        "alerts": [{"fingerprint": f"fp-{i}", "name": name, "service": service, "status": "firing",
                    "severity": "critical", "starts_at": WHEN, "ends_at": None}
                   for i, (name, service) in enumerate(alerts)],
        "log_evidence": [{"service": service, "template_id": str(i), "template": template, "level": "error",
                          "count": 50, "baseline_per_min": None, "reason": "new at error level", "examples": []}
                         for i, (service, template) in enumerate(templates)],
        "span_evidence": spans or [],
        "similar_incidents": [], "window_start": WHEN, "window_end": WHEN, "updated_at": WHEN,
    }


def incident_from_postmortem(pm: HandbookDocument) -> dict[str, Any]:
    """Alerts named after the alert names in its symptoms, its services, root cause = root_cause_service, and
    log evidence templates = its other symptom lines, masked the way the template miner masks them."""
    root = pm.root_cause_service or pm.services[0]
    alerts: list[tuple[str, str]] = []
    templates: list[tuple[str, str]] = []
    for symptom in pm.symptoms:
        found = _ALERT.findall(symptom)
        if found:
            alerts += [(name, service if service in SHOP_SERVICES else root) for name, service in found]
            continue
        service, line = root, symptom
        prefixed = _SERVICE_PREFIX.match(symptom)
        if prefixed and prefixed[1] in SHOP_SERVICES:
            service, line = prefixed[1], prefixed[2]
        templates.append((service, _MASKER.mask(line)))
    return incident(f"inc-{pm.id}", services=list(pm.services), root=root, alerts=alerts, templates=templates)
