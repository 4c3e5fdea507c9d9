"""Encryption of secret values at rest (AES-256-GCM) and the key that is not in the store.

The key comes from ``ORCH_SECRET_KEY`` (urlsafe base64 of 32 bytes) or from the key file
``$ORCH_HOME/secret.key``, created with mode 0600 when a fresh store first needs it. The
store records only the key's id (an HMAC of a constant), so a wrong key is told apart
from a corrupt value.

Besides encrypting secret values, the key authenticates what orch reads back from the
store: each purpose uses its own subkey, derived once per ``Cipher`` with HKDF
(SHA-256, a distinct ``info`` per purpose), so a tag made for one purpose never verifies
for another.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from orch.errors import SecretKeyError
from orch.settings import orch_home

if TYPE_CHECKING:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# ``cryptography`` is imported when a key is used, not with this module: it costs ~25 ms,
# and a flow run with no key configured (no parameter digests) must not pay it at start.


def __getattr__(name: str) -> Any:
    if name == "InvalidTag":
        from cryptography.exceptions import InvalidTag

        return InvalidTag
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

KEY_ENV = "ORCH_SECRET_KEY"
_TOKEN_PREFIX = "v1:"  # noqa: S105 - a format tag, not a password
_SEAL_PREFIX = b"orch-sealed-v1:"


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


class KeySource(NamedTuple):
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


def write_key_file(path: Path, key: bytes, *, keep_existing: bool = False) -> None:
    """Write ``key`` to a new file ``path`` with mode 0600, atomically and durably.

    The key is written to a private temporary file, fsynced, then hard-linked into place
    (the directory fsynced too), so a reader never sees half a file and the key survives
    a crash right after. An existing ``path`` is never overwritten: it is an error, or,
    with ``keep_existing`` (a fresh store's first use), another process won and its key
    is kept.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(encode_key(key) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            if keep_existing:
                return
            raise SecretKeyError(
                f"{path} exists; an existing file is never overwritten with a key: "
                "choose a path that does not exist"
            ) from None
        fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def fsync_dir(folder: Path) -> None:
    """Make a rename or link in ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def create_key_file() -> KeySource:
    """Create the key file if missing (first use of a fresh store) and return the key."""
    path = key_file_path()
    if not path.exists():
        write_key_file(path, new_key(), keep_existing=True)
    found = find_key()
    assert found is not None
    return found


def _subkey(key: bytes, purpose: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(key)


class Cipher:
    """AES-256-GCM with a random nonce; the block's identity is authenticated data, so a
    ciphertext copied into another block fails to decrypt.

    Also the store's integrity tags (``sign``), sealed cache payloads (``seal``)
    and keyed digests (``digest``), each under its own subkey derived here, once.
    """

    def __init__(self, key: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._aead: AESGCM = AESGCM(key)
        self.key_id = key_id(key)
        self._mac_key = _subkey(key, b"orch/v1/block-row-mac")
        self._seal_aead = AESGCM(_subkey(key, b"orch/v1/task-cache-seal"))
        self._digest_key = _subkey(key, b"orch/v1/parameters-digest")

    def encrypt(self, plaintext: bytes, context: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext, context.encode())
        return _TOKEN_PREFIX + base64.b64encode(nonce + sealed).decode()

    def decrypt(self, token: str, context: str) -> bytes:
        """Raises ``InvalidTag`` when the key or the context does not match, ``ValueError``
        when ``token`` is not a token at all."""
        if not token.startswith(_TOKEN_PREFIX):
            from cryptography.exceptions import InvalidTag

            raise InvalidTag
        try:
            raw = base64.b64decode(token[len(_TOKEN_PREFIX) :], validate=True)
        except binascii.Error:
            raise ValueError("not base64") from None
        if len(raw) < 12 + 16:  # nonce + GCM tag
            raise ValueError("too short")
        return self._aead.decrypt(raw[:12], raw[12:], context.encode())

    def sign(self, parts: Sequence[str | int | None]) -> str:
        """An HMAC-SHA256 tag of ``parts`` (their JSON array: unambiguous)."""
        message = json.dumps(list(parts), separators=(",", ":")).encode()
        return hmac.digest(self._mac_key, message, "sha256").hex()

    def seal(self, data: bytes, context: bytes) -> bytes:
        """``data`` encrypted and authenticated, bound to ``context``."""
        nonce = os.urandom(12)
        return _SEAL_PREFIX + nonce + self._seal_aead.encrypt(nonce, data, context)

    def unseal(self, blob: bytes, context: bytes) -> bytes:
        """The data ``seal`` sealed for ``context``; ``InvalidTag`` for anything else."""
        if not blob.startswith(_SEAL_PREFIX) or len(blob) < len(_SEAL_PREFIX) + 12 + 16:
            from cryptography.exceptions import InvalidTag

            raise InvalidTag
        raw = blob[len(_SEAL_PREFIX) :]
        return self._seal_aead.decrypt(raw[:12], raw[12:], context)

    def digest(self, text: str) -> str:
        """A short keyed digest: nobody without the key can recompute (or brute-force) it."""
        return hmac.digest(self._digest_key, text.encode(), "sha256").hex()[:16]


__all__ = [
    "Cipher",
    "InvalidTag",
    "KeySource",
    "create_key_file",
    "find_key",
    "fsync_dir",
    "key_id",
    "new_key",
    "write_key_file",
]
