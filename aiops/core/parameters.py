"""Action parameter kinds: what a catalog parameter may hold, checked on every proposal (and again in Rego).

A kind is stricter than a JSON type: a Kubernetes name cannot carry `../`, `;` or a newline, a count has
bounds, free text has a length cap and no control characters. policy/parameters.rego checks the same
kinds with the same patterns, from the parameter specs the bundle data holds (`policy_data()`).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Kind = Literal["name", "subdomain", "label_value", "duration", "count", "enum", "text", "boolean"]

# Kubernetes' own rules (k8s.io/apimachinery/pkg/util/validation): a DNS-1123 label (names of namespaces,
# services, deployments), a DNS-1123 subdomain (node names), a label value.
DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
LABEL_VALUE = r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
# A Go-style duration in whole units, e.g. 90s, 15m, 1h30m (what time.parse_duration_ns reads in Rego).
DURATION = r"^([0-9]+(h|m|s|ms))+$"
PATTERNS = {"name": DNS1123_LABEL, "subdomain": DNS1123_SUBDOMAIN, "label_value": LABEL_VALUE}
MAX_LENGTH = {"name": 63, "subdomain": 253, "label_value": 63}
TEXT_HARD_CAP = 4096
_UNIT_NS = {"h": 3_600_000_000_000, "m": 60_000_000_000, "s": 1_000_000_000, "ms": 1_000_000}
_DURATION_PART = re.compile(r"([0-9]+)(h|ms|m|s)")


def duration_ns(text: str) -> int:
    """Nanoseconds in a duration like `1h30m` (ValueError if it is not one)."""
    if not re.fullmatch(DURATION, text):
        raise ValueError(f"{text!r} is not a duration like 90s, 15m or 1h30m")
    return sum(int(number) * _UNIT_NS[unit] for number, unit in _DURATION_PART.findall(text))


def _control_character(text: str) -> str | None:
    for char in text:
        # Cc: C0, DEL and C1 controls (newlines, escapes); Zl/Zp: the Unicode line and paragraph separators.
        if unicodedata.category(char) in ("Cc", "Zl", "Zp"):
            return repr(char)
    return None


class ParameterSpec(BaseModel):
    """One parameter in the catalog: its kind and the bounds that kind needs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Kind
    required: bool = True
    description: str = ""
    values: list[str] | None = Field(None, description="enum: the allowed values")
    min: int | None = Field(None, description="count: the smallest value")
    max: int | None = Field(None, description="count: the largest value")
    min_duration: str | None = Field(None, description="duration: the shortest, e.g. 1s")
    max_duration: str | None = Field(None, description="duration: the longest, e.g. 24h")
    max_length: int | None = Field(None, ge=1, le=TEXT_HARD_CAP, description="text: the longest, in characters")
    default: str | int | bool | None = Field(
        None, description="what the executor assumes when the parameter is absent (documentation only)")

    @model_validator(mode="after")
    def _bounds_for_kind(self) -> ParameterSpec:
        need = {"count": ("min", "max"), "enum": ("values",), "text": ("max_length",), "duration": ("max_duration",)}
        for name in need.get(self.kind, ()):
            if getattr(self, name) is None:
                article = "an" if self.kind == "enum" else "a"
                raise ValueError(f"{article} {self.kind} parameter needs `{name}`")
        for name, kinds in (("values", {"enum"}), ("min", {"count"}), ("max", {"count"}),
                            ("min_duration", {"duration"}), ("max_duration", {"duration"}), ("max_length", {"text"})):
            if getattr(self, name) is not None and self.kind not in kinds:
                raise ValueError(f"`{name}` applies to {', '.join(sorted(kinds))} parameters, not {self.kind}")
        if self.kind == "count" and self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min must not exceed max")
        if self.kind == "enum" and not self.values:
            raise ValueError("an enum parameter needs at least one value")
        for bound in (self.min_duration, self.max_duration):
            if bound is not None:
                duration_ns(bound)
        return self

    @property
    def type(self) -> str:
        """The JSON type of the kind's values."""
        return {"count": "integer", "boolean": "boolean"}.get(self.kind, "string")

    def problem(self, name: str, value: Any) -> str | None:
        """Why `value` does not fit this parameter, or None."""
        if self.kind == "boolean":
            return None if isinstance(value, bool) else f"parameter {name!r} must be a boolean, got {value!r}"
        if self.kind == "count":
            if not isinstance(value, int) or isinstance(value, bool):
                return f"parameter {name!r} must be an integer, got {type(value).__name__}"
            if not self.min <= value <= self.max:  # type: ignore[operator]
                return f"parameter {name!r} must be between {self.min} and {self.max}, got {value}"
            return None
        if not isinstance(value, str):
            return f"parameter {name!r} must be a string, got {type(value).__name__}"
        if self.kind == "enum":
            return None if value in (self.values or []) else f"parameter {name!r} must be one of {self.values}"
        if self.kind == "text":
            return self._text_problem(name, value)
        if self.kind == "duration":
            return self._duration_problem(name, value)
        if len(value) > MAX_LENGTH[self.kind] or not re.fullmatch(PATTERNS[self.kind], value):
            what = {"name": "a Kubernetes name (DNS-1123 label: lowercase letters, digits and '-', at most 63)",
                    "subdomain": "a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', at most 253)",
                    "label_value": "a label value (letters, digits, '-', '_' and '.', at most 63)"}[self.kind]
            return f"parameter {name!r} must be {what}, got {value[:80]!r}"
        return None

    def _text_problem(self, name: str, value: str) -> str | None:
        if not value.strip():
            return f"parameter {name!r} must not be empty"
        if len(value) > (self.max_length or 0):
            return f"parameter {name!r} is longer than {self.max_length} characters"
        control = _control_character(value)
        return f"parameter {name!r} must not contain control characters (found {control})" if control else None

    def _duration_problem(self, name: str, value: str) -> str | None:
        try:
            nanos = duration_ns(value)
        except ValueError as exc:
            return f"parameter {name!r}: {exc}"
        if self.min_duration is not None and nanos < duration_ns(self.min_duration):
            return f"parameter {name!r} must be at least {self.min_duration}, got {value}"
        if nanos > duration_ns(self.max_duration or "0s"):
            return f"parameter {name!r} must be at most {self.max_duration}, got {value}"
        return None

    def policy_data(self) -> dict[str, Any]:
        """The spec as the bundle data holds it for policy/parameters.rego: the kind and its concrete bounds.

        Patterns and lengths come from here, so Python and Rego check the same rules.
        """
        data: dict[str, Any] = {"kind": self.kind, "required": self.required}
        if self.kind in PATTERNS:
            data.update(pattern=PATTERNS[self.kind], max_length=MAX_LENGTH[self.kind])
        elif self.kind == "count":
            data.update(min=self.min, max=self.max)
        elif self.kind == "enum":
            data.update(values=list(self.values or []))
        elif self.kind == "text":
            data.update(max_length=self.max_length)
        elif self.kind == "duration":
            data.update(pattern=DURATION, max_ns=duration_ns(self.max_duration or "0s"),
                        min_ns=duration_ns(self.min_duration) if self.min_duration else 0)
        return data
