"""Executing an allowed action: once, with an honest outcome, concurrently across targets.

`start` runs inside the step: the ledger entry "started" (and the Execution
record) go into the partition's transaction, which is committed before anything else happens; then the call is
queued on the target scheduler (one target at a time, in order; other targets in parallel). The call has a
timeout per action (catalog `timeout_s`, else AIOPS_EXECUTOR_TIMEOUT_S). Its result is written in a transaction
of its own.

A call whose outcome is unknown (timeout, connection cut mid-request, 5xx) is never simply sent again: the
executor is asked for the operation by idempotency key (`status`), with backoff, and only a "never received"
answer lets the same request (same key) go out again. An executor that cannot be asked (a webhook without a
status URL), or that still cannot tell after AIOPS_GATEKEEPER_RECONCILE_MAX_ATTEMPTS lookups, gets the status
`outcome_unknown` and an escalation: a Decision (trigger `escalation`) asking a person to check the target.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable

from aiops.core import metrics
from aiops.core.catalog import ValidatedAction
from aiops.gatekeeper.contracts import Gate
from aiops.gatekeeper.ledger import ExecutionEntry, ProposalState
from aiops.gatekeeper.scheduler import TargetScheduler
from connectors.errors import ExecutorError, OutcomeUnknown, StatusUnavailable
from connectors.executors import ExecutionRequest, ExecutionResult, Executor

log = logging.getLogger("gatekeeper.execution")

# An executor call or status lookup: (executor name, request) -> its outcome (None: never received).
Call = Callable[[str, ExecutionRequest], Awaitable[ExecutionResult | OutcomeUnknown | None]]


class ExecutionRunner:
    def __init__(self, gate: Gate, executors: dict[str, Executor]):
        self.gate = gate
        self.executors = executors
        self.settings = gate.settings
        self.scheduler = TargetScheduler(self.settings.gatekeeper_executor_concurrency)
        self.in_flight: dict[str, str] = {}  # proposal id -> execution id with a call (or lookup) running

    def _timeout_s(self, action: str) -> float:
        spec = self.gate.catalog.actions.get(action)
        return (spec.timeout_s if spec is not None and spec.timeout_s else None) or self.settings.executor_timeout_s

    def _request(self, state: ProposalState) -> tuple[ExecutionRequest, ValidatedAction]:
        proposal = state.proposal
        assert proposal is not None
        # Built from the catalog-validated values only, never from the raw proposal.
        validated = self.gate.catalog.validate(proposal.action, dict(proposal.parameters))
        return ExecutionRequest.from_validated(validated, idempotency_key=proposal.idempotency_key,
                                               proposal_id=state.proposal_id), validated

    # --- starting (in the step) --------------------------------------------------

    async def start(self, state: ProposalState, decision_id: str, validated: ValidatedAction,
                    attempt: int = 1) -> None:
        """Commit "started" for this proposal, then queue the executor call."""
        request, _ = self._request(state)
        executor = "dry-run" if self.settings.gatekeeper_dry_run else validated.executor.value
        started = self.gate.now_ms()
        state.status = "executing"
        state.execution = ExecutionEntry(
            id=uuid.uuid4().hex, decision_id=decision_id, idempotency_key=request.idempotency_key,
            executor=executor, attempt=attempt, status="started", started_at_ms=started, request=request.to_json())
        await self.gate.persist(state)
        self.gate.recent.add(request.action, request.target, state.proposal_id, started)
        await self.gate.write_execution(state)
        self.gate.recent.recorded.add(state.proposal_id)
        # The ledger's "started" is committed (and ours: a fenced instance fails here) before the executor
        # hears anything.
        await self.gate.outputs.commit(state.partition)
        self._queue(state, request, self._call)

    def reconcile_later(self, state: ProposalState) -> None:
        """Queue a status lookup by idempotency key for an execution whose outcome is unknown."""
        request, _ = self._request(state)
        self._queue(state, request, self._look_up)

    def _queue(self, state: ProposalState, request: ExecutionRequest, how: Call) -> None:
        entry = state.execution
        assert entry is not None
        pid, partition, execution_id = state.proposal_id, state.partition, entry.id
        target = tuple(sorted(request.target.items()))

        async def job() -> None:
            if self.in_flight.get(pid) == execution_id:
                return  # a call or lookup for this very execution is already running
            self.in_flight[pid] = execution_id
            try:
                outcome = await how(entry.executor, request)
            finally:
                if self.in_flight.get(pid) == execution_id:
                    del self.in_flight[pid]
            await self.gate.outputs.after_step(partition, lambda: self._record(pid, execution_id, outcome))

        self.scheduler.submit(target, job)

    # --- the calls (outside any lock) ----------------------------------------------------------------------

    async def _call(self, executor_name: str, request: ExecutionRequest) -> ExecutionResult | OutcomeUnknown:
        executor = self.executors[executor_name]
        timeout = self._timeout_s(request.action)
        try:
            return await asyncio.wait_for(executor.execute(request), timeout)
        except ExecutorError as exc:
            return ExecutionResult("failed", error=str(exc))
        except OutcomeUnknown as exc:
            return exc
        except TimeoutError:
            return OutcomeUnknown(f"{executor_name}: no answer within {timeout:g}s")
        except Exception as exc:  # a bug in an executor: the request may have gone out, so: unknown
            return OutcomeUnknown(f"{executor_name} failed unexpectedly: {type(exc).__name__}: {exc}")

    async def _look_up(self, executor_name: str, request: ExecutionRequest
                       ) -> ExecutionResult | OutcomeUnknown | None:
        executor = self.executors[executor_name]
        timeout = self._timeout_s(request.action)
        try:
            return await asyncio.wait_for(executor.status(request.idempotency_key), timeout)
        except OutcomeUnknown as exc:
            return exc
        except TimeoutError:
            return OutcomeUnknown(f"{executor_name}: the status lookup had no answer within {timeout:g}s")
        except Exception as exc:
            return OutcomeUnknown(f"{executor_name} status lookup failed: {type(exc).__name__}: {exc}")

    # --- recording (after the step in progress, in a transaction of its own) ---------------------------------

    async def _record(self, pid: str, execution_id: str, outcome: ExecutionResult | OutcomeUnknown | None) -> None:
        state = self.gate.states.get(pid)
        entry = state.execution if state is not None else None
        if state is None or entry is None or state.status != "executing" or entry.id != execution_id:
            return  # the state moved on meanwhile (restored, reconciled): nothing of ours to record
        if isinstance(outcome, StatusUnavailable):
            await self._escalate(state, f"{entry.executor} cannot look an operation up by idempotency key "
                                        f"({outcome})")
        elif isinstance(outcome, OutcomeUnknown):
            entry.reconcile_attempt += 1
            entry.unknown_since_ms = entry.unknown_since_ms or self.gate.now_ms()
            entry.error = str(outcome)[:2000]
            if entry.reconcile_attempt > self.settings.gatekeeper_reconcile_max_attempts:
                await self._escalate(state, f"still unknown after {entry.reconcile_attempt - 1} status lookups: "
                                            f"{outcome}")
                return
            log.warning("execution of %s: outcome unknown (%s); asking %s by idempotency key, lookup %d",
                        pid, outcome, entry.executor, entry.reconcile_attempt)
            await self.gate.persist(state)
            self.gate.timers.schedule(self.gate.now_ms() + self._backoff_ms(entry.reconcile_attempt), pid,
                                      "reconcile")
        elif outcome is None:
            # The executor never received it: now, and only now, it is sent again (with the same key).
            log.info("%s never received %s (key %s): sending it now", entry.executor, pid, entry.idempotency_key)
            _, validated = self._request(state)
            await self.start(state, entry.decision_id, validated, attempt=entry.attempt + 1)
        else:
            note = "reconciled by idempotency key" if entry.unknown_since_ms or entry.reconcile_attempt else None
            await self.finish(state, outcome, note)

    def _backoff_ms(self, attempt: int) -> int:
        delay = min(self.settings.gatekeeper_retry_initial_s * 2 ** attempt, self.settings.gatekeeper_retry_max_s)
        return int(delay * 1000)

    async def finish(self, state: ProposalState, result: ExecutionResult, note: str | None = None) -> None:
        entry = state.execution
        assert entry is not None
        entry.status = result.status
        entry.response = result.response[:65_536] if result.response else result.response
        error = result.error if not note else f"{note}: {result.error}" if result.error else note
        entry.error = error[:2000] if error else error
        entry.finished_at_ms = self.gate.now_ms()
        entry.unknown_since_ms = None
        state.status = "done"
        await self.gate.persist(state)
        await self.gate.write_execution(state)
        log.info("execution of %s (%s, key %s): %s", state.proposal_id, entry.executor, entry.idempotency_key,
                 result.status)

    async def _escalate(self, state: ProposalState, why: str) -> None:
        """Record `outcome_unknown` and hand the action to a person; it is never sent again."""
        entry = state.execution
        assert entry is not None and state.proposal is not None
        await self.finish(state, ExecutionResult("outcome_unknown", error=f"{why}; not sent again"))
        metrics.ESCALATIONS.labels(entry.executor).inc()
        target = "/".join(state.proposal.target.model_dump().values())
        await self.gate.write_decision(state, allow=False, trigger="escalation", reasons=[
            f"gatekeeper: the outcome of {state.proposal.action} on {target} via {entry.executor} (idempotency "
            f"key {entry.idempotency_key}) is unknown: {why}. It was not sent again. A person must check the target "
            "and record what happened."], considered=[])

    async def close(self) -> None:
        await self.scheduler.drain(self.settings.executor_timeout_s)
