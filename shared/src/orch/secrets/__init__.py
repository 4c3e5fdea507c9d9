"""Secrets: the secret field types, references to secrets kept elsewhere, their resolvers,
and the redaction that masks revealed values in logs and errors.

Layer: imported by blocks, the runtime and the CLI; imports only ``orch.errors`` and
``orch.settings`` (never the store, blocks or the runtime). Names load lazily, so
``orch.secrets.redaction`` does not pay for pydantic.

Example:
    >>> from orch.secrets import SecretStr
"""

from __future__ import annotations

from orch.lazy import lazy_exports

TYPE_CHECKING = False

_EXPORTS = {
    "SecretStr": "orch.secrets.types",
    "SecretBytes": "orch.secrets.types",
    "SecretDict": "orch.secrets.types",
    "SECRET_TYPES": "orch.secrets.types",
    "SecretRef": "orch.secrets.references",
    "register_resolver": "orch.secrets.references",
}

if TYPE_CHECKING:
    from orch.secrets.references import SecretRef as SecretRef
    from orch.secrets.references import register_resolver as register_resolver
    from orch.secrets.types import SECRET_TYPES as SECRET_TYPES
    from orch.secrets.types import SecretBytes as SecretBytes
    from orch.secrets.types import SecretDict as SecretDict
    from orch.secrets.types import SecretStr as SecretStr

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
