"""The Jinja environment of the console: templates next to this module, autoescaped, and the filters they use."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).with_name("templates")


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
        except ValueError:
            return None
    return None


def clock(value: Any) -> str:
    """HH:MM:SS in UTC (the date too when it is not today)."""
    when = _time(value)
    if when is None:
        return "-"
    if when.date() != datetime.now(UTC).date():
        return when.strftime("%Y-%m-%d %H:%M:%S")
    return when.strftime("%H:%M:%S")


def stamp(value: Any) -> str:
    when = _time(value)
    return when.strftime("%Y-%m-%d %H:%M:%S UTC") if when else "-"


def short_id(value: Any) -> str:
    """The tail of an id: enough to tell records apart on screen, as `aiops demo` prints them."""
    text = str(value or "")
    return text[-8:] if len(text) > 8 else text


def duration(value: Any) -> str:
    if not isinstance(value, int | float):
        return "-"
    return f"{value / 1000:.1f} s" if value >= 1000 else f"{value:.0f} ms"


def parameter(value: Any) -> str:
    """A parameter value as JSON writes it (strings quoted only when that helps: never here)."""
    return value if isinstance(value, str) else json.dumps(value)


def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(clock=clock, stamp=stamp, short_id=short_id, duration=duration, parameter=parameter)
    return env
