"""`aiops console` as a process: the follower reading the output topics, the pages, the event stream, and the
approvals endpoint of connectors/approvals_http.py mounted under /api (the very same path other tools use)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from aiops.console.access import new_read_token, read_access, same_origin_writes, security_headers
from aiops.console.events import event_stream
from aiops.console.handbook import Handbook
from aiops.console.live import LiveStore
from aiops.console.pages import PageContext, Pages
from aiops.console.queries import ConsoleQueries
from aiops.core.catalog import ActionCatalog, CatalogError
from aiops.core.settings import Settings
from aiops.feed.consumer import OutputFollower
from aiops.feed.service import FollowingService
from connectors.approvals_http import MAX_BODY_BYTES, ApprovalsEndpoint

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
LOOPBACK = ("127.0.0.1", "::1", "localhost")


def _read_token(settings: Settings) -> str | None:
    if settings.console_read_auth == "none":
        return None
    if settings.console_read_token is not None and settings.console_read_token.get_secret_value():
        return settings.console_read_token.get_secret_value()
    return new_read_token()


class ConsoleService(FollowingService):
    """The console's follower, pages, event stream and approvals endpoint together."""

    shutdown_timeout_s = 2.0  # open event streams are ended at shutdown; nothing else runs long

    def __init__(self, settings: Settings, host: str | None = None, port: int | None = None,
                 policy_dir: Path | None = None):
        super().__init__("console", host or settings.console_host,
                         settings.console_port if port is None else port)
        self.settings = settings
        self.read_token = _read_token(settings)
        self.store = LiveStore(settings.console_max_records)
        self.follower = OutputFollower(settings, self.store, name="console")
        try:
            catalog: ActionCatalog | None = ActionCatalog.for_settings(settings)
        except CatalogError as exc:  # the pages say so next to each proposal; reading still works
            log.warning("no action catalog: %s", exc)
            catalog = None
        self.pages = Pages(PageContext(ConsoleQueries(self.store, catalog), Handbook(settings.handbook_dir),
                                       settings.approval_token_ttl_s, settings.opa_url, policy_dir,
                                       change_number=lambda: self.store.seq))

    @property
    def login_url(self) -> str:
        """The address to open: with the read token, which the console trades for a cookie at once."""
        return f"{self.url}/?token={self.read_token}" if self.read_token else f"{self.url}/"

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY_BYTES,
                              middlewares=[read_access(self.read_token), same_origin_writes])
        app.on_response_prepare.append(security_headers)
        self.pages.routes(app)
        app.router.add_get("/events", event_stream(self.store))
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics)
        app.router.add_static("/static/", STATIC, append_version=True, name="static")
        # The same handler `aiops approvals serve` runs: same checks, same producer, same answers.
        app.add_subapp("/api/", ApprovalsEndpoint(self.settings).app())
        app.on_shutdown.append(self._end_event_streams)
        return app

    async def healthz(self, request: web.Request) -> web.Response:
        healthy = self.follower.assigned and self.follower.last_error is None
        return web.json_response({"status": "ok" if healthy else ("failing" if self.follower.last_error else
                                                                  "starting"), "error": self.follower.last_error},
                                 status=200 if healthy else 503)

    async def metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _end_event_streams(self, app: web.Application) -> None:
        self.store.close_subscriptions()

    async def start(self) -> None:
        if self.read_token is None and self.host not in LOOPBACK:
            log.warning("the console serves %s without a read token: only do this behind a proxy that "
                        "authenticates (AIOPS_CONSOLE_READ_AUTH=none)", self.host)
        await super().start()


def serve(settings: Settings, host: str | None = None, port: int | None = None, policy_dir: Path | None = None,
          announce: Callable[[str], None] = print) -> None:
    """Run the console until SIGINT or SIGTERM."""
    service = ConsoleService(settings, host, port, policy_dir)
    service.run(lambda: announce(f"console: {service.login_url}"))
