"""The platform-ctl executor: the paved-road control API over HTTP (request format in README.md here)."""

from __future__ import annotations

from urllib.parse import quote

from aiops.core.settings import Settings
from connectors.errors import ExecutorError, OutcomeUnknown
from connectors.executors.base import ExecutionRequest, ExecutionResult
from connectors.executors.http import HttpClient

_DONE = {"succeeded", "success", "done", "completed", "ok", "accepted", "running", "pending"}


def _result(status: int, text: str, body: object, duplicate: bool = False) -> ExecutionResult:
    operation = body if isinstance(body, dict) else {}
    op_status = str(operation.get("status", "")).lower()
    if duplicate:
        return ExecutionResult("skipped_duplicate", text, None, operation.get("operation_id"), {"http_status": status})
    if op_status == "failed":
        return ExecutionResult("failed", text, str(operation.get("error") or "platform-ctl reported failure"),
                               operation.get("operation_id"), {"http_status": status})
    if op_status and op_status not in _DONE:
        return ExecutionResult("failed", text, f"platform-ctl returned unknown status {op_status!r}",
                               operation.get("operation_id"), {"http_status": status})
    return ExecutionResult("succeeded", text, None, operation.get("operation_id"), {"http_status": status})


class PlatformCtlExecutor:
    name = "platform-ctl"

    def __init__(self, settings: Settings):
        self.base_url = (settings.platform_ctl_url or "").rstrip("/")
        token = settings.platform_ctl_token.get_secret_value() if settings.platform_ctl_token else None
        self.http = HttpClient(settings.executor_timeout_s, token)

    def _require_url(self) -> str:
        if not self.base_url:
            raise ExecutorError("platform-ctl is not configured (set AIOPS_PLATFORM_CTL_URL)")
        return self.base_url

    async def execute(self, request: ExecutionRequest) -> ExecutionResult:
        url = f"{self._require_url()}/v1/actions/{quote(request.action, safe='')}"
        status, text, body = await self.http.request(
            "POST", url, body=request.body(), headers={"Idempotency-Key": request.idempotency_key})
        if status in (200, 201, 202):
            return _result(status, text, body)
        if status == 409:
            # The key was used before: platform-ctl did not run it again and returns the original result.
            return _result(status, text, body, duplicate=True)
        if 400 <= status < 500:
            return ExecutionResult("failed", text, f"platform-ctl refused the action: HTTP {status}",
                                   details={"http_status": status})
        # 5xx: the platform may have started something; ask for the operation before deciding.
        raise OutcomeUnknown(f"platform-ctl answered HTTP {status}: {text[:200]}")

    async def status(self, idempotency_key: str) -> ExecutionResult | None:
        url = f"{self._require_url()}/v1/operations/{quote(idempotency_key, safe='')}"
        found = await self.http.look_up(url, "platform-ctl")
        return None if found is None else _result(*found)

    async def footprint(self, measure: str, target: dict[str, str]) -> int | None:
        """The target's pod count (GET /v1/targets/{env}/{ns}/{service}) or its node's (GET /v1/nodes/{node})."""
        path = {"pods": ("targets", target["environment"], target["namespace"], target["service"]),
                "node_pods": ("nodes", target["service"])}.get(measure)
        if path is None:
            return None
        url = f"{self._require_url()}/v1/" + "/".join(quote(part, safe="") for part in path)
        status, text, body = await self.http.request("GET", url)
        count = body.get("pods") if isinstance(body, dict) else None
        if status != 200 or not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ExecutorError(f"platform-ctl footprint lookup answered HTTP {status}: {text[:200]}")
        return count

    async def close(self) -> None:
        await self.http.close()
