"""Optional bearer-token or basic auth in front of a bridge (settings connect_bearer_token / connect_basic_*)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from aiops.core.bearer import same_secret
from aiops.core.settings import Settings

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# Paths a load balancer or a test may probe without credentials.
OPEN_PATHS = frozenset({"/healthz"})


def credentials_accepted(header: str | None, settings: Settings) -> bool:
    """Whether an Authorization header satisfies the configured auth (always true when none is configured)."""
    token = settings.connect_bearer_token.get_secret_value() if settings.connect_bearer_token else ""
    user = settings.connect_basic_user or ""
    password = settings.connect_basic_password.get_secret_value() if settings.connect_basic_password else ""
    if not token and not user:
        return True
    scheme, _, value = (header or "").strip().partition(" ")
    value = value.strip()
    if token and scheme.lower() == "bearer":
        return same_secret(value, token)
    if user and scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        given_user, _, given_password = decoded.partition(":")
        return same_secret(given_user, user) & same_secret(given_password, password)
    return False


def auth_middleware(settings: Settings, *, error: Callable[[web.Request, int, str], web.Response]
                    ) -> Middleware:
    """An aiohttp middleware answering 401 (through `error`, in the bridge's own format) without credentials."""
    challenges = []
    if settings.connect_bearer_token:
        challenges.append('Bearer realm="aiops"')
    if settings.connect_basic_user:
        challenges.append('Basic realm="aiops"')

    @web.middleware
    async def check_credentials(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in OPEN_PATHS or credentials_accepted(request.headers.get("Authorization"), settings):
            return await handler(request)
        response = error(request, 401, "missing or wrong credentials (Authorization: Bearer or Basic)")
        for challenge in challenges:
            response.headers.add("WWW-Authenticate", challenge)
        return response

    return check_credentials
