"""Approvers' signing keys: EC P-256 key pairs in the key directory, and their entry for the policy bundle.

The private key never leaves the key directory (mode 0600). The policy bundle's `data.aiops.approvers`
gets the public part under the key id (`kid`); that entry, not the token, says who the approver is.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from aiops.gatekeeper.errors import KeyStoreError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class Approver:
    """An approver as the policy bundle knows them: the public key, its id, the name and the groups."""

    name: str
    kid: str
    groups: list[str]
    public_key: str  # PEM

    def policy_entry(self) -> dict[str, Any]:
        """The exact `data.aiops.approvers` snippet for this key: {kid: {name, groups, public_key}}."""
        return {self.kid: {"name": self.name, "groups": list(self.groups), "public_key": self.public_key}}


@dataclass(frozen=True)
class ApproverKey(Approver):
    """An approver whose private key is in the key directory (`aiops keys create`)."""

    created_at: str
    private_path: Path

    def load_private_key(self) -> ec.EllipticCurvePrivateKey:
        try:
            key = serialization.load_pem_private_key(self.private_path.read_bytes(), password=None)
        except (OSError, ValueError) as exc:
            raise KeyStoreError(f"cannot read the private key {self.private_path}: {exc}") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise KeyStoreError(f"{self.private_path} is not an EC P-256 private key")
        return key


def key_id(name: str, public_der: bytes) -> str:
    """`NAME-<12 hex of sha256(public key)>`: readable, and distinct for every key pair."""
    return f"{name}-{hashlib.sha256(public_der).hexdigest()[:12]}"


def checked_identity(name: str, groups: list[str]) -> list[str]:
    """The groups, stripped; KeyStoreError for a name the bundle cannot use or no group at all."""
    if not _NAME.match(name):
        raise KeyStoreError(f"key name {name!r} must be 1-64 letters, digits, '.', '_' or '-'")
    groups = [g.strip() for g in groups if g.strip()]
    if not groups:
        raise KeyStoreError("give at least one group (--groups sre,platform)")
    return groups


class KeyStore:
    """The key directory: NAME.key.pem (private, 0600) and NAME.json (name, kid, groups, public key)."""

    def __init__(self, directory: Path):
        self.directory = Path(directory).expanduser()

    def _meta_path(self, name: str) -> Path:
        return self.directory / f"{name}.json"

    def create(self, name: str, groups: list[str], *, force: bool = False) -> ApproverKey:
        groups = checked_identity(name, groups)
        meta_path, private_path = self._meta_path(name), self.directory / f"{name}.key.pem"
        if (meta_path.exists() or private_path.exists()) and not force:
            raise KeyStoreError(f"a key named {name!r} already exists in {self.directory} (use --force to replace)")
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        private = ec.generate_private_key(ec.SECP256R1())
        public = private.public_key()
        public_pem = public.public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        public_der = public.public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
        private_pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption())
        # Created with 0600 from the start: the key is never readable by others, not even briefly.
        private_path.unlink(missing_ok=True)
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(private_pem)
        key = ApproverKey(name=name, kid=key_id(name, public_der), groups=groups, public_key=public_pem,
                          created_at=datetime.now(UTC).isoformat(timespec="seconds"), private_path=private_path)
        meta_path.write_text(json.dumps({"name": key.name, "kid": key.kid, "groups": key.groups,
                                         "public_key": key.public_key, "created_at": key.created_at},
                                        indent=2) + "\n")
        return key

    def get(self, name: str) -> ApproverKey:
        meta_path = self._meta_path(name)
        if not meta_path.exists():
            known = ", ".join(k.name for k in self.list()) or "none"
            raise KeyStoreError(f"no key named {name!r} in {self.directory} (known: {known}); "
                                f"create one with `aiops keys create {name} --groups ...`")
        try:
            meta = json.loads(meta_path.read_text())
            return ApproverKey(name=meta["name"], kid=meta["kid"], groups=list(meta["groups"]),
                               public_key=meta["public_key"], created_at=meta.get("created_at", ""),
                               private_path=self.directory / f"{name}.key.pem")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise KeyStoreError(f"cannot read key metadata {meta_path}: {exc}") from exc

    def list(self) -> list[ApproverKey]:
        if not self.directory.is_dir():
            return []
        return [self.get(p.stem) for p in sorted(self.directory.glob("*.json"))]

    def default(self, name: str | None) -> ApproverKey:
        """The named key, or the only key in the directory when no name is given."""
        if name:
            return self.get(name)
        keys = self.list()
        if len(keys) == 1:
            return keys[0]
        if not keys:
            raise KeyStoreError(f"no signing key in {self.directory}; create one with `aiops keys create NAME`")
        raise KeyStoreError(f"several keys in {self.directory} ({', '.join(k.name for k in keys)}); pick one "
                            "with --key NAME")


def read_policy_data(policy_dir: Path) -> tuple[Path, dict[str, Any]]:
    """POLICY_DIR/data.json (the bundle keeps all its data in that one file) and its content."""
    path = Path(policy_dir) / "data.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise KeyStoreError(f"cannot read policy data {path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.setdefault("aiops", {}), dict):
        raise KeyStoreError(f"{path}: aiops is not an object")
    return path, data


def write_policy_data(path: Path, data: dict[str, Any]) -> None:
    """Replace the file atomically, so that OPA (watching it) never loads half a file."""
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)


def add_to_policy_data(key: Approver, policy_dir: Path) -> Path:
    """Add the key to POLICY_DIR/data.json under aiops.approvers; a revoked key id is never added back."""
    path, data = read_policy_data(policy_dir)
    aiops = data["aiops"]
    approvers = aiops.get("approvers")
    if approvers is None:
        approvers = aiops["approvers"] = {}
    if not isinstance(approvers, dict):
        raise KeyStoreError(f"{path}: aiops.approvers is not an object")
    revoked = {r.get("kid") for r in aiops.get("key_revocations") or [] if isinstance(r, dict)}
    if key.kid in revoked:
        raise KeyStoreError(f"key {key.kid} was revoked; create a new key instead")
    approvers.update(key.policy_entry())
    write_policy_data(path, data)
    return path
