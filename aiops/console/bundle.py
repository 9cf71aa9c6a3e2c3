"""What the policy bundle says about a key id, read from OPA's data API: is the browser's key enrolled, as whom."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

import aiohttp

_KID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}-[0-9a-f]{12}$")


@dataclass(frozen=True)
class KeyStatus:
    kid: str
    enrolled: bool
    name: str | None = None
    groups: tuple[str, ...] = ()
    problem: str | None = None  # OPA could not be asked

    def as_json(self) -> dict[str, object]:
        return {"kid": self.kid, "enrolled": self.enrolled, "name": self.name, "groups": list(self.groups),
                "problem": self.problem}


def valid_kid(kid: str) -> bool:
    """A key id as `aiops keys` makes them: NAME-<12 hex>."""
    return bool(_KID.match(kid))


async def key_status(session: aiohttp.ClientSession, opa_url: str, kid: str, timeout_s: float = 2.0) -> KeyStatus:
    """The bundle's entry for `kid` (name and groups only; the public key is not repeated)."""
    url = f"{opa_url.rstrip('/')}/v1/data/aiops/approvers/{quote(kid, safe='')}"
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=timeout_s)) as response:
            if response.status != 200:
                return KeyStatus(kid, False, problem=f"OPA answered {response.status}")
            body = await response.json()
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return KeyStatus(kid, False, problem=f"OPA at {opa_url} cannot be asked: {type(exc).__name__}")
    entry = body.get("result") if isinstance(body, dict) else None
    if not isinstance(entry, dict):
        return KeyStatus(kid, False)
    groups = entry.get("groups")
    name = entry.get("name")
    return KeyStatus(kid, True, name if isinstance(name, str) else None,
                     tuple(g for g in groups if isinstance(g, str)) if isinstance(groups, list) else ())
