"""Shared HTTP plumbing for the executors: one aiohttp session, errors sorted into 'did not run' and 'unknown'."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from connectors.errors import ExecutorError, OutcomeUnknown


class HttpClient:
    def __init__(self, timeout_s: float, token: str | None = None):
        self.timeout_s = timeout_s
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s),
                                                  headers=self.headers)
        return self._session

    async def request(self, method: str, url: str, *, body: dict[str, Any] | None = None,
                      headers: dict[str, str] | None = None) -> tuple[int, str, Any]:
        """(status, text, parsed JSON or None). Connection refused -> ExecutorError; lost mid-way -> OutcomeUnknown."""
        try:
            async with self.session().request(method, url, json=body, headers=headers or {}) as resp:
                text = await resp.text()
        except aiohttp.ClientConnectorError as exc:
            # Could not even connect: nothing was sent.
            raise ExecutorError(f"{method} {url}: cannot connect: {exc}") from exc
        except TimeoutError as exc:
            raise OutcomeUnknown(f"{method} {url}: no answer within {self.timeout_s:g}s") from exc
        except aiohttp.ClientError as exc:
            raise OutcomeUnknown(f"{method} {url}: {type(exc).__name__}: {exc}") from exc
        try:
            parsed = json.loads(text) if text else None
        except json.JSONDecodeError:
            parsed = None
        return resp.status, text, parsed

    async def look_up(self, url: str, what: str) -> tuple[int, str, Any] | None:
        """GET an earlier operation: None when the other side says 404 (it never received it), the answer when it
        says 200, OutcomeUnknown for anything else (asked again later, never a reason to send again)."""
        try:
            status, text, body = await self.request("GET", url)
        except ExecutorError as exc:
            raise OutcomeUnknown(str(exc)) from exc
        if status == 404:
            return None
        if status == 200:
            return status, text, body
        raise OutcomeUnknown(f"{what} status lookup answered HTTP {status}: {text[:200]}")

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
