"""`aiops keys enroll`: a public key held elsewhere (a browser) becomes a bundle entry with the usual key id."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from aiops.core.paths import PROJECT_ROOT
from aiops.gatekeeper.enrolment import enrolled_approver, load_public_key
from aiops.gatekeeper.errors import KeyStoreError
from aiops.gatekeeper.keys import KeyStore
from tests.processes import AIOPS


def b64url(number: int, size: int = 32) -> str:
    return base64.urlsafe_b64encode(number.to_bytes(size, "big")).rstrip(b"=").decode()


def jwk_of(public: ec.EllipticCurvePublicKey, **extra) -> str:
    numbers = public.public_numbers()
    # What WebCrypto's exportKey("jwk") gives for an ECDSA P-256 public key.
    return json.dumps({"kty": "EC", "crv": "P-256", "x": b64url(numbers.x), "y": b64url(numbers.y),
                       "ext": True, "key_ops": ["verify"], **extra})


def test_a_jwk_and_its_pem_enrol_under_the_kid_keys_create_would_give(tmp_path):
    key = KeyStore(tmp_path).create("dana", ["sre"])
    public = serialization.load_pem_public_key(key.public_key.encode())
    from_jwk = enrolled_approver("dana", ["sre", " platform "], jwk_of(public))
    from_pem = enrolled_approver("dana", ["sre"], key.public_key)
    assert from_jwk.kid == from_pem.kid == key.kid
    assert from_jwk.public_key == key.public_key
    assert from_jwk.policy_entry() == {key.kid: {"name": "dana", "groups": ["sre", "platform"],
                                                 "public_key": key.public_key}}


@pytest.mark.parametrize(("text", "problem"), [
    ("", "no public key"),
    ("ssh-ed25519 AAAA", "JWK"),
    ("{not json", "not JSON"),
    ('{"kty": "RSA", "n": "x", "e": "AQAB"}', "only EC P-256"),
    ('{"kty": "EC", "crv": "P-384", "x": "a", "y": "b"}', "only EC P-256"),
    ('{"kty": "EC", "crv": "P-256", "x": "AQ", "y": "AQ"}', "32 bytes"),
    (json.dumps({"kty": "EC", "crv": "P-256", "x": b64url(1), "y": b64url(1)}), "not a P-256 public key"),
    ("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "not a PEM public key"),
])
def test_what_is_not_a_p256_public_key_is_refused_with_the_reason(text, problem):
    with pytest.raises(KeyStoreError, match=problem):
        load_public_key(text)


def test_private_keys_are_refused_in_either_form():
    private = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(KeyStoreError, match="private key"):
        load_public_key(jwk_of(private.public_key(), d=b64url(private.private_numbers().private_value)))
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    with pytest.raises(KeyStoreError, match="private key"):
        load_public_key(pem)
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    with pytest.raises(KeyStoreError, match="P-256"):
        load_public_key(p384)


def test_names_and_groups_follow_the_rules_of_keys_create():
    public = jwk_of(ec.generate_private_key(ec.SECP256R1()).public_key())
    with pytest.raises(KeyStoreError, match="key name"):
        enrolled_approver("../etc", ["sre"], public)
    with pytest.raises(KeyStoreError, match="at least one group"):
        enrolled_approver("dana", [" "], public)


def test_aiops_keys_enroll_adds_the_entry_to_the_bundle_data(tmp_path):
    bundle = tmp_path / "policy"
    bundle.mkdir()
    shutil.copy(PROJECT_ROOT / "policy" / "data.json", bundle / "data.json")
    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    (tmp_path / "erin.jwk").write_text(jwk_of(public))
    done = subprocess.run([AIOPS, "keys", "enroll", "erin", "--groups", "sre,dba", "--public-key",
                           str(tmp_path / "erin.jwk"), "--policy-dir", str(bundle)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    approvers = json.loads((bundle / "data.json").read_text())["aiops"]["approvers"]
    (kid,) = [k for k in approvers if k.startswith("erin-")]
    assert approvers[kid]["groups"] == ["sre", "dba"] and f"added {kid}" in done.stdout.replace("\n", " ")
    # From standard input, without --policy-dir: printed, written nowhere.
    piped = subprocess.run([AIOPS, "keys", "enroll", "erin", "-g", "sre", "--public-key", "-"], input=jwk_of(public),
                           capture_output=True, text=True, timeout=60, check=False)
    assert piped.returncode == 0 and kid in piped.stdout and "not added anywhere" in piped.stdout
    refused = subprocess.run([AIOPS, "keys", "enroll", "erin", "-g", "sre", "--public-key", "-"],
                             input='{"kty": "EC", "crv": "P-256", "d": "x"}', capture_output=True, text=True,
                             timeout=60, check=False)
    assert refused.returncode == 2 and "private key" in refused.stderr
