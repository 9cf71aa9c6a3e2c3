"""Dense embeddings from an OpenAI-compatible endpoint, for hybrid (BM25 + dense) retrieval."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol

from pydantic import SecretStr

from aiops.core.settings import Settings
from aiops.memory.errors import EmbeddingError

EMBED_BATCH = 64  # texts per request; well under the 2,048 inputs an OpenAI request may hold


class Embedder(Protocol):
    """Turns texts into dense vectors of one fixed dimension."""

    model: str

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order."""
        ...


class OpenAIEmbedder:
    """`POST {base_url}/embeddings` through the `openai` client."""

    def __init__(self, base_url: str, model: str, api_key: SecretStr | None = None, timeout_s: float = 30.0) -> None:
        from openai import OpenAI

        self.model = model
        self.base_url = base_url
        # Local OpenAI-compatible servers often need no key, but the client insists on one.
        key = api_key.get_secret_value() if api_key is not None and api_key.get_secret_value() else "unused"
        self._client = OpenAI(base_url=base_url, api_key=key, timeout=timeout_s, max_retries=2)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order.

        Raises:
            EmbeddingError: the endpoint failed, or answered with missing, ragged or non-finite vectors.
        """
        vectors: list[list[float]] = []
        for start in range(0, len(texts), EMBED_BATCH):
            batch = [text or " " for text in texts[start:start + EMBED_BATCH]]  # an empty input is refused
            vectors.extend(self._embed_batch(batch))
        return vectors

    def _embed_batch(self, batch: list[str]) -> list[list[float]]:
        from openai import OpenAIError

        try:
            # "float" explicitly: not every OpenAI-compatible server speaks the client's default base64.
            response: Any = self._client.embeddings.create(model=self.model, input=batch, encoding_format="float")
        except OpenAIError as exc:
            raise EmbeddingError(f"embeddings endpoint {self.base_url} (model {self.model}) failed: {exc}") from None
        data = sorted(response.data, key=lambda item: item.index)
        if len(data) != len(batch):
            raise EmbeddingError(f"embeddings endpoint {self.base_url} returned {len(data)} vectors "
                                 f"for {len(batch)} texts")
        vectors = [[float(x) for x in item.embedding] for item in data]
        dims = {len(v) for v in vectors}
        if len(dims) != 1 or 0 in dims:
            raise EmbeddingError(f"embeddings endpoint {self.base_url} returned vectors of dimensions {sorted(dims)}")
        if not all(math.isfinite(x) for v in vectors for x in v):
            raise EmbeddingError(f"embeddings endpoint {self.base_url} returned non-finite values")
        return vectors


def embedder_from_settings(settings: Settings) -> OpenAIEmbedder | None:
    """The configured embedder: needs `llm_base_url` and `embedding_model`; otherwise None (BM25 only)."""
    base_url = getattr(settings, "llm_base_url", None)
    model = getattr(settings, "embedding_model", None)
    if not base_url or not model:
        return None
    return OpenAIEmbedder(base_url, model, getattr(settings, "llm_api_key", None),
                          timeout_s=getattr(settings, "memory_timeout_s", 30.0))
