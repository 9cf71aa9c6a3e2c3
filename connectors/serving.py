"""Running a bridge's aiohttp app on a real port: in-process (tests) or until SIGINT/SIGTERM (the CLI)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from aiops.core.settings import Settings
from connectors.http_auth import auth_middleware
from connectors.kafka_producer import AckedProducer

PRODUCER = web.AppKey("producer", AckedProducer)
SETTINGS = web.AppKey("settings", Settings)


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def bridge_app(settings: Settings, client_id: str, error: Callable[..., web.Response]) -> web.Application:
    """The common part of every bridge: size limit, optional auth, the settings, a Kafka producer that starts
    and stops with the app (request handlers reach them as app[SETTINGS] and app[PRODUCER]) and /healthz."""
    app = web.Application(client_max_size=settings.connect_max_request_bytes,
                          middlewares=[auth_middleware(settings, error=error)])
    app[SETTINGS] = settings

    async def producer_lifecycle(app: web.Application) -> AsyncIterator[None]:
        app[PRODUCER] = AckedProducer(settings, client_id=client_id)
        yield
        app[PRODUCER].close()

    app.cleanup_ctx.append(producer_lifecycle)
    app.router.add_get("/healthz", healthz)
    return app


async def start(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Serve the app on host:port (0: any free port); returns the runner and the bound port.

    Request bodies are decompressed by aiohttp (gzip, deflate) and `client_max_size` bounds the
    decompressed size, so a compressed bomb ends in 413, not in memory exhaustion.
    """
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = next((addr[1] for addr in runner.addresses if isinstance(addr, tuple)), port)
    return runner, bound


def run(app: web.Application, host: str, port: int, say: Callable[[str], None] = print) -> None:
    """Serve until SIGINT or SIGTERM, then finish the requests in flight and close the producer."""

    async def serve() -> None:
        runner, bound = await start(app, host, port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        say(f"listening on http://{host}:{bound}")
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    asyncio.run(serve())
