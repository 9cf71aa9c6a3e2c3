"""Running executions concurrently across targets while keeping their order per target.

Each job belongs to a target (environment, namespace, service): a job starts only after the previous job for
the same target finished, so two actions on orders-api run in the order they were allowed, while an action
on payments-api does not wait for them. At most `concurrency` jobs run at a time. A slow or hung executor call
therefore delays only its own target (and each call has its own timeout, see execution.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable

log = logging.getLogger("gatekeeper.scheduler")

Job = Callable[[], Awaitable[None]]


class TargetScheduler:
    def __init__(self, concurrency: int):
        self._slots = asyncio.Semaphore(concurrency)
        self._last: dict[Hashable, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, target: Hashable, job: Job) -> asyncio.Task[None]:
        """Run `job` after the jobs already submitted for `target` (never raises; the job handles its errors)."""
        previous = self._last.get(target)
        task = asyncio.create_task(self._run(previous, job))
        self._last[target] = task
        self._tasks.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self._tasks.discard(finished)
            if self._last.get(target) is finished:
                del self._last[target]

        task.add_done_callback(done)
        return task

    async def _run(self, previous: asyncio.Task[None] | None, job: Job) -> None:
        if previous is not None:
            await asyncio.wait({previous})  # however it ended; our own cancellation still propagates
        async with self._slots:
            try:
                await job()
            except Exception:  # a job that raises is a bug; it must not stop the jobs queued behind it
                log.exception("an execution job failed")

    @property
    def running(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout_s: float) -> None:
        """Wait for the jobs in flight (at most timeout_s), then cancel what is left."""
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=timeout_s)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5)
