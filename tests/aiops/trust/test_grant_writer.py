"""The grant writer's file mode: a bundle data patch the operator merges into policy/data.json and ships."""

from __future__ import annotations

import json

import pytest

from aiops.core.settings import Settings
from connectors.errors import ExecutorError
from connectors.executors.base import ExecutionRequest
from connectors.executors.opa_data import GrantWriter, OpaDataExecutor, grant_path


async def test_file_mode_writes_a_patch_for_the_bundle_and_reads_it_back(tmp_path):
    settings = Settings(trust_apply="file", trust_patch_dir=tmp_path)
    writer = GrantWriter(settings)
    assert await writer.read("restart_deployment", "prod", "shop") is None
    where = await writer.write("restart_deployment", "prod", "shop", {"autonomous": False, "proposal_id": "p"})
    patch = json.loads((tmp_path / "restart_deployment.prod.shop.json").read_text())
    assert where.endswith("restart_deployment.prod.shop.json")
    assert patch == {"aiops": {"autonomy": {"grants": {"restart_deployment": {"prod": {"shop": {
        "autonomous": False, "proposal_id": "p"}}}}}}}
    assert (await writer.read("restart_deployment", "prod", "shop"))["autonomous"] is False
    await writer.close()


async def test_the_executor_writes_only_promotions_with_their_evidence(tmp_path):
    executor = OpaDataExecutor(Settings(trust_apply="file", trust_patch_dir=tmp_path))
    request = ExecutionRequest(idempotency_key="promo:promote_autonomy", proposal_id="promo", action="promote_autonomy",
                               target={"environment": "prod", "namespace": "shop", "service": "aiops-policy"},
                               parameters={"environment": "prod", "namespace": "shop",
                                           "subject_action": "flush_cache", "evidence": '{"helpful": 20}'})
    result = await executor.execute(request)
    grant = json.loads(result.response or "")["grant"]
    assert result.status == "succeeded" and grant["autonomous"] is True and grant["proposal_id"] == "promo"
    assert grant["evidence"] == {"helpful": 20}
    with pytest.raises(ExecutorError, match="promote_autonomy only"):
        await executor.execute(ExecutionRequest("k", "p", "restart_deployment", {}, {}))
    await executor.close()


def test_grant_paths_quote_each_part():
    assert grant_path("restart_deployment", "prod", "a/b") == "autonomy/grants/restart_deployment/prod/a%2Fb"


async def test_a_demotion_opa_cannot_take_is_retried_not_lost():
    from datetime import UTC, datetime

    from aiops.trust.service import RETRY_S, TrustService
    from aiops.trust.track_record import Grant, Selector, TrackRecord
    from tests.aiops.gatekeeper.doubles import free_port

    service = TrustService(Settings(opa_url=f"http://127.0.0.1:{free_port()}", opa_timeout_s=1.0),
                           clock=lambda: 1000.0)
    rec = TrackRecord(Selector("restart_deployment", "prod", "shop"),
                      grant=Grant("promo", datetime.now(UTC), ["olivia", "oscar"]))
    await service._demote(None, rec, ["1 harmful outcome(s) since the grant"])  # type: ignore[arg-type]
    assert service.retry_at == 1000.0 + RETRY_S
    await service.writer.close()
    await service.rules.close()
