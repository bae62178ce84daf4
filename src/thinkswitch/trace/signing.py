"""Ed25519 keys for signed checkpoints: generate, load, sign, verify.

The private key stays with the process that writes the trace store; the public key alone
checks a checkpoint, so an auditor (or a copy of the log handed to one) needs nothing secret.
Keys are PEM files (PKCS#8 private, SubjectPublicKeyInfo public); a key's id is the first 16 hex
digits of the SHA-256 of its raw 32-byte public key, printed everywhere a key is named.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from thinkswitch.kernel.errors import DataError, UsageError

PRIVATE_NAME = "trace-signing.key"
PUBLIC_NAME = "trace-signing.pub"


@dataclass(frozen=True)
class PublicKey:
    """A key that checks checkpoints."""

    key: Ed25519PublicKey

    @property
    def key_id(self) -> str:
        raw = self.key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return hashlib.sha256(raw).hexdigest()[:16]

    def verifies(self, signature: bytes, data: bytes) -> bool:
        try:
            self.key.verify(signature, data)
        except InvalidSignature:
            return False
        return True

    def pem(self) -> bytes:
        return self.key.public_bytes(serialization.Encoding.PEM,
                                     serialization.PublicFormat.SubjectPublicKeyInfo)


@dataclass(frozen=True)
class SigningKey:
    """The private key of the process that writes the store."""

    key: Ed25519PrivateKey

    @property
    def public(self) -> PublicKey:
        return PublicKey(self.key.public_key())

    @property
    def key_id(self) -> str:
        return self.public.key_id

    def sign(self, data: bytes) -> bytes:
        return self.key.sign(data)


def generate_keypair(folder: Path) -> tuple[Path, Path, str]:
    """Write a new key pair into `folder` (private file mode 0600); refuse to overwrite."""
    folder.mkdir(parents=True, exist_ok=True)
    private_path, public_path = folder / PRIVATE_NAME, folder / PUBLIC_NAME
    for path in (private_path, public_path):
        if path.exists():
            raise UsageError(f"{path} already exists; remove it or choose another --out")
    key = SigningKey(Ed25519PrivateKey.generate())
    pem = key.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    # Created 0600 from the start: the key is never readable by others, not even briefly.
    descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    public_path.write_bytes(key.public.pem())
    return private_path, public_path, key.key_id


def signing_key_from_pem(pem: bytes, where: str) -> SigningKey:
    try:
        key = serialization.load_pem_private_key(pem.strip() + b"\n", password=None)
    except (ValueError, TypeError) as error:
        raise DataError(f"{where} is not an unencrypted PEM private key: "
                        f"{_first(error)}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise DataError(f"{where} is a {type(key).__name__}, not an Ed25519 key")
    return SigningKey(key)


def load_signing_key(path: Path) -> SigningKey:
    return signing_key_from_pem(_read(path), str(path))


def load_public_key(path: Path) -> PublicKey:
    """A public key file; a private key file is accepted too (its public half is used)."""
    pem = _read(path)
    if b"PRIVATE KEY" in pem:
        return signing_key_from_pem(pem, str(path)).public
    try:
        key = serialization.load_pem_public_key(pem.strip() + b"\n")
    except (ValueError, TypeError) as error:
        raise DataError(f"{path} is not a PEM public key: {_first(error)}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise DataError(f"{path} is a {type(key).__name__}, not an Ed25519 key")
    return PublicKey(key)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise DataError(f"cannot read key file {path}: {error.strerror or error}") from None


def _first(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
