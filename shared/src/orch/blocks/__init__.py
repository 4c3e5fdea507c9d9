"""Blocks: the ``Block`` base, the type registry, block documents (what is saved),
``orch block apply``, and the block store on top of ``orch.store``.

Layer: above ``orch.secrets`` and ``orch.store``; never imports the runtime or the CLI.
Names load lazily (pydantic loads with ``Block``).

Example:
    >>> from orch.blocks import Block
"""

from __future__ import annotations

from orch.lazy import lazy_exports

TYPE_CHECKING = False

_EXPORTS = {
    "Block": "orch.blocks.base",
    "BlockInfo": "orch.blocks.base",
}

if TYPE_CHECKING:
    from orch.blocks.base import Block as Block
    from orch.blocks.base import BlockInfo as BlockInfo

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
