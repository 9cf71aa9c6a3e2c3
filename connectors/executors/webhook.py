"""The generic webhook executor: POSTs the action as JSON to one configured URL, with an Idempotency-Key header."""

from __future__ import annotations

from urllib.parse import quote

from aiops.core.settings import Settings
from connectors.errors import ExecutorError, OutcomeUnknown, StatusUnavailable
from connectors.executors.base import ExecutionRequest, ExecutionResult
from connectors.executors.http import HttpClient


class WebhookExecutor:
    name = "webhook"

    def __init__(self, settings: Settings):
        self.url = settings.webhook_url
        self.status_url = settings.webhook_status_url  # e.g. https://hooks.example/ops/{idempotency_key}
        token = settings.webhook_token.get_secret_value() if settings.webhook_token else None
        self.http = HttpClient(settings.executor_timeout_s, token)

    async def execute(self, request: ExecutionRequest) -> ExecutionResult:
        if not self.url:
            raise ExecutorError("the webhook executor is not configured (set AIOPS_WEBHOOK_URL)")
        status, text, _ = await self.http.request(
            "POST", self.url, body=request.body(), headers={"Idempotency-Key": request.idempotency_key})
        if 200 <= status < 300:
            return ExecutionResult("succeeded", text, details={"http_status": status})
        if status == 409:
            return ExecutionResult("skipped_duplicate", text, details={"http_status": status})
        if 400 <= status < 500:
            return ExecutionResult("failed", text, f"webhook refused the action: HTTP {status}",
                                   details={"http_status": status})
        raise OutcomeUnknown(f"webhook answered HTTP {status}: {text[:200]}")

    async def status(self, idempotency_key: str) -> ExecutionResult | None:
        """GET the status URL for the key: 200 is the call's result, 404 means it never arrived."""
        if not self.status_url:
            # A plain webhook has no status endpoint: the outcome of an interrupted call stays unknown, and the
            # action is not sent again (at most once); the gatekeeper escalates to a person.
            raise StatusUnavailable("the webhook has no status URL (AIOPS_WEBHOOK_STATUS_URL) to look the call up")
        found = await self.http.look_up(self.status_url.replace("{idempotency_key}", quote(idempotency_key, safe="")),
                                        "webhook")
        if found is None:
            return None
        status, text, body = found
        answer = body if isinstance(body, dict) else {}
        if str(answer.get("status", "succeeded")).lower() == "failed":
            return ExecutionResult("failed", text, str(answer.get("error") or "the webhook reported failure"))
        return ExecutionResult("succeeded", text, details={"http_status": status})

    async def footprint(self, measure: str, target: dict[str, str]) -> int | None:
        return None  # a plain webhook has no read API: the catalog's worst case applies

    async def close(self) -> None:
        await self.http.close()
