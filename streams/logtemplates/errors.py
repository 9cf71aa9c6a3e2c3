"""Errors raised by the log template package."""

from aiops.core.errors import AiopsError


class LogTemplateError(AiopsError):
    """Base class for errors of streams.logtemplates."""


class MaskingConfigError(LogTemplateError):
    """A masking rule is invalid (bad regex, duplicate name, unknown default to disable)."""


class SnapshotError(LogTemplateError):
    """Saved miner or rates state cannot be restored (corrupt, another format, or an incompatible config)."""
