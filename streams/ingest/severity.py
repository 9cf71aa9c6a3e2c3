"""Alert severities onto the project's scale: the label that holds it and the words it is written with are
configurable (`alert_severity_labels`, `severity_words`), on top of the common words every source uses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aiops.core.settings import Settings
from streams.records import SEVERITY_WORDS, Severity


@dataclass(frozen=True)
class SeverityScale:
    labels: tuple[str, ...]
    words: Mapping[str, Severity]

    @classmethod
    def from_settings(cls, settings: Settings) -> SeverityScale:
        extra = {word.strip().lower(): Severity(level) for word, level in settings.severity_words.items()}
        return cls(tuple(settings.alert_severity_labels), {**SEVERITY_WORDS, **extra})

    def of_word(self, word: object) -> Severity:
        if not isinstance(word, str):
            return Severity.unknown
        return self.words.get(word.strip().lower(), Severity.unknown)

    def of_labels(self, labels: Mapping[str, str], explicit: object = None) -> Severity:
        """The explicit severity when given, else the first configured label that is set."""
        if isinstance(explicit, str) and explicit.strip():
            return self.of_word(explicit)
        for name in self.labels:
            value = labels.get(name)
            if isinstance(value, str) and value.strip():
                return self.of_word(value)
        return Severity.unknown
