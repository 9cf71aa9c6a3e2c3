"""The error every ingestion decoder raises for input it cannot read; the reason goes into dead-letter headers."""

from __future__ import annotations

from aiops.core.errors import AiopsError


class IngestError(AiopsError):
    """An input message could not be decoded or validated; `reason` says what is wrong and where."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
