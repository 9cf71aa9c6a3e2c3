"""The feed's HTTP side: GET /incidents, /proposals, /decisions, /executions (JSON arrays, newest first),
/healthz and /metrics, on aiohttp."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from aiops.core.settings import Settings
from aiops.feed.consumer import OutputFollower
from aiops.feed.store import FeedStore

log = logging.getLogger(__name__)

STORE_KEY = web.AppKey("store", FeedStore)
FOLLOWER_KEY = web.AppKey("follower", OutputFollower)


def _limit(request: web.Request) -> int | None:
    raw = request.query.get("limit")
    if raw is None:
        return None
    try:
        limit = int(raw)
    except ValueError:
        raise web.HTTPBadRequest(text="limit must be a whole number") from None
    if limit < 0:
        raise web.HTTPBadRequest(text="limit must not be negative")
    return limit


def _rows_handler(endpoint: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def rows(request: web.Request) -> web.Response:
        return web.json_response(request.app[STORE_KEY].rows(endpoint, _limit(request)))

    rows.__name__ = f"get_{endpoint}"
    return rows


async def healthz(request: web.Request) -> web.Response:
    """200 once the consumer has its partitions, 503 before that or while the broker is out of reach."""
    store = request.app[STORE_KEY]
    follower = request.app[FOLLOWER_KEY]
    healthy = follower.assigned and follower.last_error is None
    body = {
        "status": "ok" if healthy else ("failing" if follower.last_error else "starting"),
        "error": follower.last_error,
        "group_id": follower.group_id,
        "views": {
            name: {"topic": follower.settings.topic(view.topic), "kept": len(store.latest[name]),
                   "read": store.records_read[name], "decode_errors": store.decode_errors[name],
                   "stale_versions": store.stale_versions[name]}
            for name, view in store.views.items()
        },
    }
    return web.json_response(body, status=200 if healthy else 503)


async def metrics(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def index(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    return web.json_response({"endpoints": [f"/{name}" for name in store.views] + ["/healthz", "/metrics"]})


def create_app(store: FeedStore, follower: OutputFollower) -> web.Application:
    """The aiohttp application (the follower runs alongside it, see FeedService)."""
    app = web.Application()
    app[STORE_KEY] = store
    app[FOLLOWER_KEY] = follower
    app.router.add_get("/", index)
    for name in store.views:
        app.router.add_get(f"/{name}", _rows_handler(name))
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    return app


class FeedService:
    """The follower task and the HTTP server together; start() and stop() in a running event loop."""

    def __init__(self, settings: Settings, host: str | None = None, port: int | None = None):
        self.settings = settings
        self.host = host or settings.feed_host
        self.port = settings.feed_port if port is None else port
        self.store = FeedStore(settings.feed_max_records)
        self.follower = OutputFollower(settings, self.store)
        self._runner: web.AppRunner | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        self._runner = web.AppRunner(create_app(self.store, self.follower), access_log=None)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.host, self.port).start()
        except OSError:  # e.g. the port is taken: nothing keeps running
            await self._runner.cleanup()
            self._runner = None
            raise
        self._task = asyncio.create_task(self.follower.run(), name="aiops-feed-follower")
        if self.port == 0:  # an ephemeral port: report the one the OS picked
            self.port = self._runner.addresses[0][1]
        log.info("feed serving on %s (group %s)", self.url, self.follower.group_id)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._runner is not None:
            await self._runner.cleanup()


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Run the feed until SIGINT or SIGTERM."""

    async def main() -> None:
        service = FeedService(settings, host, port)
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopping.set)
        await service.start()
        print(f"feed: {service.url}/incidents, /proposals, /decisions, /executions, /healthz", flush=True)
        try:
            await stopping.wait()
        finally:
            await service.stop()

    asyncio.run(main())
