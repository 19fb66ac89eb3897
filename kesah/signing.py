"""Canonical encoding, the hash chain and Ed25519 signatures.

Every stored event carries ``hash = SHA-256(prev_hash || canonical(event))``
and an Ed25519 signature over that hash by its owning service. Verifiers
hold only public keys. This module is the only place that knows how.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PrivateFormat,
    PublicFormat,
    NoEncryption,
)

GENESIS_HASH = "0" * 64


def canonical(value: Any) -> bytes:
    """The one byte encoding of a JSON value: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def chain_hash(prev_hash: str, body: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical(body)).hexdigest()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def key_id_of(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


class KeyProblem(LookupError):
    """A key is missing or unreadable; the message says where to get one."""


@dataclass(frozen=True)
class Signer:
    """Signs event hashes for one owning service."""

    service: str
    private: Ed25519PrivateKey

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def key_id(self) -> str:
        return key_id_of(self.public)

    def sign(self, digest_hex: str) -> str:
        return _b64(self.private.sign(bytes.fromhex(digest_hex)))

    @classmethod
    def generate(cls, service: str) -> "Signer":
        return cls(service, Ed25519PrivateKey.generate())

    @classmethod
    def from_base64(cls, service: str, text: str) -> "Signer":
        try:
            return cls(service, Ed25519PrivateKey.from_private_bytes(_unb64(text.strip())))
        except ValueError as exc:
            raise KeyProblem(f"signing key of {service} is not a base64 Ed25519 key: {exc}") from None

    def private_base64(self) -> str:
        return _b64(self.private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))

    def public_base64(self) -> str:
        return _b64(self.public.public_bytes(Encoding.Raw, PublicFormat.Raw))


class Keyring:
    """Public keys trusted for each owning service."""

    def __init__(self) -> None:
        self._keys: dict[str, dict[str, Ed25519PublicKey]] = {}

    def add(self, service: str, public_base64: str) -> str:
        try:
            public = Ed25519PublicKey.from_public_bytes(_unb64(public_base64.strip()))
        except ValueError as exc:
            raise KeyProblem(f"public key of {service} is not a base64 Ed25519 key: {exc}") from None
        key_id = key_id_of(public)
        self._keys.setdefault(service, {})[key_id] = public
        return key_id

    def services(self) -> list[str]:
        return sorted(self._keys)

    def public_keys(self) -> dict[str, dict[str, str]]:
        """service -> key id -> base64 public key, for publishing."""
        return {
            service: {kid: _b64(k.public_bytes(Encoding.Raw, PublicFormat.Raw)) for kid, k in keys.items()}
            for service, keys in sorted(self._keys.items())
        }

    def verify(self, service: str, key_id: str, digest_hex: str, signature: str) -> str | None:
        """None when the signature is good; otherwise the reason, in a few words."""
        key = self._keys.get(service, {}).get(key_id)
        if key is None:
            return f"key {key_id} is not a key of {service}"
        try:
            key.verify(_unb64(signature), bytes.fromhex(digest_hex))
        except (InvalidSignature, ValueError):
            return "signature does not match"
        return None


# --- key files -------------------------------------------------------------

def _private_path(keys_dir: Path, service: str) -> Path:
    return keys_dir / f"{service}.key"


def _public_path(keys_dir: Path, service: str) -> Path:
    return keys_dir / f"{service}.pub"


def init_keys(keys_dir: Path, services: Iterable[str]) -> list[str]:
    """Create the key pairs that are missing; returns the services given new keys."""
    keys_dir.mkdir(parents=True, exist_ok=True)
    created = []
    for service in services:
        private = _private_path(keys_dir, service)
        if private.exists():
            continue
        signer = Signer.generate(service)
        fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(signer.private_base64() + "\n")
        _public_path(keys_dir, service).write_text(signer.public_base64() + "\n")
        created.append(service)
    return created


def load_signer(keys_dir: Path, service: str, env_value: str | None = None) -> Signer:
    if env_value:
        return Signer.from_base64(service, env_value)
    path = _private_path(keys_dir, service)
    try:
        return Signer.from_base64(service, path.read_text())
    except FileNotFoundError:
        raise KeyProblem(
            f"no signing key for {service} at {path}; run 'kesah keys init' or set "
            f"KESAH_{service.upper()}_SIGNING_KEY"
        ) from None


def load_keyring(keys_dir: Path, services: Iterable[str], signers: Iterable[Signer] = ()) -> Keyring:
    """Trust the public key files in ``keys_dir`` plus the keys of ``signers``."""
    ring = Keyring()
    for service in services:
        path = _public_path(keys_dir, service)
        if path.exists():
            ring.add(service, path.read_text())
    for signer in signers:
        ring.add(signer.service, signer.public_base64())
    return ring


def load_or_create_secret(path: Path, make: Callable[[], bytes]) -> bytes:
    """A secret kept in a file (mode 0600), made by ``make`` the first time; safe when processes race."""
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        secret = make()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            return path.read_bytes().strip()
        with os.fdopen(fd, "wb") as fh:
            fh.write(secret + b"\n")
        return secret
