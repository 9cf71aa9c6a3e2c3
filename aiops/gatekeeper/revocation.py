"""Revoking an approver's key in the policy bundle data: a signed, recorded change, never a silent edit.

`revoke` removes every key of an approver (or one key id) from `data.aiops.approvers` and appends a record to
`data.aiops.key_revocations`: which key, whose, when, why, and who revoked it, signed (ES256) by the revoker's
own key over those facts and the sha256 of the approvers that remain. policy/approvals.rego refuses tokens
from a revoked key even if someone put it back into `approvers` by hand; `verify` checks every record.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization

from aiops.gatekeeper.errors import KeyStoreError
from aiops.gatekeeper.keys import ApproverKey, read_policy_data, write_policy_data

ALGORITHM = "ES256"


def approvers_digest(approvers: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of the approvers object."""
    return hashlib.sha256(json.dumps(approvers, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def revoke(policy_dir: Path, who: str, revoker: ApproverKey, reason: str,
           now: datetime | None = None) -> list[dict[str, Any]]:
    """Revoke every key of approver `who` (a name, or one kid); returns the revocation records written."""
    path, data = read_policy_data(policy_dir)
    aiops = data["aiops"]
    approvers = aiops.get("approvers") or {}
    kids = sorted(kid for kid, entry in approvers.items()
                  if kid == who or (isinstance(entry, dict) and entry.get("name") == who))
    if not kids:
        raise KeyStoreError(f"no approver or key named {who!r} in {path} (aiops.approvers)")
    if not reason.strip():
        raise KeyStoreError("give the reason for the revocation (--reason)")
    revoked_at = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    remaining = {kid: entry for kid, entry in approvers.items() if kid not in kids}
    records = []
    for kid in kids:
        facts = {"kid": kid, "name": approvers[kid].get("name"), "revoked_at": revoked_at, "reason": reason,
                 "revoked_by": revoker.name, "revoked_by_kid": revoker.kid,
                 "approvers_sha256": approvers_digest(remaining)}
        signature = jwt.encode(facts, revoker.load_private_key(), algorithm=ALGORITHM,
                               headers={"kid": revoker.kid, "typ": "aiops-key-revocation"})
        records.append({**facts, "revoked_by_public_key": revoker.public_key, "signature": signature})
    aiops["approvers"] = remaining
    aiops["key_revocations"] = [*(aiops.get("key_revocations") or []), *records]
    write_policy_data(path, data)
    return records


def verify(record: dict[str, Any]) -> dict[str, Any]:
    """The signed facts of a revocation record; KeyStoreError when the signature does not match the record."""
    try:
        public = serialization.load_pem_public_key(str(record["revoked_by_public_key"]).encode())
        facts = jwt.decode(record["signature"], public, algorithms=[ALGORITHM])  # type: ignore[arg-type]
    except (KeyError, ValueError, jwt.PyJWTError) as exc:
        raise KeyStoreError(f"revocation of {record.get('kid')!r}: signature does not verify: {exc}") from None
    unsigned = {k: v for k, v in record.items() if k not in ("signature", "revoked_by_public_key")}
    if facts != unsigned:
        raise KeyStoreError(f"revocation of {record.get('kid')!r}: the record differs from what was signed")
    return facts
