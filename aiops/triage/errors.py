"""Errors of the triage package."""


class LlmRejected(Exception):
    """The model's answer cannot become a proposal; the message says why (the runbook reasoner answers instead)."""
