"""The project's own exception types, shared by every subpackage."""


class AiopsError(Exception):
    """Base class: every error the project raises on purpose."""


class StackError(AiopsError):
    """The local stack could not be provisioned, started or checked; the message names the cause."""


class SerializationError(AiopsError):
    """A record could not be encoded or decoded; the message says why."""


class CatalogError(AiopsError):
    """The action catalog file is missing or malformed; the message names the action and field."""


class InvalidAction(AiopsError):
    """A proposed action is not in the catalog or its parameters do not fit; `problems` lists each one."""

    def __init__(self, action: str, problems: list[str]):
        self.action = action
        self.problems = problems
        super().__init__(f"invalid action {action!r}: " + "; ".join(problems))


class RecordTooLarge(AiopsError):
    """A record larger than the consumer's per-record limit: refused before decoding."""
