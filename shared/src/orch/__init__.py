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
    "Block": "orch.blocks.base",
    "BlockInfo": "orch.blocks.base",
    "SecretStr": "orch.secrets.types",
    "SecretBytes": "orch.secrets.types",
    "SecretDict": "orch.secrets.types",
    "SecretRef": "orch.secrets.references",
    "register_resolver": "orch.secrets.references",
    # the flow/task runtime
    "flow": "orch.flows",
    "Flow": "orch.flows",
    "task": "orch.tasks",
    "Task": "orch.tasks",
    "get_run_logger": "orch.engine.run_logging",
    "get_run_context": "orch.engine.context",
    "unmapped": "orch.futures",
    "OrchFuture": "orch.futures",
    "State": "orch.states",
    "concurrency": "orch.engine.limits",
    "ThreadPoolTaskRunner": "orch.engine.task_runners",
    "ProcessPoolTaskRunner": "orch.engine.task_runners",
    # schedules: flows that run themselves (`orch serve`)
    "serve": "orch.deployments.server",
}

if TYPE_CHECKING:
    from orch.blocks.base import Block as Block
    from orch.blocks.base import BlockInfo as BlockInfo
    from orch.deployments.server import serve as serve
    from orch.engine.context import get_run_context as get_run_context
    from orch.engine.limits import concurrency as concurrency
    from orch.engine.run_logging import get_run_logger as get_run_logger
    from orch.engine.task_runners import ProcessPoolTaskRunner as ProcessPoolTaskRunner
    from orch.engine.task_runners import ThreadPoolTaskRunner as ThreadPoolTaskRunner
    from orch.flows import Flow as Flow
    from orch.flows import flow as flow
    from orch.futures import OrchFuture as OrchFuture
    from orch.futures import unmapped as unmapped
    from orch.secrets.references import SecretRef as SecretRef
    from orch.secrets.references import register_resolver as register_resolver
    from orch.secrets.types import SecretBytes as SecretBytes
    from orch.secrets.types import SecretDict as SecretDict
    from orch.secrets.types import SecretStr as SecretStr
    from orch.states import State as State
    from orch.tasks import Task as Task
    from orch.tasks import task as task

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
