"""Which variable tokens are masked before template mining, as drain3 masking instructions.

Rules run in order, each on the output of the previous one, so the specific ones come first: a uuid must
be masked before the hex rule sees its first group, and hex before the number rule sees its digits.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from drain3.masking import LogMasker, MaskingInstruction
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from aiops.core.settings import Settings
from streams.logtemplates.errors import MaskingConfigError

# Masks are written <NAME>; drain3 derives its own wildcard from the same prefix and suffix: <*>.
MASK_PREFIX = "<"
MASK_SUFFIX = ">"

# A token starts where no word character (or dot, so "v1.2" stays whole) precedes it, and ends where no
# word character follows.
_START = r"(?<![\w.])"
_END = r"(?!\w)"

_NUM = r"\d+(?:\.\d+)?"
_H = r"[0-9a-fA-F]{1,4}"
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
_IPV6 = (
    "(?:"
    rf"::(?:[fF]{{4}}(?::0{{1,4}})?:)?{_IPV4}"  # IPv4-mapped, ::ffff:10.0.0.1
    rf"|(?:{_H}:){{7}}{_H}"
    rf"|(?:{_H}:){{1,6}}:{_H}"
    rf"|(?:{_H}:){{1,5}}(?::{_H}){{1,2}}"
    rf"|(?:{_H}:){{1,4}}(?::{_H}){{1,3}}"
    rf"|(?:{_H}:){{1,3}}(?::{_H}){{1,4}}"
    rf"|(?:{_H}:){{1,2}}(?::{_H}){{1,5}}"
    rf"|{_H}:(?::{_H}){{1,6}}"
    rf"|:(?::{_H}){{1,7}}"
    rf"|(?:{_H}:){{1,7}}:"
    ")"
)
_GO_UNITS = r"(?:ms|us|µs|μs|ns|h|m|s|d)"
_WORD_UNITS = (
    r"(?:nanoseconds?|microseconds?|milliseconds?|millis|seconds?|secs?|minutes?|mins?|hours?|hrs?|days?"
    r"|ms|us|µs|μs|ns|s)"
)
_SIZE_UNITS = r"(?:[KMGTPE]i?B|[kmgtpe]i?b|kB|bytes?|B)"
_PATH_CHAR = r"[\w.~%@+=,:<>*-]"  # < and > so that a path keeps a mask an earlier rule put inside it
_PATH_LAST = r"[\w~%@+=<>*-]"  # a trailing dot, comma or colon is punctuation, not part of the path


class MaskRule(BaseModel):
    """One masking rule: every match of `regex` is replaced by `<mask>`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$", description="rule name, to disable or replace it")
    regex: str = Field(min_length=1, description="Python regular expression")
    mask: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_]+$", description="the token is replaced by <MASK>")

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return value

    def instruction(self) -> MaskingInstruction:
        return MaskingInstruction(self.regex, self.mask)


DEFAULT_MASK_RULES: tuple[MaskRule, ...] = (
    MaskRule(
        name="timestamp",
        regex=(rf"{_START}(?:\d{{4}}-\d{{2}}-\d{{2}}(?:[T ]\d{{2}}:\d{{2}}(?::\d{{2}}(?:[.,]\d{{1,9}})?)?"
               rf"(?:Z|[+-]\d{{2}}:?\d{{2}})?)?|\d{{2}}:\d{{2}}:\d{{2}}(?:[.,]\d{{1,9}})?){_END}"),
        mask="TIMESTAMP",
    ),
    MaskRule(
        name="uuid",
        regex=rf"{_START}[0-9a-fA-F]{{8}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{12}}{_END}",
        mask="UUID",
    ),
    MaskRule(
        name="ipv6",
        regex=rf"(?:\[{_IPV6}\](?::\d{{1,5}})?|(?<![\w:.]){_IPV6}(?![\w:]|\.\d))",
        mask="IP",
    ),
    MaskRule(name="ipv4", regex=rf"{_START}{_IPV4}(?::\d{{1,5}})?(?!\w|\.\d)", mask="IP"),
    MaskRule(
        name="hex",
        regex=(rf"{_START}(?:0[xX][0-9a-fA-F]+|(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{{8,}})"
               rf"{_END}"),
        mask="HEX",
    ),
    MaskRule(
        name="duration",
        regex=rf"{_START}(?:(?:{_NUM}{_GO_UNITS}){{2,}}|{_NUM} ?{_WORD_UNITS}|{_NUM}[mhd]){_END}",
        mask="DURATION",
    ),
    MaskRule(name="size", regex=rf"{_START}{_NUM} ?{_SIZE_UNITS}{_END}", mask="SIZE"),
    MaskRule(
        name="path",
        regex=rf"(?<![\w.:/<>~-])(?:/{_PATH_CHAR}*{_PATH_LAST})+/?",
        mask="PATH",
    ),
    MaskRule(name="number", regex=rf"{_START}[-+]?{_NUM}{_END}(?!\.\d)", mask="NUM"),
)
DEFAULT_RULE_NAMES: tuple[str, ...] = tuple(rule.name for rule in DEFAULT_MASK_RULES)


class MaskingConfig(BaseModel):
    """The effective, ordered masking rules."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rules: tuple[MaskRule, ...] = DEFAULT_MASK_RULES

    @classmethod
    def build(cls, extra_rules: Iterable[MaskRule | Mapping[str, Any]] = (),
              disabled: Iterable[str] = ()) -> MaskingConfig:
        """The defaults with changes: extra rules run first (they are usually the more specific ones), an
        extra rule named like a default replaces that default in place, and disabled defaults are dropped.

        Raises:
            MaskingConfigError: a rule is invalid, two extra rules share a name, or a disabled name is not a
                default rule.
        """
        try:
            extra = [r if isinstance(r, MaskRule) else MaskRule.model_validate(r) for r in extra_rules]
        except ValidationError as exc:
            raise MaskingConfigError(f"invalid masking rule: {exc}") from None
        names = [r.name for r in extra]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise MaskingConfigError(f"masking rule names must be unique, repeated: {duplicates}")
        off = set(disabled)
        unknown = sorted(off - set(DEFAULT_RULE_NAMES))
        if unknown:
            raise MaskingConfigError(f"cannot disable unknown masking rule(s) {unknown}; "
                                     f"the defaults are {list(DEFAULT_RULE_NAMES)}")
        replacing = {r.name: r for r in extra if r.name in DEFAULT_RULE_NAMES}
        rules = [r for r in extra if r.name not in replacing]
        rules += [replacing.get(d.name, d) for d in DEFAULT_MASK_RULES if d.name not in off]
        return cls(rules=tuple(rules))

    @classmethod
    def from_settings(cls, settings: Settings) -> MaskingConfig:
        """From `log_mask_rules` and `log_mask_disabled` of the settings object."""
        return cls.build(getattr(settings, "log_mask_rules", ()) or (),
                         getattr(settings, "log_mask_disabled", ()) or ())

    def instructions(self) -> list[MaskingInstruction]:
        """The drain3 masking instructions, in order."""
        return [rule.instruction() for rule in self.rules]

    def masker(self) -> LogMasker:
        return LogMasker(self.instructions(), MASK_PREFIX, MASK_SUFFIX)

    def mask(self, message: str) -> str:
        """The message as the miner sees it (for tests and for explaining a template)."""
        return self.masker().mask(message)
