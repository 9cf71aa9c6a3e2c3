"""Judging one service's span statistics against its own baselines: the anomaly signals of the span stage.

Per service, the last `window_buckets` buckets are pooled and judged; a bucket that leaves the window is
learned into the baselines (unless what it showed was anomalous). What is judged:
- latency of each operation entering the service (symptom: it includes everything the service waited for);
- own time of those entries, their duration minus the calls they made (cause: the service itself is slow);
- errors of those entries, and how many failed with no failing call below them (cause when most did);
- calls into the service from each caller: latency as the caller saw it (symptom, attributed to the callee)
  and time on the wire, client minus server duration (cause: the network to or from the service); for a
  callee that sends no spans of its own (a database), the caller's view is all there is (cause);
- each operation's log pattern: a template its spans (almost) always logged that they stopped logging, or a
  template they never logged that many now do (cause: the code takes another path).

State per service is a JSON-compatible dict (a Faust table value): baselines survive restarts.
"""

from __future__ import annotations

import statistics
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from streams.anomaly.baseline import BaselineConfig, RobustBaseline, binomial_log10_tail
from streams.anomaly.patterns import PatternConfig, judge_patterns, learn_patterns, score_p
from streams.anomaly.records import SpanStats
from streams.anomaly.window import Window, merge_stats
from streams.correlation.signals import AnomalySignal


@dataclass(frozen=True)
class SpanDetectorConfig:
    window_buckets: int = 3  # latency, errors and calls are judged over this many recent buckets
    pattern_window_buckets: int = 6  # log patterns (counts, slower to become significant) over this many
    baseline: BaselineConfig = BaselineConfig()
    count_half_life_buckets: float = 60.0  # memory of error rates and log patterns
    z_min: float = 4.0  # robust deviations above the baseline that count
    min_samples: int = 3  # samples in the window before latencies are judged
    latency_floor_ms: float = 10.0
    latency_floor_rel: float = 0.25
    latency_min_ratio: float = 1.5  # and at least this many times the baseline median
    network_floor_ms: float = 20.0
    network_min_ms: float = 50.0  # time on the wire must grow by at least this much
    network_no_history_ms: float = 500.0  # without a baseline yet, this much time on the wire is anomalous
    rare_min_samples: int = 2  # calls that are rare are judged over the longer window, from this many
    errors_min: int = 3
    errors_min_baseline: float = 20.0  # calls learned before errors are judged
    errors_log10_p: float = -4.0
    patterns: PatternConfig = PatternConfig()

    @classmethod
    def from_settings(cls, settings: Any) -> SpanDetectorConfig:
        return cls(window_buckets=settings.rca_window_buckets,
                   pattern_window_buckets=settings.rca_pattern_window_buckets, z_min=settings.rca_z_min)

    @property
    def keep(self) -> float:
        return 0.5 ** (1.0 / self.count_half_life_buckets)


def _score_z(z: float) -> float:
    return round(min(10.0, max(0.0, z / 2.0)), 2)


class SpanAnomalyDetector:
    def __init__(self, config: SpanDetectorConfig, state: MutableMapping[str, Any]):
        self.config = config
        self.state = state  # service → dict

    # --- entry point ------------------------------------------------------------------------------
    def observe(self, stats: SpanStats) -> list[AnomalySignal]:
        state = dict(self.state.get(stats.service) or {})
        window = Window.from_dict(state.get("window"))
        if not window.add(stats):
            self.state[stats.service] = state  # a bucket already learned: too late to judge
            return []
        flags = dict(state.get("flags", {}))
        for old in window.expire(max(self.config.window_buckets, self.config.pattern_window_buckets)):
            self._learn(state, old, flags)
        signals = self._judge(stats.service, state, window)
        state["flags"] = {s.key: True for s in signals}
        state["window"] = window.to_dict()
        self.state[stats.service] = state
        return signals

    # --- learning ---------------------------------------------------------------------------------
    def _baseline(self, state: dict, section: str, name: str, field: str) -> RobustBaseline:
        return RobustBaseline.from_dict(self.config.baseline, state.get(section, {}).get(name, {}).get(field))

    def _put(self, state: dict, section: str, name: str, field: str, value: Any) -> None:
        part = dict(state.get(section, {}))
        entry = dict(part.get(name, {}))
        entry[field] = value
        part[name] = entry
        state[section] = part

    def _learn(self, state: dict, stats: SpanStats, flags: dict[str, bool]) -> None:
        keep, service = self.config.keep, stats.service

        def flagged(signal: str, subject: str, peer: str = "") -> bool:
            return bool(flags.get(f"{service}|{signal}|{subject}|{peer}"))

        for op in stats.ops:
            if op.entries:
                for field, samples, signal in (("lat", op.latency_ms, "latency"), ("self", op.self_ms, "self_time")):
                    baseline = self._baseline(state, "ops", op.op, field)
                    baseline.learn(statistics.median(samples), flagged(signal, op.op))
                    self._put(state, "ops", op.op, field, baseline.to_dict())
                if not flagged("errors", op.op):
                    n, e = state.get("ops", {}).get(op.op, {}).get("err", [0.0, 0.0])
                    self._put(state, "ops", op.op, "err", [n * keep + op.entries, e * keep + op.errors])
        for edge in stats.edges:
            for field, samples in (("client", edge.client_ms), ("gap", edge.gap_ms)):
                if samples:
                    baseline = self._baseline(state, "edges", edge.caller, field)
                    baseline.learn(statistics.median(samples), flagged("network", edge.caller, edge.caller)
                                   or flagged("client_latency", edge.caller, edge.caller))
                    self._put(state, "edges", edge.caller, field, baseline.to_dict())
        if stats.logs_settled:  # a bucket closed before its log lines came would teach a pattern without them
            anomalous_ops = {op.op for op in stats.ops if flagged("log_pattern", op.op)}
            state["patterns"] = learn_patterns(state.get("patterns", {}), stats, keep, skip=anomalous_ops)

    # --- judging ----------------------------------------------------------------------------------
    def _judge(self, service: str, state: dict, window: Window) -> list[AnomalySignal]:
        buckets = window.buckets()
        end = buckets[-1].bucket_start + timedelta(seconds=buckets[-1].bucket_s)
        out: list[AnomalySignal] = []

        def emitter(start: datetime) -> Any:
            def signal(**fields: Any) -> None:
                out.append(AnomalySignal(service=service, window_start=start, event_time=end, **fields))
            return signal

        recent = buckets[-self.config.window_buckets:]
        pooled = merge_stats(recent)
        signal = emitter(recent[0].bucket_start)
        for op in pooled.ops:
            if op.entries:
                self._judge_latency(state, op, signal)
                self._judge_errors(state, op, signal)
        longer = buckets[-self.config.pattern_window_buckets:]
        pooled_longer = merge_stats(longer)
        signal_longer = emitter(longer[0].bucket_start)
        rare = {edge.caller: edge for edge in pooled_longer.edges}
        for edge in pooled.edges:
            # Rare calls are judged over the longer window, from fewer samples.
            if len(edge.gap_ms or edge.client_ms) < self.config.min_samples and edge.caller in rare:
                self._judge_edge(state, rare[edge.caller], signal_longer, self.config.rare_min_samples)
            else:
                self._judge_edge(state, edge, signal, self.config.min_samples)
        settled = [b for b in longer if b.logs_settled]  # only buckets whose log lines were all in
        if settled:
            for fields in judge_patterns(state, merge_stats(settled), self.config.patterns):
                signal_longer(**fields)
        return out

    def _judge_latency(self, state: dict, op: Any, signal: Any) -> None:
        cfg = self.config
        for field, samples, name, role, floor_abs in (
                ("lat", op.latency_ms, "latency", "symptom", cfg.latency_floor_ms),
                ("self", op.self_ms, "self_time", "cause", cfg.latency_floor_ms / 2)):
            if len(samples) < cfg.min_samples:
                continue
            baseline = self._baseline(state, "ops", op.op, field)
            value = statistics.median(samples)
            z = baseline.z(value, floor_abs, cfg.latency_floor_rel)
            base = baseline.median
            if z is None or base is None or z < cfg.z_min or value < cfg.latency_min_ratio * base + floor_abs:
                continue
            what = "latency" if name == "latency" else "own time (minus calls to other services)"
            signal(signal=name, role=role, subject=op.op, score=_score_z(z), value=round(value, 2),
                   baseline=round(base, 2), unit="ms",
                   reason=f"{op.op}: median {what} {value:.0f} ms over {len(samples)} calls, baseline "
                          f"{base:.0f} ms ({z:.1f} robust deviations above)",
                   trace_ids=[op.slowest_trace] if op.slowest_trace else [])

    def _judge_errors(self, state: dict, op: Any, signal: Any) -> None:
        cfg = self.config
        if op.errors < cfg.errors_min:
            return
        n, e = state.get("ops", {}).get(op.op, {}).get("err", [0.0, 0.0])
        if n < cfg.errors_min_baseline:
            return
        rate = (e + 0.5) / (n + 10.0)  # a prior of a little under 5 % keeps a young baseline from alarming
        log10_p = binomial_log10_tail(op.errors, op.entries, rate, upper=True)
        if log10_p > cfg.errors_log10_p or op.errors / op.entries < rate + 0.1:
            return
        own = op.own_errors / op.errors >= 0.5
        signal(signal="errors", role="cause" if own else "symptom", subject=op.op, score=score_p(log10_p),
               value=round(op.errors / op.entries, 3), baseline=round(rate, 4), unit="ratio",
               reason=f"{op.op}: {op.errors} of {op.entries} calls failed ({op.own_errors} with no failing call "
                      f"below), baseline {rate:.1%}",
               trace_ids=[op.slowest_trace] if op.slowest_trace else [])

    def _judge_edge(self, state: dict, edge: Any, signal: Any, min_samples: int) -> None:
        cfg = self.config
        instrumented = bool(edge.server_ms)
        client = self._baseline(state, "edges", edge.caller, "client")
        if len(edge.client_ms) >= min_samples:
            value = statistics.median(edge.client_ms)
            z = client.z(value, cfg.latency_floor_ms, cfg.latency_floor_rel)
            base = client.median
            if z is not None and base is not None and z >= cfg.z_min \
                    and value >= cfg.latency_min_ratio * base + cfg.latency_floor_ms:
                signal(signal="client_latency", role="symptom" if instrumented else "cause", subject=edge.caller,
                       peer=edge.caller, score=_score_z(z), value=round(value, 2), baseline=round(base, 2), unit="ms",
                       reason=f"calls from {edge.caller}: median {value:.0f} ms as the caller sees them, baseline "
                              f"{base:.0f} ms ({z:.1f} robust deviations above)"
                              + ("" if instrumented else "; the service sends no spans of its own"),
                       trace_ids=[edge.slowest_trace] if edge.slowest_trace else [])
        if instrumented and len(edge.gap_ms) >= min_samples:
            gap = self._baseline(state, "edges", edge.caller, "gap")
            value = statistics.median(edge.gap_ms)
            z = gap.z(value, cfg.network_floor_ms, 0.5)
            base = gap.median
            what = (f"calls from {edge.caller}: {value:.0f} ms between the caller's and the service's span (on the "
                    f"wire and in queues) over {len(edge.gap_ms)} calls")
            traces = [edge.slowest_trace] if edge.slowest_trace else []
            if z is not None and base is not None and z >= cfg.z_min and value >= base + cfg.network_min_ms:
                signal(signal="network", role="cause", subject=edge.caller, peer=edge.caller, score=_score_z(z),
                       value=round(value, 2), baseline=round(base, 2), unit="ms",
                       reason=f"{what}, baseline {base:.0f} ms", trace_ids=traces)
            elif z is None and value >= cfg.network_no_history_ms:
                signal(signal="network", role="cause", subject=edge.caller, peer=edge.caller,
                       score=round(min(10.0, value / cfg.network_no_history_ms * 2.5), 2), value=round(value, 2),
                       unit="ms", reason=f"{what}; no baseline yet, and more than {cfg.network_no_history_ms:.0f} ms",
                       trace_ids=traces)
