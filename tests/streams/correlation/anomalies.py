"""Builders for anomaly signals, as the span and metric stages emit them."""

from __future__ import annotations

from datetime import timedelta

from streams.correlation.signals import AnomalySignal
from tests.streams.correlation.builders import at


def anomaly(service: str, signal: str, when: float, score: float = 9.0, role: str = "cause", subject: str = "op",
            peer: str | None = None, value: float | None = None, baseline: float | None = None,
            unit: str = "") -> AnomalySignal:
    return AnomalySignal(service=service, signal=signal, role=role, subject=subject, peer=peer, score=score,
                         value=value, baseline=baseline, unit=unit,
                         reason=f"{signal} on {service} ({subject})", window_start=at(when) - timedelta(seconds=30),
                         event_time=at(when))


def persisting(service: str, signal: str, start: float, windows: int = 6, every: float = 10.0, **fields) -> list:
    """The same anomaly judged again in each of `windows` successive windows."""
    return [anomaly(service, signal, start + i * every, **fields) for i in range(windows)]
