"""What a metric means for root-cause analysis: the usual OpenTelemetry names, and the ones users map in settings.

A role says what the metric measures and which way is bad; the floor is the smallest change that can matter
(in the metric's own unit), so a flat baseline does not make a small wobble look huge. Unknown metrics are
not judged: a metric nobody said the meaning of cannot be blamed on anyone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class MetricRole:
    role: str  # cpu, memory, latency, errors, success, saturation
    direction: Literal["up", "down"]
    floor: float  # smallest meaningful change, in the metric's unit
    floor_rel: float = 0.5  # ... or this share of the baseline, whichever is larger
    cause: bool = True  # a cause of trouble in the service itself (saturation, errors) or a symptom (latency)
    saturation: float | None = None  # a value at or above this is the resource at its limit


_CPU = MetricRole("cpu", "up", floor=0.15, saturation=0.85)  # utilisation as a ratio: 15 points
_MEMORY = MetricRole("memory", "up", floor=0.15, saturation=0.9)
_LATENCY = MetricRole("latency", "up", floor=0.05, floor_rel=1.0, cause=False)  # seconds, histogram means
_ERRORS = MetricRole("errors", "up", floor=0.05)

KNOWN: dict[str, MetricRole] = {
    # kubeletstats receiver, container and process metrics, host metrics
    "k8s.pod.cpu_limit_utilization": _CPU, "k8s.pod.cpu_request_utilization": _CPU,
    "k8s.container.cpu_limit_utilization": _CPU, "k8s.pod.cpu.utilization": _CPU,
    "container.cpu.utilization": _CPU, "process.cpu.utilization": _CPU, "system.cpu.utilization": _CPU,
    "jvm.cpu.recent_utilization": _CPU, "process.runtime.jvm.cpu.utilization": _CPU,
    "k8s.pod.memory_limit_utilization": _MEMORY, "k8s.pod.memory_request_utilization": _MEMORY,
    "k8s.container.memory_limit_utilization": _MEMORY, "system.memory.utilization": _MEMORY,
    # request durations (histograms: their mean is judged)
    "http.server.request.duration": _LATENCY, "http.server.duration": _LATENCY, "rpc.server.duration": _LATENCY,
}


def roles_from_settings(mapping: Mapping[str, Any]) -> dict[str, MetricRole]:
    """User mappings, e.g. {"myapp_queue_depth": {"role": "saturation", "direction": "up", "floor": 50}}."""
    roles = {}
    for name, spec in mapping.items():
        spec = dict(spec)
        roles[name] = MetricRole(role=str(spec.get("role", "custom")), direction=spec.get("direction", "up"),
                                 floor=float(spec.get("floor", 0.0)), floor_rel=float(spec.get("floor_rel", 0.1)),
                                 cause=bool(spec.get("cause", True)),
                                 saturation=float(spec["saturation"]) if spec.get("saturation") is not None else None)
    return roles


def role_of(name: str, extra: Mapping[str, MetricRole] | None = None) -> MetricRole | None:
    if extra and name in extra:
        return extra[name]
    return KNOWN.get(name)
