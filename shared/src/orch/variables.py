"""Prefect's ``prefect.variables`` path, kept so a moved import fails with what to do.

orch has no server to hold variables: keep non-secret settings in a ``Json`` block (a
named, typed value in the block store) and secrets in a ``Secret`` block.
"""

from __future__ import annotations

from orch.lazy import not_in_orch

__getattr__ = not_in_orch(
    __name__,
    "orch has no server to hold variables; save the value in a block instead: "
    "`Json(value=...).save('name')` then `Json.load('name').value` "
    "(from orch.system_blocks import Json), or a Secret block for secrets",
)
