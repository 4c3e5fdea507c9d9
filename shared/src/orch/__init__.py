"""orch: typed blocks for credentials and configuration, secrets that never leak, and a
fast flow/task runtime.

Names are imported lazily, so ``import orch`` costs a few milliseconds: pydantic and the
store load on first use of ``orch.Block``.

Example:
    >>> from orch import Block, SecretStr, SecretRef
"""

from __future__ import annotations

from orch.lazy import lazy_exports

# Not `from typing import TYPE_CHECKING`: importing typing costs several ms at start-up.
TYPE_CHECKING = False

# public name → module that defines it
_EXPORTS = {
    "Block": "orch.block",
    "BlockInfo": "orch.block",
    "SecretStr": "orch.secrets",
    "SecretBytes": "orch.secrets",
    "SecretDict": "orch.secrets",
    "SecretRef": "orch.references",
    "register_resolver": "orch.references",
    # the flow/task runtime
    "flow": "orch.flows",
    "Flow": "orch.flows",
    "task": "orch.tasks",
    "Task": "orch.tasks",
    "get_run_logger": "orch.run_logging",
    "get_run_context": "orch.context",
    "unmapped": "orch.futures",
    "OrchFuture": "orch.futures",
    "State": "orch.states",
    "concurrency": "orch.limits",
    "ThreadPoolTaskRunner": "orch.task_runners",
    "ProcessPoolTaskRunner": "orch.task_runners",
}

if TYPE_CHECKING:
    from orch.block import Block as Block
    from orch.block import BlockInfo as BlockInfo
    from orch.context import get_run_context as get_run_context
    from orch.flows import Flow as Flow
    from orch.flows import flow as flow
    from orch.futures import OrchFuture as OrchFuture
    from orch.futures import unmapped as unmapped
    from orch.limits import concurrency as concurrency
    from orch.references import SecretRef as SecretRef
    from orch.references import register_resolver as register_resolver
    from orch.run_logging import get_run_logger as get_run_logger
    from orch.secrets import SecretBytes as SecretBytes
    from orch.secrets import SecretDict as SecretDict
    from orch.secrets import SecretStr as SecretStr
    from orch.states import State as State
    from orch.task_runners import ProcessPoolTaskRunner as ProcessPoolTaskRunner
    from orch.task_runners import ThreadPoolTaskRunner as ThreadPoolTaskRunner
    from orch.tasks import Task as Task
    from orch.tasks import task as task

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
