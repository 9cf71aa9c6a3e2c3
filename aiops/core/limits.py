"""Caps for free text taken from the outside: a string cut to a length with a marker, a map cut to a size.

Telemetry and approval text is data a person or a model reads; past its cap it is cut, and the cut says so,
so that a reader never mistakes a truncated value for the whole one.
"""

from __future__ import annotations

from collections.abc import Mapping

TRUNCATED = "…[truncated]"


def cap_text(text: str, limit: int) -> str:
    """`text` when it fits in `limit` characters, else its start and the truncation marker (within `limit`)."""
    if len(text) <= limit:
        return text
    keep = max(0, limit - len(TRUNCATED))
    return text[:keep] + TRUNCATED[: limit - keep]


def cap_map(mapping: Mapping[str, str], entries: int, chars: int) -> dict[str, str]:
    """The first `entries` items in key order, keys and values capped to `chars` characters each."""
    return {cap_text(str(key), chars): cap_text(str(value), chars)
            for key, value in sorted(mapping.items())[:entries]}
