"""The approver keys the policy bundle registers, as OPA serves them: what the gatekeeper checks an approval's
signature against before it keeps the approval at all (OPA still decides whether it counts).

Read from OPA (`GET /v1/data/aiops/approvers`, `/v1/data/aiops/key_revocations`), refreshed every
`refresh_s` and, at most once per `min_refresh_s`, when a token names a key id not seen yet (a key just
added). When OPA cannot be asked, the last keys read stay in use; before the first read, `known` is False
and approvals cannot be checked here (they are then kept up to the per-proposal bound, and OPA judges them).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

log = logging.getLogger("gatekeeper.keys")


@dataclass(frozen=True)
class BundleKey:
    kid: str
    name: str
    public_key: ec.EllipticCurvePublicKey


def parse_keys(approvers: Any, revocations: Any) -> dict[str, BundleKey]:
    """kid -> key for every well-formed, unrevoked P-256 key in the bundle data (others are left out)."""
    revoked = {r.get("kid") for r in revocations or [] if isinstance(r, dict)} if isinstance(revocations, list) \
        else set()
    keys = {}
    for kid, entry in (approvers or {}).items() if isinstance(approvers, dict) else ():
        if kid in revoked or not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            continue
        try:
            public = serialization.load_pem_public_key(str(entry.get("public_key")).encode())
        except (ValueError, TypeError):
            continue
        if isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name == "secp256r1":
            keys[kid] = BundleKey(kid, entry["name"], public)
    return keys


def signature_verifies(token: str, key: BundleKey) -> bool:
    """Whether the token's ES256 signature verifies with the key (claims are OPA's to judge, not checked here)."""
    try:
        jwt.decode(token, key.public_key, algorithms=["ES256"],
                   options={"verify_exp": False, "verify_iat": False, "verify_nbf": False, "verify_aud": False})
        return True
    except jwt.PyJWTError:
        return False


class BundleKeys:
    """The bundle's keys, cached and refreshed from OPA."""

    def __init__(self, opa_url: str, timeout_s: float, refresh_s: float = 10.0, min_refresh_s: float = 1.0):
        self.opa_url = opa_url.rstrip("/")
        self.timeout_s = timeout_s
        self.refresh_s = refresh_s
        self.min_refresh_s = min_refresh_s
        self.keys: dict[str, BundleKey] = {}
        self.known = False  # False until the keys were read once
        self._read_at = float("-inf")
        self._session: aiohttp.ClientSession | None = None

    async def _data(self, path: str) -> Any:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s))
        async with self._session.get(f"{self.opa_url}/v1/data/{path}") as response:
            response.raise_for_status()
            return (await response.json()).get("result")

    async def refresh(self, force: bool = False) -> None:
        """Read the keys again if they are older than refresh_s (or min_refresh_s when forced)."""
        age = time.monotonic() - self._read_at
        if age < (self.min_refresh_s if force else self.refresh_s):
            return
        self._read_at = time.monotonic()
        try:
            keys = parse_keys(await self._data("aiops/approvers"), await self._data("aiops/key_revocations"))
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
            log.warning("cannot read the approver keys from OPA (%s: %s); keeping the last ones read",
                        type(exc).__name__, exc)
            return
        self.keys, self.known = keys, True

    async def key_for(self, kid: str) -> BundleKey | None:
        """The key registered under kid (reading the keys again, rate-limited, when kid is not known yet)."""
        await self.refresh()
        if kid not in self.keys:
            await self.refresh(force=True)
        return self.keys.get(kid)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
