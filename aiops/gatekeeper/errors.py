"""Errors of the gatekeeper package."""

from aiops.core.errors import AiopsError


class KeyStoreError(AiopsError):
    """A signing key is missing, unreadable or already exists; the message names the file."""


class TokenError(AiopsError):
    """An approval token is malformed or does not match what it comes with."""


class ProposalNotFound(AiopsError):
    """No proposal with the given id is on the proposals topic."""


class ProduceError(AiopsError):
    """Kafka did not acknowledge a record; the message says why."""


class GatekeeperError(AiopsError):
    """The gatekeeper cannot run as configured (topics missing or partitioned unequally)."""


class PolicyUnavailable(Exception):
    """No usable decision: OPA unreachable, too slow, erroring, or undefined/malformed. Means deny."""

    def __init__(self, reason: str, latency_ms: float):
        super().__init__(reason)
        self.reason = reason
        self.latency_ms = latency_ms


class BadRecord(Exception):
    """An input record that goes to its dead-letter topic with `error`."""

    def __init__(self, error: BaseException):
        super().__init__(str(error))
        self.error = error
