"""A process that follows the output topics and serves what it read over HTTP (the feed, the console): the
follower task and the aiohttp server started and stopped together, and run until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable

from aiohttp import web

from aiops.feed.consumer import OutputFollower

log = logging.getLogger(__name__)


class FollowingService:
    """Subclasses set `follower` and build their application in `app()`; start() and stop() in a running loop."""

    follower: OutputFollower
    shutdown_timeout_s = 60.0  # how long open requests (an event stream) may take to finish at stop

    def __init__(self, name: str, host: str, port: int):
        self.name = name
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def app(self) -> web.Application:
        raise NotImplementedError

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=self.shutdown_timeout_s)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.host, self.port).start()
        except OSError:  # e.g. the port is taken: nothing keeps running
            await self._runner.cleanup()
            self._runner = None
            raise
        self._task = asyncio.create_task(self.follower.run(), name=f"aiops-{self.name}-follower")
        if self.port == 0:  # an ephemeral port: report the one the OS picked
            self.port = self._runner.addresses[0][1]
        log.info("%s serving on %s (group %s)", self.name, self.url, self.follower.group_id)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._runner is not None:
            await self._runner.cleanup()

    def run(self, started: Callable[[], None]) -> None:
        """Serve until SIGINT or SIGTERM; `started` runs once the server listens (to print where)."""

        async def main() -> None:
            stopping = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stopping.set)
            await self.start()
            started()
            try:
                await stopping.wait()
            finally:
                await self.stop()

        asyncio.run(main())
