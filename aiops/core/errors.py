"""The project's own exception types, shared by every subpackage."""


class AiopsError(Exception):
    """Base class: every error the project raises on purpose."""


class StackError(AiopsError):
    """The local stack could not be provisioned, started or checked; the message names the cause."""


class SerializationError(AiopsError):
    """A record could not be encoded or decoded; the message says why."""
