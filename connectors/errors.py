"""Errors of the connectors package: the bridges and the executors."""

from aiops.core.errors import AiopsError


class KafkaUnavailable(AiopsError):
    """Kafka did not take (acknowledge) every record of a request."""


class ExecutorError(AiopsError):
    """The executor definitely did not run the action (refused, unreachable before sending, misconfigured)."""


class OutcomeUnknown(AiopsError):
    """The request may or may not have reached the executor (timeout, connection lost mid-request).

    The gatekeeper then asks the executor for the operation's status by idempotency key before ever
    sending the request again.
    """


class StatusUnavailable(OutcomeUnknown):
    """The executor has no way to look an earlier call up by idempotency key: its outcome stays unknown."""
