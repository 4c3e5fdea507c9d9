"""Prefect 3's cache policies: ``INPUTS``, ``TASK_SOURCE``, ``RUN_ID``, ``DEFAULT``, ``NONE``.

``@task(cache_policy=...)`` computes the task's cache key from what the policy names; a
policy is a ``cache_key_fn`` (``policy(context, arguments)``), so results go to the same
task cache (``cache_expiration``, ``refresh_cache`` and ``orch runs prune`` apply).
Combine with ``+`` (a key from each part) and drop arguments from ``INPUTS`` with ``-``.
As in Prefect, a key is not tied to one task: ``INPUTS`` alone lets two tasks with equal
arguments share a result, so add ``TASK_SOURCE``. Unlike Prefect, orch caches only
tasks that ask (there is no default policy and no ``persist_result`` to turn on).

Example:
    >>> from orch import task
    >>> from orch.cache_policies import INPUTS, TASK_SOURCE
    >>> @task(cache_policy=INPUTS + TASK_SOURCE)
    ... def square(x: int) -> int:
    ...     return x * x
"""

from __future__ import annotations

import hashlib
import inspect
import json
import pickle
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orch.engine.context import TaskRunContext

__all__ = [
    "DEFAULT",
    "INPUTS",
    "NONE",
    "RUN_ID",
    "TASK_SOURCE",
    "CachePolicy",
    "CompoundCachePolicy",
    "Inputs",
    "RunId",
    "TaskSource",
    "hash_arguments",
]


def hash_arguments(arguments: dict[str, Any]) -> str | None:
    """A SHA-256 of ``arguments``: as JSON when they are JSON data, else as a pickle.

    None when neither works (the call is then not cached).

    Example:
        >>> hash_arguments({"x": 1}) == hash_arguments({"x": 1})
        True
    """
    try:
        data = json.dumps(arguments, sort_keys=True).encode()
    except (TypeError, ValueError):
        try:
            data = pickle.dumps(arguments)
        except Exception:
            return None
    return hashlib.sha256(data).hexdigest()


class CachePolicy:
    """Base class: ``compute_key`` gives the cache key of one call, or None (not cached)."""

    def compute_key(self, task_ctx: TaskRunContext, inputs: dict[str, Any]) -> str | None:
        """The key of this call (None: don't cache it)."""
        raise NotImplementedError

    def __call__(self, context: TaskRunContext, arguments: dict[str, Any]) -> str | None:
        # a policy is a cache_key_fn, so the task engine needs nothing new
        return self.compute_key(context, arguments)

    def __add__(self, other: CachePolicy) -> CachePolicy:
        if not isinstance(other, CachePolicy):
            return NotImplemented
        return CompoundCachePolicy([*_parts(self), *_parts(other)])

    def __repr__(self) -> str:
        return type(self).__name__ + "()"


def _parts(policy: CachePolicy) -> list[CachePolicy]:
    if isinstance(policy, _NoCache):
        return []  # NONE + X is X, as in Prefect
    if isinstance(policy, CompoundCachePolicy):
        return list(policy.policies)
    return [policy]


class CompoundCachePolicy(CachePolicy):
    """Several policies: the key hashes each part's key (parts that give None are skipped;
    None when all do)."""

    def __init__(self, policies: list[CachePolicy]) -> None:
        self.policies = tuple(policies)

    def compute_key(self, task_ctx: TaskRunContext, inputs: dict[str, Any]) -> str | None:
        keys = [p.compute_key(task_ctx, inputs) for p in self.policies]
        present = [k for k in keys if k is not None]
        if not present:
            return None
        return hashlib.sha256("\0".join(present).encode()).hexdigest()

    def __sub__(self, name: str) -> CompoundCachePolicy:
        return CompoundCachePolicy(
            [p - name if isinstance(p, Inputs) else p for p in self.policies]
        )

    def __repr__(self) -> str:
        return " + ".join(repr(p) for p in self.policies) or "NONE"


class Inputs(CachePolicy):
    """The key of the call's arguments (``INPUTS - "name"`` leaves one out)."""

    def __init__(self, exclude: tuple[str, ...] = ()) -> None:
        self.exclude = tuple(exclude)

    def compute_key(self, task_ctx: TaskRunContext, inputs: dict[str, Any]) -> str | None:
        kept = {k: v for k, v in inputs.items() if k not in self.exclude}
        return hash_arguments(kept)

    def __sub__(self, name: str) -> Inputs:
        if not isinstance(name, str):
            return NotImplemented
        return Inputs((*self.exclude, name))

    def __repr__(self) -> str:
        return "INPUTS" + "".join(f" - {n!r}" for n in self.exclude)


class TaskSource(CachePolicy):
    """The key of the task function's source code (its bytecode when there is no source)."""

    def compute_key(self, task_ctx: TaskRunContext, inputs: dict[str, Any]) -> str | None:
        fn = task_ctx.task.fn
        try:
            code = inspect.getsource(fn).encode()
        except (OSError, TypeError):
            code = fn.__code__.co_code
        return hashlib.sha256(code).hexdigest()

    def __repr__(self) -> str:
        return "TASK_SOURCE"


class RunId(CachePolicy):
    """The key of the flow run (the task run outside a flow): cached within one run only."""

    def compute_key(self, task_ctx: TaskRunContext, inputs: dict[str, Any]) -> str | None:
        run = task_ctx.flow_run
        return str(run.id if run is not None else task_ctx.task_run.id)

    def __repr__(self) -> str:
        return "RUN_ID"


class _NoCache(CachePolicy):
    def compute_key(self, task_ctx: TaskRunContext, inputs: dict[str, Any]) -> str | None:
        return None

    def __repr__(self) -> str:
        return "NONE"


INPUTS = Inputs()
TASK_SOURCE = TaskSource()
RUN_ID = RunId()
NONE: CachePolicy = _NoCache()
"""Never cache (``@task(cache_policy=NONE)`` is the same as no policy)."""
DEFAULT = INPUTS + TASK_SOURCE + RUN_ID
"""Prefect's default: same arguments and code, within one flow run."""
