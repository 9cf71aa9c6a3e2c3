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
