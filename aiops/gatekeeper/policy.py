"""Asking OPA for the gate decision through opa-python-client, failing closed on every kind of trouble."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import aiohttp
from opa_client.opa_async import AsyncOpaClient

from aiops.gatekeeper.errors import PolicyUnavailable

PACKAGE = "aiops.gate"
RULE = "decision"


@dataclass(frozen=True)
class PolicyAnswer:
    """OPA's decision (`data.aiops.gate.decision`) with its decision id and how long it took."""

    allow: bool
    reasons: list[str]
    decision_id: str | None
    policy_revision: str | None
    result: dict[str, Any] = field(default_factory=dict)
    latency_ms: float = 0.0


def _check_shape(result: Any) -> dict[str, Any]:
    if not isinstance(result, dict):
        raise ValueError(f"decision is a {type(result).__name__}, not an object")
    if not isinstance(result.get("allow"), bool):
        raise ValueError("decision.allow is missing or not a boolean")
    if not isinstance(result.get("reasons"), list) or not all(isinstance(r, str) for r in result["reasons"]):
        raise ValueError("decision.reasons is missing or not a list of strings")
    if not isinstance(result.get("rejected_approvals", []), list):
        raise ValueError("decision.rejected_approvals is not a list")
    return result


class PolicyClient:
    """One async OPA client for the gatekeeper's lifetime."""

    def __init__(self, opa_url: str, timeout_s: float):
        url = urlparse(opa_url)
        self.timeout_s = timeout_s
        self.url = opa_url
        # retries=0: the gatekeeper retries on its own schedule and records a Decision for every attempt.
        self.client = AsyncOpaClient(host=url.hostname or "127.0.0.1", port=url.port or 8181,
                                     ssl=url.scheme == "https", timeout=timeout_s, retries=0)
        self._started = False

    async def decide(self, policy_input: dict[str, Any]) -> PolicyAnswer:
        """The gate decision for this input; raises PolicyUnavailable with the reason when there is none."""
        if not self._started:
            await self.client._init_session()  # the client opens its session lazily only in `async with`
            self._started = True
        started = time.perf_counter()

        def elapsed() -> float:
            return (time.perf_counter() - started) * 1000

        try:
            response = await asyncio.wait_for(
                self.client.query_rule(input_data=policy_input, package_path=PACKAGE, rule_name=RULE),
                timeout=self.timeout_s)
        except TimeoutError:
            raise PolicyUnavailable(f"OPA timed out after {self.timeout_s}s", elapsed()) from None
        except aiohttp.ClientResponseError as exc:
            raise PolicyUnavailable(f"OPA answered HTTP {exc.status}: {exc.message}", elapsed()) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise PolicyUnavailable(f"OPA unreachable at {self.url}: {type(exc).__name__}: {exc}",
                                    elapsed()) from None
        except Exception as exc:  # anything else from the client library: still no decision
            raise PolicyUnavailable(f"OPA query failed: {type(exc).__name__}: {exc}", elapsed()) from None
        latency = elapsed()
        if not isinstance(response, dict) or "result" not in response:
            raise PolicyUnavailable("OPA returned no decision (undefined)", latency)
        try:
            result = _check_shape(response["result"])
        except ValueError as exc:
            raise PolicyUnavailable(f"OPA returned a malformed decision: {exc}", latency) from None
        revision = result.get("policy_revision")
        return PolicyAnswer(allow=result["allow"], reasons=list(result["reasons"]),
                            decision_id=response.get("decision_id"),
                            policy_revision=revision if isinstance(revision, str) else None,
                            result=result, latency_ms=latency)

    async def close(self) -> None:
        await self.client.close_connection()
