"""Approval tokens: compact ES256 JWS with header `kid` and claims bound to one proposal's id and action hash.

Signing happens wherever an approver holds their key (`aiops approve`, or any tool following the same
format). `inspect` reads a token without verifying it, to check its shape and read its claims: only OPA
verifies signatures, against the public keys the policy bundle registers.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from aiops.gatekeeper.errors import TokenError

ALGORITHM = "ES256"
DECISIONS = ("approve", "reject")
REQUIRED_CLAIMS: dict[str, type | tuple[type, ...]] = {
    "proposal_id": str, "action_hash": str, "decision": str, "iat": (int, float), "exp": (int, float), "jti": str}


def sign_approval(private_key: ec.EllipticCurvePrivateKey, kid: str, *, proposal_id: str, action_hash: str,
                  decision: str, subject: str, ttl_s: int = 3600, now: float | None = None,
                  jti: str | None = None, extra_claims: dict[str, Any] | None = None) -> str:
    """Sign an approval or rejection token (ES256; the signature is raw r||s as JWS requires)."""
    if decision not in DECISIONS:
        raise TokenError(f"decision must be one of {DECISIONS}, got {decision!r}")
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "proposal_id": proposal_id, "action_hash": action_hash, "decision": decision,
        "iat": issued, "exp": issued + int(ttl_s), "jti": jti or uuid.uuid4().hex, "sub": subject,
    }
    claims.update(extra_claims or {})
    return jwt.encode(claims, private_key, algorithm=ALGORITHM, headers={"kid": kid})


@dataclass(frozen=True)
class TokenInfo:
    """What a token says about itself. Unverified: nothing here grants anything."""

    header: dict[str, Any]
    claims: dict[str, Any]

    @property
    def kid(self) -> str:
        return str(self.header["kid"])

    @property
    def jti(self) -> str:
        return str(self.claims["jti"])

    @property
    def proposal_id(self) -> str:
        return str(self.claims["proposal_id"])

    @property
    def decision(self) -> str:
        return str(self.claims["decision"])


def _b64decode(part: str, what: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (ValueError, TypeError) as exc:
        raise TokenError(f"token {what} is not base64url: {exc}") from None


def inspect(token: object) -> TokenInfo:
    """Check that a token is a well-formed ES256 JWT carrying the approval claims; raise TokenError if not.

    The signature is not verified (that is OPA's job, with the key the bundle registers under `kid`).
    """
    if not isinstance(token, str) or not token:
        raise TokenError("token must be a non-empty string")
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        raise TokenError("token is not a compact JWS (three non-empty base64url parts separated by dots)")
    try:
        header = json.loads(_b64decode(parts[0], "header"))
        claims = json.loads(_b64decode(parts[1], "payload"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TokenError(f"token header or payload is not JSON: {exc}") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise TokenError("token header and payload must be JSON objects")
    if header.get("alg") != ALGORITHM:
        raise TokenError(f"token uses algorithm {header.get('alg')!r}; only ES256 is accepted")
    if not isinstance(header.get("kid"), str) or not header["kid"]:
        raise TokenError("token header has no kid (the approver's key id)")
    if len(_b64decode(parts[2], "signature")) != 64:
        raise TokenError("token signature is not a 64-byte ES256 signature (raw r||s)")
    for name, kind in REQUIRED_CLAIMS.items():
        value = claims.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise TokenError(f"token claim {name!r} is missing or has the wrong type")
    if claims["decision"] not in DECISIONS:
        raise TokenError(f"token claim 'decision' must be one of {DECISIONS}, got {claims['decision']!r}")
    if "aud" in claims:
        raise TokenError("approval tokens must not carry an aud claim")
    return TokenInfo(header, claims)
