"""The log pattern of each operation: which log events its successful requests write, learned and judged.

Learned per operation (the one a request entered the service by): decayed counts of requests, and of requests
that wrote each event type. Judged over a window: an event type that (nearly) every request wrote and that
(nearly) none write any more (the code stopped reaching that statement), or one never written before that
many requests now write (the code takes a new path). Binomial tails say how surprising each change is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streams.anomaly.baseline import binomial_log10_tail
from streams.anomaly.records import SpanStats

MAX_TEXTS = 5000


@dataclass(frozen=True)
class PatternConfig:
    min_ratio: float = 0.5  # an event written by at least this share of an operation's requests
    min_baseline_requests: float = 5.0
    min_requests: int = 5  # requests in the window before anything is judged
    log10_p: float = -4.0
    new_min_baseline_requests: float = 20.0
    new_min_share: float = 0.3
    new_min_requests: int = 3


def score_p(log10_p: float) -> float:
    """A tail probability as a score from 0 to 10 (1e-20 or less is 10)."""
    return round(min(10.0, max(0.0, -log10_p / 2.0)), 2)


def _requests(stats: SpanStats) -> dict[str, int]:
    """Successful requests per entry operation: only they show the normal code path."""
    return {op.op: op.entries - op.errors for op in stats.ops if op.entries > op.errors}


def learn_patterns(patterns: dict[str, Any], stats: SpanStats, keep: float, skip: set[str]) -> dict[str, Any]:
    """Fold one bucket into the decayed counts (operations in `skip` are anomalous now: not learned)."""
    by_op: dict[str, dict[str, int]] = {}
    for t in stats.templates:
        by_op.setdefault(t.op, {})[t.template_id] = t.spans
    learned = dict(patterns)
    for op, requests in _requests(stats).items():
        if op in skip:
            continue
        known = learned.get(op, {"n": 0.0, "t": {}})
        counts = {tid: c * keep for tid, c in known["t"].items()}
        for tid, c in by_op.get(op, {}).items():
            counts[tid] = counts.get(tid, 0.0) + c
        learned[op] = {"n": known["n"] * keep + requests,
                       "t": {tid: round(c, 4) for tid, c in counts.items() if c >= 0.05}}
    return learned


def remember_texts(state: dict[str, Any], pooled: SpanStats) -> None:
    texts = dict(state.get("texts", {}))
    for t in pooled.templates:
        texts[f"{t.op}|{t.template_id}"] = t.template[:300]
    if len(texts) > MAX_TEXTS:  # bounded: keep the most recent
        texts = dict(list(texts.items())[-MAX_TEXTS:])
    state["texts"] = texts


def judge_patterns(state: dict[str, Any], pooled: SpanStats, cfg: PatternConfig) -> list[dict[str, Any]]:
    """The anomaly signal fields (without service and times) for each changed pattern in the window."""
    out: list[dict[str, Any]] = []
    patterns = state.get("patterns", {})
    texts = state.get("texts", {})
    seen: dict[str, dict[str, Any]] = {}
    for t in pooled.templates:
        seen.setdefault(t.op, {})[t.template_id] = t
    for op, n in _requests(pooled).items():
        known = patterns.get(op)
        if not known or n < cfg.min_requests:
            continue
        base_n = known["n"]
        for tid, count in known["t"].items():
            ratio = min(1.0, count / base_n) if base_n else 0.0
            if base_n < cfg.min_baseline_requests or ratio < cfg.min_ratio:
                continue
            k = seen[op][tid].spans if tid in seen.get(op, {}) else 0
            if k > ratio * n / 3:
                continue
            log10_p = binomial_log10_tail(k, n, ratio, upper=False)
            if log10_p > cfg.log10_p:
                continue
            text = texts.get(f"{op}|{tid}") or f"event {tid}"
            out.append(dict(signal="log_pattern", role="cause", subject=op, score=score_p(log10_p),
                            value=round(k / n, 3), baseline=round(ratio, 3), unit="ratio",
                            reason=f"{op}: {n} calls, {k} logged \"{text}\" (it used to be {ratio:.0%} of calls): "
                                   f"the code takes another path"))
        if base_n < cfg.new_min_baseline_requests:
            continue
        for tid, t in seen.get(op, {}).items():
            if tid in known["t"] or t.spans < cfg.new_min_requests or t.spans / n < cfg.new_min_share:
                continue
            out.append(dict(signal="log_pattern", role="cause", subject=op,
                            score=round(min(10.0, 2.0 + 4 * t.spans / n), 2), value=round(t.spans / n, 3),
                            baseline=0.0, unit="ratio",
                            reason=f"{op}: {t.spans} of {n} calls logged \"{t.template}\", which it never logged "
                                   f"before ({base_n:.0f} calls learned)"))
    remember_texts(state, pooled)
    return out
