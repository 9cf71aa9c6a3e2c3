"""The action hash: what an approval token is bound to. Signers and the gatekeeper both compute it here."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any


def canonical_action(action: str, parameters: Mapping[str, Any]) -> str:
    """Canonical JSON of {"action", "parameters"}: sorted keys, compact separators, ASCII only."""
    return json.dumps({"action": action, "parameters": dict(parameters)}, sort_keys=True,
                      separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def action_hash(action: str, parameters: Mapping[str, Any]) -> str:
    """sha256 hex of the canonical JSON of the action and its parameters.

    Any change to the action or to one parameter (name, value or JSON type) changes the hash, so an
    approval signed for one set of parameters authorises no other.
    """
    return hashlib.sha256(canonical_action(action, parameters).encode("ascii")).hexdigest()
