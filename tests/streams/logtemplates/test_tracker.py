"""The per-service log state without a broker: signals for new error templates, the cooldown, trace ids,
and snapshots that a new tracker resumes from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from streams.logtemplates.miner import MinerConfig
from streams.logtemplates.rates import RateConfig
from streams.logtemplates.tracker import TemplateTracker, TrackerConfig
from streams.records import LogRecord, Severity

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
POOL_ERROR = "timeout acquiring connection from pool after {ms}ms"


def line(message: str, at: float, level: str = "info", trace_id: str | None = None,
         service: str = "orders-api") -> LogRecord:
    when = T0 + timedelta(seconds=at)
    return LogRecord(time=when, observed_time=when, service=service, severity=Severity(level), level=level,
                     message=message, trace_id=trace_id, source="test")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def tracker(miners: dict | None = None, rates: dict | None = None, clock: Clock | None = None,
            **config: float) -> TemplateTracker:
    return TemplateTracker(MinerConfig(), RateConfig(), {} if miners is None else miners,
                           {} if rates is None else rates, TrackerConfig(**config), clock=clock or Clock())


def test_a_new_error_template_is_signalled_once_per_cooldown_with_its_trace_ids():
    t = tracker(signal_cooldown_s=5.0, max_trace_ids=2)
    first = t.observe(line(POOL_ERROR.format(ms=5000), 0, "error", trace_id="a" * 32))
    assert len(first) == 1
    signal = first[0]
    assert (signal.service, signal.severity, signal.count) == ("orders-api", Severity.error, 1)
    assert signal.trace_ids == ["a" * 32]
    # Within the cooldown (event time): evidence still there, no second signal.
    assert t.observe(line(POOL_ERROR.format(ms=5100), 2, "error", trace_id="b" * 32)) == []
    after = t.observe(line(POOL_ERROR.format(ms=5200), 6, "error", trace_id="c" * 32))
    assert len(after) == 1 and after[0].template_id == signal.template_id
    assert after[0].trace_ids == ["b" * 32, "c" * 32]  # the latest two, oldest dropped


def test_info_lines_at_a_steady_rate_make_no_signal():
    t = tracker()
    signals = [s for i in range(60) for s in t.observe(line(f"GET /orders/{i} 200 in 8ms", i))]
    assert signals == []


def test_services_are_tracked_apart():
    t = tracker()
    t.observe(line(POOL_ERROR.format(ms=1), 0, "error", service="orders-api"))
    t.observe(line(POOL_ERROR.format(ms=1), 0, "error", service="checkout-api"))
    assert set(t.states) == {"orders-api", "checkout-api"}


def test_state_is_snapshotted_every_n_records_and_a_new_tracker_resumes_from_it():
    miners: dict = {}
    rates: dict = {}
    t = tracker(miners, rates, persist_every_records=3, persist_every_s=3600)
    t.observe(line(POOL_ERROR.format(ms=1), 0, "error"))
    t.observe(line(POOL_ERROR.format(ms=2), 1, "error"))
    assert miners == {} and rates == {}
    t.observe(line(POOL_ERROR.format(ms=3), 2, "error"))
    assert set(miners) == {"orders-api"} and set(rates) == {"orders-api"}

    resumed = tracker(miners, rates)
    state = resumed.state_for("orders-api")
    assert state.miner.templates() == t.states["orders-api"].miner.templates()
    # The template is known already, so it is not new at error level again: its rate is judged instead.
    template_id = next(iter(state.miner.templates()))
    assert template_id in state.rates


def test_state_is_snapshotted_after_the_interval_even_with_few_records():
    clock = Clock()
    miners: dict = {}
    t = tracker(miners, clock=clock, persist_every_records=1000, persist_every_s=2.0)
    t.observe(line("started", 0))
    assert miners == {}
    clock.now = 2.5
    t.observe(line("started", 1))
    assert "orders-api" in miners
