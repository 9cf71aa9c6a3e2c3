"""Action executors: platform-ctl (the paved-road control API), a generic webhook, dry-run, and opa-data (policy
data the trust ladder writes).

Which one runs an action comes from the action catalog (actions/catalog.yaml). Every call carries the
proposal's idempotency key, so the receiving side can refuse to run the same action twice.
"""

from aiops.core.settings import Settings
from connectors.executors.base import ExecutionRequest, ExecutionResult, Executor
from connectors.executors.dry_run import DryRunExecutor
from connectors.executors.opa_data import OpaDataExecutor
from connectors.executors.platform_ctl import PlatformCtlExecutor
from connectors.executors.webhook import WebhookExecutor


def build_executors(settings: Settings) -> dict[str, Executor]:
    """One executor per catalog executor name, configured from the settings."""
    return {
        "platform-ctl": PlatformCtlExecutor(settings),
        "webhook": WebhookExecutor(settings),
        "dry-run": DryRunExecutor(),
        "opa-data": OpaDataExecutor(settings),
    }


__all__ = ["ExecutionRequest", "ExecutionResult", "Executor", "build_executors"]
