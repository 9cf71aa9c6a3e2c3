"""Why the correlator rejects a well-formed signal: the error a rejected signal's dead letter carries."""

from aiops.core.errors import AiopsError


class CorrelationRejection(AiopsError):
    """A signal the correlator cannot place; the message says why."""


class LateEventError(CorrelationRejection):
    """A signal older than the allowed lateness."""


class UncorrelatedSignalError(CorrelationRejection):
    """A well-formed signal the correlator cannot place (e.g. a resolve for an alert never seen firing)."""
