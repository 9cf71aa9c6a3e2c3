"""`aiops bench soak --minutes N`: the pipeline under a steady load (log lines and spans) for N minutes, with
the resident memory of each process and the consumer lag of each stage sampled every few seconds.

Lag is bounded when it does not grow over the second half of the run (its least-squares slope there, in
records per second, is below 1% of the input rate); memory holds when each process's RSS at the end is within
10% of its RSS at the first sample after the warm-up.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from aiops.bench.stack import BackgroundLoad, pipeline
from aiops.core.lag import GroupLag
from aiops.core.settings import Settings
from aiops.core.topics import (
    LOGS_CONDENSED,
    OTLP_SPANS,
    RAW_LOGS,
    SIGNALS,
    SPANS_CONDENSED,
    WORKER_GROUP,
    condenser_group,
)


@dataclass
class SoakResult:
    minutes: float
    lines_per_s: float
    spans_per_s: float
    rss_start_mb: dict[str, float]
    rss_end_mb: dict[str, float]
    lag_slope_last_half_per_s: float  # records/s the total lag grew over the second half (negative: shrank)
    lag_max: int
    lag_bounded: bool
    rss_within_10pct: bool
    samples: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _slope(points: list[tuple[float, float]]) -> float:
    if len(points) < 2:
        return 0.0
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    var = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / var if var else 0.0


def run(settings: Settings, minutes: float, lines_per_s: int = 10_000, spans_per_s: int = 2_000,
        sample_s: float = 10.0, warmup_s: float = 120.0) -> SoakResult:
    with pipeline(settings, triage=False) as stack:
        s = stack.settings
        groups = {s.topic(condenser_group("logs")): [s.topic(RAW_LOGS)],
                  s.topic(condenser_group("spans")): [s.topic(OTLP_SPANS)],
                  s.topic(WORKER_GROUP): [s.topic(t) for t in (LOGS_CONDENSED, SPANS_CONDENSED, SIGNALS)]}
        watched = {name: pid for name, pid in stack.pids.items() if name != "bridge"}
        samples: list[dict] = []
        with BackgroundLoad(s, lines_per_s, spans_per_s) as load, GroupLag(s.kafka_bootstrap) as lag:
            time.sleep(warmup_s)
            started = time.monotonic()
            while time.monotonic() - started < minutes * 60:
                stack.processes.check()
                samples.append({"t_s": round(time.monotonic() - started, 1),
                                "rss_mb": {name: rss_mb(pid) for name, pid in watched.items()},
                                "lag": {group.removeprefix(s.topic_prefix): sum(behind.values())
                                        for group, behind in lag.per_group(groups).items()}})
                time.sleep(sample_s)
            lines, spans = load.achieved
    half = [(x["t_s"], float(sum(x["lag"].values()))) for x in samples if x["t_s"] >= minutes * 30]
    slope = _slope(half)
    start, end = samples[0]["rss_mb"], samples[-1]["rss_mb"]
    return SoakResult(
        minutes=minutes, lines_per_s=round(lines, 1), spans_per_s=round(spans, 1), rss_start_mb=start,
        rss_end_mb=end, lag_slope_last_half_per_s=round(slope, 2),
        lag_max=int(max(sum(x["lag"].values()) for x in samples)),
        lag_bounded=slope < 0.01 * (lines_per_s + spans_per_s / 50),
        rss_within_10pct=all(end[name] <= 1.1 * start[name] for name in start), samples=samples)
