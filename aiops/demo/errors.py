"""Errors of the demo package."""

from aiops.core.errors import AiopsError


class ReplayError(AiopsError):
    """The recording cannot be replayed; the message names the line."""


class DemoError(AiopsError):
    """The demo could not finish; the message says where it stopped."""
