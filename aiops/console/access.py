"""Who may read the console, and the headers every answer carries.

Reading needs the read token (`?token=` once, then an HttpOnly SameSite=Strict cookie, or `Authorization:
Bearer`), unless the console runs behind a proxy that authenticates (`AIOPS_CONSOLE_READ_AUTH=none`). Nothing
here lets anyone approve: an approval counts only when a key the policy bundle knows signed it, and that key
lives in the approver's browser. State-changing requests must come from the console's own pages.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from aiops.core.bearer import same_secret

COOKIE = "aiops_console_read"
OPEN_PATHS = ("/healthz", "/metrics", "/static/")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Scripts and styles only from the console itself: telemetry text rendered into a page can never run.
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def new_read_token() -> str:
    return secrets.token_urlsafe(24)


def _presented(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[len("Bearer "):].strip()
    return request.cookies.get(COOKIE)


def _matches(presented: str | None, token: str) -> bool:
    return same_secret(presented, token)


def _denied(request: web.Request) -> web.Response:
    text = ("This console needs its read token: open the address `aiops console` printed (it ends in ?token=...), "
            "or ask whoever runs it.")
    if request.path.startswith(("/api/", "/events", "/keys/")) or "text/html" not in request.headers.get("Accept", ""):
        return web.json_response({"error": text}, status=401)
    return web.Response(status=401, content_type="text/html",
                        text=f"<!doctype html><title>Read token needed</title><p>{text}</p>")


def read_access(token: str | None) -> Middleware:
    """Middleware: the read token, when one is required (token None means a proxy in front authenticates)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if token is None or request.path.startswith(OPEN_PATHS):
            return await handler(request)
        offered = request.query.get("token")
        if offered is not None:
            if not _matches(offered, token):
                return _denied(request)
            # Trade the token in the address for a cookie, so that it leaves the address bar and the history.
            query = {k: v for k, v in request.query.items() if k != "token"}
            response = web.HTTPSeeOther(request.rel_url.with_query(query).human_repr())
            response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/",
                                secure=request.secure)
            raise response
        if not _matches(_presented(request), token):
            return _denied(request)
        return await handler(request)

    return middleware


@web.middleware
async def same_origin_writes(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A POST must come from the console's own pages (Origin or Sec-Fetch-Site say so) and carry JSON."""
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        origin = request.headers.get("Origin")
        site = request.headers.get("Sec-Fetch-Site")
        if origin is not None and origin != f"{request.scheme}://{request.host}":
            return web.json_response({"error": f"requests from {origin} are not accepted"}, status=403)
        if site is not None and site not in ("same-origin", "none"):
            return web.json_response({"error": f"cross-site request ({site}) refused"}, status=403)
        if request.content_type != "application/json":
            return web.json_response({"error": "send application/json"}, status=415)
    return await handler(request)


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: every answer (pages, errors, redirects, the event stream) carries these."""
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if not request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")
