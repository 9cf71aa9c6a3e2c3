"""The opa-data executor and the grant writer: the trust ladder's promotions and demotions as policy data.

A grant is one document per selector at `data.autonomy.grants[action][environment][namespace]`
(policy/earned_autonomy.rego reads it; it lies outside the bundle's `aiops` root, so the OPA data API
may write it). With `AIOPS_TRUST_APPLY=opa` it is PUT to OPA at once; with `file` it is written as a
bundle data patch under `AIOPS_TRUST_PATCH_DIR` for the operator to merge into policy/data.json
(`aiops.autonomy.grants`) and ship. Either way the document names the promotion proposal, so the audit
(Decision with its approvers, Execution with this patch) links back to the evidence.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiops.core.settings import Settings
from connectors.errors import ExecutorError
from connectors.executors.base import ExecutionRequest, ExecutionResult
from connectors.executors.http import HttpClient

GRANTS_PATH = "autonomy/grants"


def grant_path(action: str, environment: str, namespace: str) -> str:
    """The data API path of one selector's grant (each part URL-quoted)."""
    return "/".join([GRANTS_PATH, *(quote(part, safe="") for part in (action, environment, namespace))])


class GrantWriter:
    """Writes (and reads back) one selector's grant document: to OPA's data API, or as a patch file."""

    def __init__(self, settings: Settings):
        self.mode = settings.trust_apply
        self.opa_url = settings.opa_url.rstrip("/")
        self.patch_dir = settings.trust_patch_dir or settings.state_dir / "autonomy"
        self.http = HttpClient(settings.opa_timeout_s)

    def _file(self, action: str, environment: str, namespace: str) -> Path:
        return self.patch_dir / f"{action}.{environment}.{namespace}.json"

    async def write(self, action: str, environment: str, namespace: str, grant: dict[str, Any]) -> str:
        """Write the grant; returns where it went (the data API URL or the patch file)."""
        if self.mode == "file":
            path = self._file(action, environment, namespace)
            path.parent.mkdir(parents=True, exist_ok=True)
            patch = {"aiops": {"autonomy": {"grants": {action: {environment: {namespace: grant}}}}}}
            path.write_text(json.dumps(patch, indent=2, sort_keys=True) + "\n")
            return str(path)
        url = f"{self.opa_url}/v1/data/{grant_path(action, environment, namespace)}"
        status, text, _ = await self.http.request("PUT", url, body=grant)
        if status not in (200, 204):
            raise ExecutorError(f"PUT {url} answered HTTP {status}: {text[:300]}")
        return url

    async def read(self, action: str, environment: str, namespace: str) -> dict[str, Any] | None:
        """The grant as written, or None when there is none."""
        if self.mode == "file":
            path = self._file(action, environment, namespace)
            if not path.exists():
                return None
            patch = json.loads(path.read_text())
            return patch["aiops"]["autonomy"]["grants"][action][environment][namespace]
        url = f"{self.opa_url}/v1/data/{grant_path(action, environment, namespace)}"
        found = await self.http.look_up(url, "OPA data")
        result = found[2].get("result") if found and isinstance(found[2], dict) else None
        return result if isinstance(result, dict) else None

    async def close(self) -> None:
        await self.http.close()


def now_rfc3339() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class OpaDataExecutor:
    """Runs `promote_autonomy`: writes the grant its parameters name (nothing else; any other action is refused)."""

    name = "opa-data"

    def __init__(self, settings: Settings):
        self.writer = GrantWriter(settings)

    @staticmethod
    def _selector(request: ExecutionRequest) -> tuple[str, str, str]:
        if request.action != "promote_autonomy":
            raise ExecutorError(f"the opa-data executor runs promote_autonomy only, not {request.action}")
        p = request.parameters
        return str(p["subject_action"]), str(p["environment"]), str(p["namespace"])

    async def execute(self, request: ExecutionRequest) -> ExecutionResult:
        action, environment, namespace = self._selector(request)
        try:
            evidence: Any = json.loads(str(request.parameters.get("evidence", "null")))
        except json.JSONDecodeError:
            evidence = request.parameters.get("evidence")
        grant = {"autonomous": True, "proposal_id": request.proposal_id, "idempotency_key": request.idempotency_key,
                 "granted_at": now_rfc3339(), "evidence": evidence}
        where = await self.writer.write(action, environment, namespace, grant)
        return ExecutionResult("succeeded", json.dumps({"written_to": where, "grant": grant}, sort_keys=True),
                               operation_id=where)

    async def status(self, idempotency_key: str) -> ExecutionResult | None:
        # Writing the same grant again is harmless (a PUT of one document), so "never received" is a safe
        # answer after an interrupted write: the gatekeeper sends it again.
        return None

    async def footprint(self, measure: str, target: dict[str, str]) -> int | None:
        return None

    async def close(self) -> None:
        await self.writer.close()
