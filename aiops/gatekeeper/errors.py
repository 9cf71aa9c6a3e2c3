"""Errors of the gatekeeper package."""

from aiops.core.errors import AiopsError


class KeyStoreError(AiopsError):
    """A signing key is missing, unreadable or already exists; the message names the file."""


class TokenError(AiopsError):
    """An approval token is malformed or does not match what it comes with."""


class ProposalNotFound(AiopsError):
    """No proposal with the given id is on the proposals topic."""


class ProposalAmbiguous(AiopsError):
    """The id names more than one proposal (or not the one the gatekeeper considers): nothing may be signed."""


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


class Fenced(AiopsError):
    """Another instance took this partition over: nothing more may be written (or executed) for it here."""

    def __init__(self, partition: int):
        super().__init__(f"partition {partition} was taken over by another gatekeeper instance (producer fenced)")
        self.partition = partition


class ProduceFailed(AiopsError):
    """A write failed; `permanent` when the same record would fail again (too large, corrupt)."""

    def __init__(self, error: BaseException, permanent: bool):
        super().__init__(f"{type(error).__name__}: {error}")
        self.error = error
        self.permanent = permanent
