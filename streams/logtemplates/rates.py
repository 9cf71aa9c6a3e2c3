"""How often each template of a service occurs, against its own baseline: which ones surge, which are new.

Counts go into fixed event-time buckets. The current window (the last `window_s`, bucket-aligned) is
compared with an exponentially weighted baseline built from the buckets before it only, so a surge never
raises its own baseline while it is being judged. The state is a JSON-compatible dict, for a Faust table.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from aiops.core.settings import Settings
from streams.logtemplates.errors import SnapshotError
from streams.records import Severity, severity_from_text, utc

STATE_VERSION = 1

_RANK = {Severity.unknown: 0, Severity.info: 1, Severity.warning: 2, Severity.error: 3, Severity.critical: 4}
_SEVERITY_OF_RANK = {rank: severity for severity, rank in _RANK.items()}
_ERROR_RANK = _RANK[Severity.error]


class RateConfig(BaseModel):
    """Bucketing, baseline and the thresholds for evidence."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bucket_s: int = Field(10, ge=1, description="event-time bucket width")
    window_s: int = Field(60, ge=1, description="the current window that is judged; a multiple of bucket_s")
    baseline_half_life_s: float = Field(1800.0, gt=0, description="half-life of the baseline's memory")
    min_history_s: int | None = Field(None, ge=0, description="history a template needs before it can surge "
                                                             "(default: one window)")
    surge_factor: float = Field(5.0, gt=1, description="window count against the baseline for the same span")
    surge_min_count: int = Field(5, ge=1, description="fewer occurrences in the window never surge")
    max_examples: int = Field(3, ge=0, description="example lines kept per template (the latest distinct ones)")
    max_example_chars: int = Field(1000, ge=16, description="example lines are cut to this length")
    forget_after_s: float = Field(86400.0, gt=0, description="templates idle this long are forgotten")
    max_templates: int = Field(1000, ge=1, description="templates tracked per service (least recently seen go)")

    @model_validator(mode="after")
    def _window_in_buckets(self) -> RateConfig:
        if self.window_s % self.bucket_s:
            raise ValueError(f"window_s ({self.window_s}) must be a multiple of bucket_s ({self.bucket_s})")
        return self

    @classmethod
    def from_settings(cls, settings: Settings) -> RateConfig:
        """From the `log_rate_*` fields of the settings object."""
        return cls(
            bucket_s=settings.log_rate_bucket_s,
            window_s=settings.log_rate_window_s,
            baseline_half_life_s=settings.log_rate_baseline_half_life_s,
            surge_factor=settings.log_rate_surge_factor,
            surge_min_count=settings.log_rate_surge_min_count,
            max_examples=settings.log_rate_examples,
            forget_after_s=settings.log_rate_forget_after_s,
            max_templates=settings.log_template_max_clusters,
        )

    @property
    def window_buckets(self) -> int:
        return self.window_s // self.bucket_s

    @property
    def keep(self) -> float:
        """The weight the baseline keeps per bucket; 1 - keep goes to the bucket being folded in."""
        return 0.5 ** (self.bucket_s / self.baseline_half_life_s)


@dataclass(frozen=True)
class TemplateEvidence:
    """A template worth attaching to an incident. kind is "surge" or "new"."""

    service: str
    template_id: str
    template: str
    kind: str
    reason: str
    level: str
    count: int
    baseline_per_min: float | None
    examples: tuple[str, ...]
    first_seen: datetime
    window_start: datetime
    window_end: datetime

    def to_avro(self) -> dict[str, Any]:
        """The LogTemplateEvidence record of schemas/incident.avsc."""
        return {
            "service": self.service, "template_id": self.template_id, "template": self.template,
            "level": self.level, "count": self.count, "baseline_per_min": self.baseline_per_min,
            "reason": self.reason, "examples": list(self.examples),
        }


class _TemplateState:
    """One template's counts. Buckets at or after `folded_until` are kept ([count, worst level rank]);
    earlier ones live on only in `ewma`, the baseline per bucket, built from `folded` buckets."""

    __slots__ = ("template", "first_seen", "last_seen", "total", "ewma", "folded", "folded_until", "buckets",
                 "examples")

    def __init__(self, template: str, first_seen: float, first_bucket: int) -> None:
        self.template = template
        self.first_seen = first_seen
        self.last_seen = first_seen
        self.total = 0
        self.ewma = 0.0
        self.folded = 0
        self.folded_until = first_bucket
        self.buckets: dict[int, list[int]] = {}
        self.examples: list[tuple[float, str]] = []

    def to_dict(self) -> dict[str, Any]:
        return {
            "template": self.template, "first_seen": self.first_seen, "last_seen": self.last_seen,
            "total": self.total, "ewma": self.ewma, "folded": self.folded, "folded_until": self.folded_until,
            "buckets": [[start, count, rank] for start, (count, rank) in sorted(self.buckets.items())],
            "examples": [[t, line] for t, line in self.examples],
        }

    @classmethod
    def from_dict(cls, shown: dict[str, Any]) -> _TemplateState:
        state = cls(str(shown.get("template") or ""), float(shown["first_seen"]), int(shown["folded_until"]))
        state.last_seen = float(shown["last_seen"])
        state.total = int(shown["total"])
        state.ewma = float(shown["ewma"])
        state.folded = int(shown["folded"])
        state.buckets = {int(start): [int(count), int(rank)] for start, count, rank in shown["buckets"]}
        state.examples = [(float(t), str(line)) for t, line in shown["examples"]]
        return state


class TemplateRates:
    """Template counts of one service, in event time (the service's own clock: the latest event seen)."""

    def __init__(self, service: str, config: RateConfig | None = None) -> None:
        self.service = service
        self.config = config or RateConfig()
        self.watermark: float | None = None
        self._templates: dict[str, _TemplateState] = {}
        self._forgotten: list[str] = []

    def __len__(self) -> int:
        return len(self._templates)

    def __contains__(self, template_id: object) -> bool:
        return template_id in self._templates

    def observe(self, template_id: str, event_time: datetime | float, level: Severity | str,
                example_line: str = "", *, template: str | None = None, count: int = 1) -> None:
        """Count occurrences of a template (one, or `count` condensed into one record).

        Args:
            template_id: the miner's id for the template.
            event_time: when the line was logged (a datetime, or epoch seconds).
            level: its severity (a Severity, or any level word `severity_from_text` knows).
            example_line: the original line; the latest max_examples distinct lines in the window are kept.
            template: the template's current text, shown in evidence.
            count: how many lines this stands for (all at `event_time`, the worst of them at `level`).
        """
        cfg = self.config
        t = _epoch(event_time)
        previous = self.watermark
        self.watermark = t if previous is None else max(previous, t)
        window_start, _ = self._window(self.watermark)
        bucket = self._bucket(t)
        state = self._templates.get(template_id)
        if state is None:
            if len(self._templates) >= cfg.max_templates:
                self._forget(min(self._templates, key=lambda tid: self._templates[tid].last_seen))
            state = self._templates[template_id] = _TemplateState(template or "", t, bucket)
        elif template:
            state.template = template
        state.total += count
        state.first_seen = min(state.first_seen, t)
        state.last_seen = max(state.last_seen, t)
        if bucket >= state.folded_until:  # older buckets are in the baseline already: too late to count
            counted = state.buckets.setdefault(bucket, [0, 0])
            counted[0] += count
            counted[1] = max(counted[1], _RANK[_severity(level)])
        _fold(state, window_start, cfg)
        if example_line and t >= window_start and cfg.max_examples:
            # The latest distinct lines: a slot never stays taken by a line about to leave the window.
            example = example_line[: cfg.max_example_chars]
            kept = [(et, line) for et, line in state.examples if et >= window_start and line != example]
            kept.append((t, example))
            state.examples = sorted(kept)[-cfg.max_examples:]
        if previous is None or self._bucket(self.watermark) != self._bucket(previous):
            self._forget_idle()  # after counting, so the template just seen is not idle

    def evidence(self, now: datetime | float | None = None, *,
                 template_ids: Iterable[str] | None = None) -> list[TemplateEvidence]:
        """Templates that surge in the current window, and new ones at error level or worse. Read-only.

        Args:
            now: the end of the window; defaults to, and is never earlier than, the latest event seen.
            template_ids: judge only these (e.g. the template just observed); all templates by default.

        Returns:
            Surges first, largest count first, then new templates.
        """
        if self.watermark is None:
            return []
        cfg = self.config
        end = self.watermark if now is None else max(_epoch(now), self.watermark)
        window_start, current = self._window(end)
        min_history = math.ceil((cfg.window_s if cfg.min_history_s is None else cfg.min_history_s) / cfg.bucket_s)
        found: list[TemplateEvidence] = []
        for template_id in self._templates if template_ids is None else template_ids:
            state = self._templates.get(template_id)
            if state is None:
                continue
            in_window = [(count, rank) for start, (count, rank) in state.buckets.items()
                         if window_start <= start <= current]
            count = sum(c for c, _ in in_window)
            if not count:
                continue
            rank = max(r for _, r in in_window)
            ewma, folded, _ = _folded_view(state, window_start, cfg)
            if folded == 0:
                if rank < _ERROR_RANK:
                    continue
                kind, baseline, reason = "new", None, f"new template at {_SEVERITY_OF_RANK[rank]} level"
            else:
                if folded < min_history or count < cfg.surge_min_count:
                    continue
                per_bucket = ewma / (1.0 - cfg.keep ** folded)  # bias-corrected: a short history is not ~0
                if count < cfg.surge_factor * per_bucket * cfg.window_buckets:
                    continue
                baseline = per_bucket * 60.0 / cfg.bucket_s
                kind = "surge"
                reason = (f"surge: {count} in the last {_span_words(cfg.window_s)} "
                          f"vs baseline {_rate_words(baseline)}/min")
            found.append(TemplateEvidence(
                service=self.service, template_id=template_id, template=state.template, kind=kind, reason=reason,
                level=_SEVERITY_OF_RANK[rank].value, count=count, baseline_per_min=baseline,
                examples=tuple(line for t, line in state.examples if t >= window_start)[: cfg.max_examples],
                first_seen=_datetime(state.first_seen), window_start=_datetime(window_start),
                window_end=_datetime(current + cfg.bucket_s),
            ))
        found.sort(key=lambda e: (e.kind != "surge", -e.count, e.template_id))
        return found

    def pop_forgotten(self) -> list[str]:
        """Ids forgotten (idle, or over max_templates) since the last call: rows to delete from a table."""
        forgotten, self._forgotten = self._forgotten, []
        return forgotten

    def template_state(self, template_id: str) -> dict[str, Any] | None:
        """One template's state as a JSON-compatible dict (for a table keyed by service and template)."""
        state = self._templates.get(template_id)
        return None if state is None else state.to_dict()

    def to_dict(self) -> dict[str, Any]:
        """The whole state as a JSON-compatible dict."""
        return {
            "version": STATE_VERSION,
            "service": self.service,
            "watermark": self.watermark,
            "templates": {tid: state.to_dict() for tid, state in self._templates.items()},
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any], config: RateConfig | None = None) -> TemplateRates:
        """Restore `to_dict()` output; "watermark" may be left out (it is then the latest last_seen).

        Raises:
            SnapshotError: the dict is not a rates state of this version.
        """
        if not isinstance(state, dict) or state.get("version", STATE_VERSION) != STATE_VERSION:
            raise SnapshotError("not a template rates state of version 1")
        rates = cls(str(state.get("service", "")), config)
        try:
            rates._templates = {str(tid): _TemplateState.from_dict(t) for tid, t in state["templates"].items()}
            watermark = state.get("watermark")
            if watermark is None and rates._templates:
                watermark = max(t.last_seen for t in rates._templates.values())
            rates.watermark = None if watermark is None else float(watermark)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SnapshotError(f"corrupt template rates state: {exc!r}") from None
        return rates

    def _bucket(self, t: float) -> int:
        return int(t // self.config.bucket_s) * self.config.bucket_s

    def _window(self, end: float) -> tuple[int, int]:
        """(start of the window's first bucket, start of its last bucket) for a window ending at `end`."""
        current = self._bucket(end)
        return current - (self.config.window_buckets - 1) * self.config.bucket_s, current

    def _forget_idle(self) -> None:
        if self.watermark is None:
            return
        horizon = self.watermark - self.config.forget_after_s
        for template_id in [tid for tid, state in self._templates.items() if state.last_seen < horizon]:
            self._forget(template_id)

    def _forget(self, template_id: str) -> None:
        del self._templates[template_id]
        self._forgotten.append(template_id)


def _folded_view(state: _TemplateState, window_start: int, cfg: RateConfig) -> tuple[float, int, int]:
    """(ewma, folded, folded_until) once every bucket before `window_start` is folded in; changes nothing.
    Empty buckets count as zeros, so a template that went quiet decays towards a baseline of 0."""
    keep = cfg.keep
    ewma, folded, until = state.ewma, state.folded, state.folded_until
    for start in sorted(s for s in state.buckets if s < window_start):
        gap = (start - until) // cfg.bucket_s
        ewma *= keep ** gap
        ewma = keep * ewma + (1.0 - keep) * state.buckets[start][0]
        folded += gap + 1
        until = start + cfg.bucket_s
    if window_start > until:
        gap = (window_start - until) // cfg.bucket_s
        ewma *= keep ** gap
        folded += gap
        until = window_start
    return ewma, folded, until


def _fold(state: _TemplateState, window_start: int, cfg: RateConfig) -> None:
    state.ewma, state.folded, state.folded_until = _folded_view(state, window_start, cfg)
    for start in [s for s in state.buckets if s < state.folded_until]:
        del state.buckets[start]


def _severity(level: Severity | str) -> Severity:
    return level if isinstance(level, Severity) else severity_from_text(level)


def _epoch(value: datetime | float) -> float:
    return utc(value).timestamp() if isinstance(value, datetime) else float(value)


def _datetime(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def _span_words(seconds: int) -> str:
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"


def _rate_words(per_min: float) -> str:
    return f"{per_min:.1f}" if per_min >= 0.1 or per_min == 0 else f"{per_min:.2g}"
