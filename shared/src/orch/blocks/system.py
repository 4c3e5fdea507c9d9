"""Prefect's ``prefect.blocks.system`` path: ``Secret``, ``JSON`` / ``Json``.

The blocks are defined in ``orch.system_blocks`` (the layer above ``orch.blocks``);
this module names them lazily at Prefect's path. Prefect's ``String`` and ``DateTime``
have no orch block: use ``Json(value="...")``.

Example:
    from orch.blocks.system import Secret

    token = Secret.load("github-token").get()
"""

from __future__ import annotations

from orch.lazy import lazy_exports, not_in_orch

TYPE_CHECKING = False

_EXPORTS = {
    "Secret": "orch.system_blocks",
    "Json": "orch.system_blocks",
    "JSON": "orch.system_blocks",
}

if TYPE_CHECKING:
    from orch.system_blocks import JSON as JSON
    from orch.system_blocks import Json as Json
    from orch.system_blocks import Secret as Secret

__all__ = sorted(_EXPORTS)

_lazy, __dir__ = lazy_exports(__name__, _EXPORTS)
_missing = not_in_orch(
    __name__,
    "orch has no String or DateTime block; keep the value in a Json block: "
    "`Json(value='...').save('name')` (from orch.blocks.system import Json)",
)


def __getattr__(name: str) -> object:
    if name in _EXPORTS or name.startswith("__"):
        return _lazy(name)
    return _missing(name)
