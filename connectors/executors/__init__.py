"""Action executors: platform-ctl (the paved-road control API), a generic webhook, and dry-run.

Which one runs an action comes from the action catalog (actions/catalog.yaml). Every call carries the
proposal's idempotency key, so the receiving side can refuse to run the same action twice.
"""

from connectors.executors.base import (
    ExecutionRequest,
    ExecutionResult,
    Executor,
    ExecutorError,
    OutcomeUnknown,
    build_executors,
)

__all__ = ["ExecutionRequest", "ExecutionResult", "Executor", "ExecutorError", "OutcomeUnknown",
           "build_executors"]
