"""Secret field types: ``SecretStr``, ``SecretBytes`` and ``SecretDict``.

A secret holds either a literal value or a ``SecretRef``. It is
masked in ``repr``, ``str``, ``model_dump()``, JSON and exception messages; the value is
only reachable through ``get_secret_value()``, which also remembers it for redaction of
logs and run history. In the block store a literal is encrypted and a reference is kept
as the reference alone.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from typing import Any, ClassVar, Generic, TypeVar, cast

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from orch.errors import SecretReferenceError
from orch.secrets.redaction import MASK, remember
from orch.secrets.references import Resolved, SecretRef

T = TypeVar("T")


class _Secret(Generic[T]):
    """Shared behaviour of the secret types (see the module docstring)."""

    __slots__ = ("_ref", "_value")
    _kind: ClassVar[str]
    _json_type: ClassVar[str]

    def __init__(self, value: T | SecretRef | str) -> None:
        if isinstance(value, SecretRef):
            self._ref: SecretRef | None = value
            self._value: T | None = None
        else:
            self._ref = None
            self._value = self._coerce(value)

    # --- what subclasses define -------------------------------------------------------
    @classmethod
    def _coerce(cls, value: Any) -> T:
        raise NotImplementedError

    @classmethod
    def _from_resolved(cls, ref: SecretRef, raw: Resolved) -> T:
        raise NotImplementedError

    # --- the public surface -----------------------------------------------------------
    @property
    def reference(self) -> SecretRef | None:
        """The reference this secret stands for, or ``None`` for a literal value."""
        return self._ref

    def get_secret_value(self) -> T:
        """The value: the literal, or the reference resolved (cached per TTL)."""
        value: T
        if self._ref is not None:
            value = self._from_resolved(self._ref, self._ref.resolve())
        else:
            value = cast(T, self._value)
        remember(value)
        return value

    def __repr__(self) -> str:
        if self._ref is not None:
            return f"{type(self).__name__}(ref={str(self._ref)!r})"
        return f"{type(self).__name__}('{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, _Secret)
        if self._ref is not None or other._ref is not None:
            return self._ref == other._ref
        return hmac.compare_digest(_digestible(self._value), _digestible(other._value))

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._ref))

    # --- pydantic integration ---------------------------------------------------------
    @classmethod
    def _validate(cls, value: Any) -> _Secret[T]:
        if isinstance(value, cls):
            return value
        if isinstance(value, _Secret):
            raise ValueError(f"expected a {cls.__name__}, got a {type(value).__name__}")
        if isinstance(value, SecretRef):
            return cls(value)
        return cls(cls._coerce(value))

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            cls._validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda _v: MASK, when_used="always"
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        # "writeOnly"/"format: password" is what form generators understand;
        # "x-orch-secret" is what orch's own tools read.
        return {
            "type": cls._json_type,
            "writeOnly": True,
            "format": "password",
            "x-orch-secret": cls._kind,
        }


def _digestible(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value, sort_keys=True, default=str).encode()


class SecretStr(_Secret[str]):
    """A secret string: a literal, or a reference resolved when used.

    Example:
        >>> from orch import Block, SecretRef, SecretStr
        >>> class ApiCredentials(Block):
        ...     token: SecretStr
        >>> ApiCredentials(token="abc123")
        ApiCredentials(token=SecretStr('**********'))
        >>> ApiCredentials(token=SecretRef("env://API_TOKEN")).token
        SecretStr(ref='env://API_TOKEN')
    """

    __slots__ = ()
    _kind = "str"
    _json_type = "string"

    @classmethod
    def _coerce(cls, value: Any) -> str:
        if isinstance(value, str):
            return value
        raise ValueError(
            f"a secret string must be a str or a SecretRef, got {type(value).__name__}"
        )

    @classmethod
    def _from_resolved(cls, ref: SecretRef, raw: Resolved) -> str:
        if isinstance(raw, str):
            return raw
        if isinstance(raw, bytes):
            try:
                return raw.decode()
            except UnicodeDecodeError:
                raise SecretReferenceError(
                    f"secret reference {ref} resolved to binary data, not text"
                ) from None
        raise SecretReferenceError(
            f"secret reference {ref} resolved to an object; pick one key with '#key'"
        )


class SecretBytes(_Secret[bytes]):
    """Secret binary data (a private key, a keystore); ``str`` input is UTF-8 encoded.

    Example:
        >>> from orch import Block, SecretBytes
        >>> class Keystore(Block):
        ...     private_key: SecretBytes
        >>> Keystore(private_key=b"-----BEGIN PRIVATE KEY-----...").private_key
        SecretBytes('**********')
    """

    __slots__ = ()
    _kind = "bytes"
    _json_type = "string"

    @classmethod
    def _coerce(cls, value: Any) -> bytes:
        if isinstance(value, bytes):
            return value
        if isinstance(value, bytearray | memoryview):
            return bytes(value)
        if isinstance(value, str):
            return value.encode()
        raise ValueError(
            f"secret bytes must be bytes, str or a SecretRef, got {type(value).__name__}"
        )

    @classmethod
    def _from_resolved(cls, ref: SecretRef, raw: Resolved) -> bytes:
        if isinstance(raw, bytes):
            return raw
        if isinstance(raw, str):
            return raw.encode()
        raise SecretReferenceError(
            f"secret reference {ref} resolved to an object; pick one key with '#key'"
        )


class SecretDict(_Secret[dict[str, Any]]):
    """A secret mapping (a service-account JSON, extra connection options).

    Example:
        >>> from orch import Block, SecretDict
        >>> class ServiceAccount(Block):
        ...     info: SecretDict
        >>> ServiceAccount(info={"private_key": "..."}).model_dump()
        {'info': '**********'}
    """

    __slots__ = ()
    _kind = "dict"
    _json_type = "object"

    @classmethod
    def _coerce(cls, value: Any) -> dict[str, Any]:
        if isinstance(value, Mapping):
            return dict(value)
        raise ValueError(
            f"a secret dict must be a mapping or a SecretRef, got {type(value).__name__}"
        )

    @classmethod
    def _from_resolved(cls, ref: SecretRef, raw: Resolved) -> dict[str, Any]:
        if isinstance(raw, Mapping):
            return dict(raw)
        try:
            value = json.loads(raw)
        except ValueError:
            raise SecretReferenceError(f"secret reference {ref} did not resolve to JSON") from None
        if not isinstance(value, dict):
            raise SecretReferenceError(f"secret reference {ref} did not resolve to a JSON object")
        return value

    def get_secret_value(self) -> dict[str, Any]:
        """A copy of the mapping, so callers cannot change the stored value by accident."""
        return dict(super().get_secret_value())


SECRET_TYPES: tuple[type[_Secret[Any]], ...] = (SecretStr, SecretBytes, SecretDict)
