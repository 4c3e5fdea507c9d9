"""A block ↔ its stored JSON document.

- a literal secret → ``{"$secret": kind, "$enc": token}`` (AES-GCM, the block's
  ``slug/name`` as authenticated data);
- a secret reference → ``{"$ref": "env://NAME"}`` (only the reference is stored);
- a nested block that is saved → ``{"$block": "slug/name"}``; one that is not →
  ``{"$type": slug, "$version": n, "$data": {...}}`` (inlined);
- a plain mapping whose keys start with ``$`` → ``{"$dict": {...}}``, so it is never
  mistaken for one of the above.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic_core import to_jsonable_python

from orch.errors import BlockCorruptError, BlockNotFoundError, BlockSchemaError, SecretKeyError
from orch.secrets.references import SecretRef
from orch.secrets.types import SecretBytes, SecretDict, SecretStr, _Secret
from orch.store.crypto import Cipher, InvalidTag

if TYPE_CHECKING:
    from orch.blocks.base import Block

_SECRET_KINDS: dict[str, type[_Secret[Any]]] = {
    "str": SecretStr,
    "bytes": SecretBytes,
    "dict": SecretDict,
}


def _unchecked_ref(ref: str) -> SecretRef:
    """A stored reference, rebuilt without requiring its resolver to be installed yet."""
    obj = SecretRef.__new__(SecretRef)
    scheme, _, rest = ref.partition("://")
    rest, _, key = rest.partition("#")
    location, _, query = rest.partition("?")
    from urllib.parse import parse_qsl

    obj.ref, obj.scheme, obj.location = ref, scheme, location
    obj.key, obj.params = key or None, dict(parse_qsl(query, keep_blank_values=True))
    return obj


class Encoder:
    """Encodes one block's fields for the store, collecting the saved blocks it references."""

    def __init__(self, document_name: str, cipher: Callable[[], Cipher]) -> None:
        self.document_name = document_name
        self._cipher = cipher
        self.references: list[tuple[str, str]] = []

    def fields(self, block: Block) -> dict[str, Any]:
        return {name: self.value(getattr(block, name)) for name in type(block).model_fields}

    def value(self, value: Any) -> Any:
        from orch.blocks.base import Block

        if isinstance(value, Block):
            if value.block_name is not None:
                self.references.append((value.block_type_slug, value.block_name))
                return {"$block": f"{value.block_type_slug}/{value.block_name}"}
            return {
                "$type": value.block_type_slug,
                "$version": value.block_schema_version,
                "$data": self.fields(value),
            }
        if isinstance(value, _Secret):
            if value.reference is not None:
                return {"$ref": value.reference.ref}
            plain: Any = value._value
            if isinstance(plain, bytes):
                plain = base64.b64encode(plain).decode()
            payload = json.dumps(plain).encode()
            return {
                "$secret": value._kind,
                "$enc": self._cipher().encrypt(payload, self.document_name),
            }
        if isinstance(value, dict):
            encoded = {str(k): self.value(v) for k, v in value.items()}
            if any(str(k).startswith("$") for k in value):
                return {"$dict": encoded}
            return encoded
        if isinstance(value, list | tuple | set | frozenset):
            return [self.value(v) for v in value]
        return to_jsonable_python(value)


class Decoder:
    """Decodes a stored document back into field values ready for validation."""

    def __init__(
        self,
        document_name: str,
        cipher: Callable[[], Cipher],
        load_reference: Callable[[str], Block],
    ) -> None:
        self.document_name = document_name
        self._cipher = cipher
        self._load_reference = load_reference

    def fields(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise BlockCorruptError(f"block {self.document_name} is corrupt: not a JSON object")
        return {name: self.value(value, name) for name, value in data.items()}

    def value(self, value: Any, path: str) -> Any:
        if isinstance(value, list):
            return [self.value(v, f"{path}[{i}]") for i, v in enumerate(value)]
        if not isinstance(value, dict):
            return value
        if "$secret" in value:
            return self._secret(value, path)
        if "$ref" in value:
            return _unchecked_ref(self._text(value, "$ref", path))
        if "$block" in value:
            return self._reference(self._text(value, "$block", path), path)
        if "$type" in value:
            return self._inline_block(value, path)
        if "$dict" in value:
            value = value["$dict"]
            if not isinstance(value, dict):
                raise self._corrupt(path, "a $dict that is not a mapping")
        return {k: self.value(v, f"{path}.{k}") for k, v in value.items()}

    def _corrupt(self, path: str, what: str) -> BlockCorruptError:
        return BlockCorruptError(f"block {self.document_name} is corrupt: {what} in field {path!r}")

    def _text(self, value: dict[str, Any], marker: str, path: str) -> str:
        text = value[marker]
        if not isinstance(text, str) or not text:
            raise self._corrupt(path, f"a {marker} that is not a string")
        return text

    def _reference(self, full_name: str, path: str) -> Block:
        if "/" not in full_name:
            raise self._corrupt(path, "a $block reference that is not type/name")
        try:
            return self._load_reference(full_name)
        except BlockNotFoundError:
            raise BlockNotFoundError(
                f"block {self.document_name} references {full_name} in field {path!r}, "
                "which is not saved"
            ) from None

    def _secret(self, value: dict[str, Any], path: str) -> _Secret[Any]:
        kind = _SECRET_KINDS.get(str(value.get("$secret")))
        if kind is None or not isinstance(value.get("$enc"), str):
            raise BlockCorruptError(
                f"block {self.document_name} is corrupt: bad secret value in field {path!r}"
            )
        try:
            payload = self._cipher().decrypt(value["$enc"], self.document_name)
        except SecretKeyError as exc:
            raise SecretKeyError(
                f"cannot decrypt secret field {path!r} of block {self.document_name}: {exc}"
            ) from None
        except InvalidTag:
            raise SecretKeyError(
                f"cannot decrypt secret field {path!r} of block {self.document_name}: the "
                "value was not encrypted with this key for this block (wrong key or a "
                "tampered document)"
            ) from None
        except ValueError:
            raise self._corrupt(path, "an encrypted secret value that is malformed") from None
        # Never put the decrypted payload (or a parser's view of it) into a message.
        try:
            plain = json.loads(payload)
            if kind is SecretBytes:
                if not isinstance(plain, str):
                    raise ValueError
                plain = base64.b64decode(plain, validate=True)
            elif not isinstance(plain, dict if kind is SecretDict else str):
                raise ValueError
            return kind(plain)
        except (ValueError, TypeError):
            raise self._corrupt(
                path, f"a secret that does not decode as a {kind.__name__}"
            ) from None

    def _inline_block(self, value: dict[str, Any], path: str) -> Block:
        from orch.blocks.registry import get_block_class

        cls = get_block_class(self._text(value, "$type", path))
        version = value.get("$version", 1)
        if not isinstance(version, int) or isinstance(version, bool):
            raise self._corrupt(path, "a $version that is not an integer")
        data = value.get("$data", {})
        if not isinstance(data, dict):
            raise self._corrupt(path, "a $data that is not a mapping")
        fields = self.fields(data)
        return validate_document(cls, fields, version, f"{self.document_name} field {path!r}")


def validate_document(cls: type[Block], fields: dict[str, Any], version: int, what: str) -> Block:
    """Upgrade ``fields`` from ``version`` by the type's hook, then validate them."""
    from orch.errors import BlockValidationError

    if version > cls.block_schema_version:
        raise BlockSchemaError(
            f"{what} was saved by a newer {cls.block_type_slug} (schema version {version}; "
            f"this one reads up to {cls.block_schema_version}): upgrade the package that "
            f"provides {cls.__module__.split('.')[0]}"
        )
    if version < cls.block_schema_version:
        fields = cls.migrate_document(fields, version)
    try:
        return cls.model_validate(fields)
    except BlockValidationError as exc:
        raise BlockCorruptError(
            f"{what} does not fit type {cls.block_type_slug} schema version "
            f"{cls.block_schema_version}; {exc}"
        ) from None
