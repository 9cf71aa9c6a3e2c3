"""Enrolling an approver whose private key lives elsewhere (a browser, a hardware token): the public key, given
as a JWK or as PEM, becomes an entry of the policy bundle's `data.aiops.approvers` under the usual key id.

Enrolment is an admin's step (`aiops keys enroll`): nothing that only holds the public key can enrol itself.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from aiops.gatekeeper.errors import KeyStoreError
from aiops.gatekeeper.keys import Approver, checked_identity, key_id

MAX_KEY_TEXT = 16 * 1024  # a P-256 public key is a few hundred bytes in either form


def _b64url_int(value: Any, name: str) -> int:
    if not isinstance(value, str) or not value:
        raise KeyStoreError(f"JWK member {name!r} is missing or not a string")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise KeyStoreError(f"JWK member {name!r} is not base64url: {exc}") from None
    if len(raw) != 32:
        raise KeyStoreError(f"JWK member {name!r} must be 32 bytes for P-256, got {len(raw)}")
    return int.from_bytes(raw, "big")


def _from_jwk(jwk: Any) -> ec.EllipticCurvePublicKey:
    if not isinstance(jwk, dict):
        raise KeyStoreError("a JWK must be a JSON object")
    if "d" in jwk:
        # Refused outright: a private key has no business in the bundle, nor on this admin's screen.
        raise KeyStoreError("this JWK holds a private key (member 'd'); enrol the public key only")
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise KeyStoreError(f"only EC P-256 keys sign approvals (ES256); this JWK is kty={jwk.get('kty')!r} "
                            f"crv={jwk.get('crv')!r}")
    numbers = ec.EllipticCurvePublicNumbers(_b64url_int(jwk.get("x"), "x"), _b64url_int(jwk.get("y"), "y"),
                                            ec.SECP256R1())
    try:
        return numbers.public_key()
    except ValueError as exc:  # not a point on the curve
        raise KeyStoreError(f"the JWK's x and y are not a P-256 public key: {exc}") from None


def _from_pem(text: str) -> ec.EllipticCurvePublicKey:
    if "PRIVATE KEY" in text:
        raise KeyStoreError("this PEM holds a private key; enrol the public key only")
    try:
        key = serialization.load_pem_public_key(text.encode())
    except (ValueError, TypeError) as exc:
        raise KeyStoreError(f"not a PEM public key (SubjectPublicKeyInfo): {exc}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise KeyStoreError("only EC P-256 keys sign approvals (ES256)")
    return key


def load_public_key(text: str) -> ec.EllipticCurvePublicKey:
    """An EC P-256 public key from a JWK (JSON object) or PEM text; KeyStoreError says what is wrong."""
    text = text.strip()
    if not text:
        raise KeyStoreError("no public key given")
    if len(text) > MAX_KEY_TEXT:
        raise KeyStoreError(f"the public key text is {len(text)} characters; a P-256 key needs a few hundred")
    if text.startswith("{"):
        try:
            jwk = json.loads(text)
        except json.JSONDecodeError as exc:
            raise KeyStoreError(f"the public key looks like a JWK but is not JSON: {exc}") from None
        return _from_jwk(jwk)
    if text.startswith("-----BEGIN"):
        return _from_pem(text)
    raise KeyStoreError("give the public key as a JWK (JSON starting with '{') or as PEM ('-----BEGIN PUBLIC KEY')")


def enrolled_approver(name: str, groups: list[str], public_key_text: str) -> Approver:
    """The bundle entry for a public key held elsewhere: the same key id `aiops keys create` gives."""
    groups = checked_identity(name, groups)
    key = load_public_key(public_key_text)
    pem = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return Approver(name=name, kid=key_id(name, der), groups=groups, public_key=pem)
