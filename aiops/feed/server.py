"""The feed's HTTP side: GET /incidents, /proposals, /decisions, /executions, /outcomes (JSON arrays, newest first),
/healthz and /metrics, on aiohttp."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from aiops.core.settings import Settings
from aiops.feed.consumer import OutputFollower
from aiops.feed.service import FollowingService
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


class FeedService(FollowingService):
    """The feed's follower and its JSON endpoints together."""

    def __init__(self, settings: Settings, host: str | None = None, port: int | None = None):
        super().__init__("feed", host or settings.feed_host, settings.feed_port if port is None else port)
        self.settings = settings
        self.store = FeedStore(settings.feed_max_records)
        self.follower = OutputFollower(settings, self.store)

    def app(self) -> web.Application:
        return create_app(self.store, self.follower)


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Run the feed until SIGINT or SIGTERM."""
    service = FeedService(settings, host, port)
    service.run(lambda: print(f"feed: {service.url}/incidents, /proposals, /decisions, /executions, /outcomes, "
                              "/healthz", flush=True))
