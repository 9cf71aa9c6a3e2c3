"""GET /events: server-sent events announcing every record the console keeps, for pages to update themselves."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from aiohttp import web

from aiops.console.live import LiveStore

KEEPALIVE_S = 15.0


def _since(request: web.Request) -> int | None:
    """The last change the page has: Last-Event-ID when the browser reconnects, else ?since= from the page."""
    raw = request.headers.get("Last-Event-ID") or request.query.get("since")
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def event_stream(store: LiveStore) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def events(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store",
                                               "X-Accel-Buffering": "no"})
        await response.prepare(request)
        with store.subscribe(_since(request)) as subscription:
            # Browsers reconnect on their own; two seconds keeps a restarted console from being hammered.
            await response.write(b"retry: 2000\nevent: hello\ndata: {}\n\n")
            while True:
                try:
                    change = await asyncio.wait_for(subscription.queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                if change is None:
                    if subscription.overflowed:  # the page fell behind: it reloads rather than miss records
                        with contextlib.suppress(ConnectionError):
                            await response.write(b"event: reset\ndata: {}\n\n")
                    break
                await response.write(change.event())
        return response

    return events
