"""orch: typed blocks for credentials and configuration, secrets that never leak, and a
fast flow/task runtime.

Names are imported lazily, so ``import orch`` costs a few milliseconds: pydantic and the
store load on first use of ``orch.Block``.

Example:
    >>> from orch import Block, SecretStr, SecretRef
"""

from __future__ import annotations

from importlib import import_module

# Not `from typing import TYPE_CHECKING`: importing typing costs several ms at start-up.
TYPE_CHECKING = False

__version__ = "0.1.0"

# public name → module that defines it
_EXPORTS = {
    "Block": "orch.block",
    "BlockInfo": "orch.block",
    "SecretStr": "orch.secrets",
    "SecretBytes": "orch.secrets",
    "SecretDict": "orch.secrets",
    "SecretRef": "orch.references",
    "register_resolver": "orch.references",
}

if TYPE_CHECKING:
    from typing import Any

    from orch.block import Block as Block
    from orch.block import BlockInfo as BlockInfo
    from orch.references import SecretRef as SecretRef
    from orch.references import register_resolver as register_resolver
    from orch.secrets import SecretBytes as SecretBytes
    from orch.secrets import SecretDict as SecretDict
    from orch.secrets import SecretStr as SecretStr

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'orch' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
