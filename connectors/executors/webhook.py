"""The generic webhook executor: POSTs the action as JSON to one configured URL, with an Idempotency-Key header."""

from __future__ import annotations

from aiops.core.settings import Settings
from connectors.errors import ExecutorError, OutcomeUnknown
from connectors.executors.base import ExecutionRequest, ExecutionResult
from connectors.executors.http import HttpClient


class WebhookExecutor:
    name = "webhook"

    def __init__(self, settings: Settings):
        self.url = settings.webhook_url
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
        # A plain webhook has no status endpoint: after a crash mid-call the outcome stays unknown and the
        # action is not sent again (at most once).
        raise OutcomeUnknown("the webhook executor cannot look up an earlier call's outcome")

    async def close(self) -> None:
        await self.http.close()
