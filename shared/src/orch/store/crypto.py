"""Encryption of secret values at rest (AES-256-GCM) and the key that is not in the store.

The key comes from ``ORCH_SECRET_KEY`` (urlsafe base64 of 32 bytes) or from the key file
``$ORCH_HOME/secret.key``, created with mode 0600 when a fresh store first needs it. The
store records only the key's id (an HMAC of a constant), so a wrong key is told apart
from a corrupt value.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from orch.errors import SecretKeyError
from orch.settings import orch_home

KEY_ENV = "ORCH_SECRET_KEY"
_TOKEN_PREFIX = "v1:"  # noqa: S105 - a format tag, not a password


def new_key() -> bytes:
    """A fresh random 256-bit key."""
    return secrets.token_bytes(32)


def encode_key(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode()


def decode_key(text: str, source: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip().encode())
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise SecretKeyError(
            f"{source} is not a valid orch key: expected urlsafe base64 of 32 bytes "
            "(make one with `orch store new-key`)"
        )
    return key


def key_id(key: bytes) -> str:
    """A short public fingerprint of ``key``."""
    return hmac.new(key, b"orch-store-key-id", hashlib.sha256).hexdigest()[:16]


@dataclass(frozen=True)
class KeySource:
    key: bytes
    description: str  # "ORCH_SECRET_KEY" or the key file's path: never the key
    path: Path | None


def key_file_path() -> Path:
    return orch_home() / "secret.key"


def find_key() -> KeySource | None:
    """The configured key, or ``None`` if neither the variable nor the file exists."""
    env = os.environ.get(KEY_ENV, "").strip()
    if env:
        return KeySource(decode_key(env, KEY_ENV), KEY_ENV, None)
    path = key_file_path()
    if path.exists():
        return KeySource(decode_key(path.read_text(), f"key file {path}"), f"key file {path}", path)
    return None


def write_key_file(path: Path, key: bytes) -> None:
    """Write ``key`` to ``path`` with mode 0600, atomically; an existing file is kept.

    The key is written to a private temporary file, then hard-linked into place, so a
    concurrent creator never reads a half-written file and exactly one key wins.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(encode_key(key) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process won: keep its key
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def create_key_file() -> KeySource:
    """Create the key file if missing (first use of a fresh store) and return the key."""
    path = key_file_path()
    if not path.exists():
        write_key_file(path, new_key())
    found = find_key()
    assert found is not None
    return found


class Cipher:
    """AES-256-GCM with a random nonce; the block's identity is authenticated data, so a
    ciphertext copied into another block fails to decrypt."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)
        self.key_id = key_id(key)

    def encrypt(self, plaintext: bytes, context: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext, context.encode())
        return _TOKEN_PREFIX + base64.b64encode(nonce + sealed).decode()

    def decrypt(self, token: str, context: str) -> bytes:
        """Raises ``InvalidTag`` when the key or the context does not match."""
        if not token.startswith(_TOKEN_PREFIX):
            raise InvalidTag
        raw = base64.b64decode(token[len(_TOKEN_PREFIX) :])
        return self._aead.decrypt(raw[:12], raw[12:], context.encode())


__all__ = ["Cipher", "InvalidTag", "KeySource", "create_key_file", "find_key", "key_id", "new_key"]
