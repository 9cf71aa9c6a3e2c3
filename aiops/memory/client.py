"""Clients of the memory service (`aiops memory serve`): the CLI and the stream agents reach the store through it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import httpx
from pydantic import ValidationError

from aiops.core.settings import Settings
from aiops.memory.documents import MemoryRecord
from aiops.memory.errors import MemoryServiceError
from aiops.memory.store import Hit


def service_url(settings: Settings) -> str:
    """Where the memory service answers: `memory_service_url`, or http://<memory_host>:<memory_port>."""
    if getattr(settings, "memory_service_url", None):
        return str(settings.memory_service_url).rstrip("/")
    return f"http://{settings.memory_host}:{settings.memory_port}"


class MemorySearch(Protocol):
    """Anything that searches memory: a MemoryStore (the owner) or a MemoryClient (everyone else)."""

    def search(self, query: str, top_k: int = 5, kinds: Sequence[str] | None = None,
               services: Sequence[str] | None = None) -> list[Hit]: ...


class MemoryWriter(Protocol):
    def upsert(self, records: Sequence[MemoryRecord]) -> int: ...


def _search_body(query: str, top_k: int, kinds: Sequence[str] | None, services: Sequence[str] | None
                 ) -> dict[str, Any]:
    return {"query": query, "top_k": top_k, "kinds": list(kinds) if kinds else None,
            "services": list(services) if services else None}


def _answer(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code >= 400:
        reason = body.get("error") if isinstance(body, dict) else None
        raise MemoryServiceError(f"memory service {what}: HTTP {response.status_code}: "
                                 f"{reason or response.text[:300]}")
    if not isinstance(body, dict):
        raise MemoryServiceError(f"memory service {what}: the answer is not a JSON object")
    return body


def _hits(body: dict[str, Any]) -> list[Hit]:
    try:
        return [Hit.model_validate(hit) for hit in body.get("hits", [])]
    except ValidationError as exc:
        raise MemoryServiceError(f"memory service search: malformed hits: {exc}") from None


class MemoryClient:
    """Blocking client (the CLI, tests, code off the event loop)."""

    def __init__(self, base_url: str, timeout_s: float = 10.0, transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout_s, transport=transport)

    @classmethod
    def from_settings(cls, settings: Settings) -> MemoryClient:
        return cls(service_url(settings), timeout_s=getattr(settings, "memory_timeout_s", 10.0))

    def __enter__(self) -> MemoryClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, what: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise MemoryServiceError(f"memory service at {self.base_url} unreachable ({what}): {exc}") from None
        return _answer(response, what)

    def health(self) -> dict[str, Any]:
        """The service's /healthz answer (owner pid, store URI, record count)."""
        return self._call("GET", "/healthz", "health")

    def is_up(self) -> bool:
        """Whether a memory service answers at the base URL."""
        try:
            return self.health().get("status") == "ok"
        except MemoryServiceError:
            return False

    def upsert(self, records: Sequence[MemoryRecord]) -> int:
        """Insert or replace records by id; returns how many were written."""
        body = {"documents": [r.model_dump() for r in records]}
        return int(self._call("POST", "/v1/documents", "upsert", json=body)["upserted"])

    def delete(self, ids: Sequence[str]) -> int:
        """Delete records by id; returns how many existed."""
        return int(self._call("POST", "/v1/documents/delete", "delete", json={"ids": list(ids)})["deleted"])

    def search(self, query: str, top_k: int = 5, kinds: Sequence[str] | None = None,
               services: Sequence[str] | None = None) -> list[Hit]:
        """The records most relevant to a text query, best first (see MemoryStore.search)."""
        return _hits(self._call("POST", "/v1/search", "search", json=_search_body(query, top_k, kinds, services)))

    def count(self) -> int:
        """How many records the store holds."""
        return int(self._call("GET", "/v1/stats", "stats")["count"])

    def count_by_kind(self) -> dict[str, int]:
        """Records per kind, kinds without records left out."""
        return {str(k): int(v) for k, v in self._call("GET", "/v1/stats", "stats")["by_kind"].items()}


class AsyncMemoryClient:
    """Non-blocking client, for Faust agents (an await never stalls the event loop)."""

    def __init__(self, base_url: str, timeout_s: float = 10.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout_s, transport=transport)

    @classmethod
    def from_settings(cls, settings: Settings) -> AsyncMemoryClient:
        return cls(service_url(settings), timeout_s=getattr(settings, "memory_timeout_s", 10.0))

    async def __aenter__(self) -> AsyncMemoryClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, what: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise MemoryServiceError(f"memory service at {self.base_url} unreachable ({what}): {exc}") from None
        return _answer(response, what)

    async def health(self) -> dict[str, Any]:
        return await self._call("GET", "/healthz", "health")

    async def upsert(self, records: Sequence[MemoryRecord]) -> int:
        body = {"documents": [r.model_dump() for r in records]}
        return int((await self._call("POST", "/v1/documents", "upsert", json=body))["upserted"])

    async def search(self, query: str, top_k: int = 5, kinds: Sequence[str] | None = None,
                     services: Sequence[str] | None = None) -> list[Hit]:
        body = _search_body(query, top_k, kinds, services)
        return _hits(await self._call("POST", "/v1/search", "search", json=body))


class OnDemandMemoryClient:
    """An AsyncMemoryClient made on first use, so its HTTP client belongs to the event loop that uses it
    (stream agents are declared before their loop runs)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: AsyncMemoryClient | None = None

    def __call__(self) -> AsyncMemoryClient:
        if self._client is None:
            self._client = AsyncMemoryClient.from_settings(self.settings)
        return self._client
