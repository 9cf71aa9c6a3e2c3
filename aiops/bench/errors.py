"""Errors of the bench package."""

from aiops.core.errors import AiopsError


class BenchError(AiopsError):
    """The benchmark could not complete; the message says which step."""
