"""Errors raised by the memory package."""

from aiops.core.errors import AiopsError


class MemoryStoreError(AiopsError):
    """Base class for errors of the memory package (the store, the service and its client)."""


class HandbookFormatError(MemoryStoreError):
    """A handbook file has missing, malformed or invalid front matter; the message names the file."""


class StoreOwnedError(MemoryStoreError):
    """A Milvus Lite directory is already open in another process; the message names that owner."""


class EmbeddingError(MemoryStoreError):
    """The embeddings endpoint failed or answered something unusable."""


class MemoryServiceError(MemoryStoreError):
    """The memory service could not be reached or refused a request."""
