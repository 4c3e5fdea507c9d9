"""The run context: which flow run and task run the current code is part of.

Example:
    >>> from orch import flow, get_run_context
    >>> @flow
    ... def f() -> str:
    ...     return get_run_context().flow_run.id
    >>> len(f()) == 32
    True
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from orch.errors import MissingContextError

if TYPE_CHECKING:
    from collections.abc import Callable

    from orch.engine.task_runners import TaskRunner
    from orch.flows import Flow
    from orch.tasks import Task

_bits = random.getrandbits  # seeded from the OS, re-seeded after fork by `random`


def new_id() -> str:
    """A new random 32-hex-character run id (cheaper than ``uuid4()``: ids are made on the
    per-task hot path).

    Example:
        >>> len(new_id())
        32
    """
    return f"{_bits(128):032x}"


class FlowRun:
    """One run of a flow: ``id``, ``name``, ``flow_name``, ``parameters``, ``state_name``.

    Example:
        ``get_run_context().flow_run.id`` inside a flow.
    """

    __slots__ = (
        "attempt",
        "end_time",
        "error",
        "flow_name",
        "id",
        "name",
        "parameters",
        "parent_flow_run_id",
        "parent_task_run_id",
        "start_time",
        "state_name",
        "tags",
    )

    def __init__(
        self,
        id: str,
        name: str,
        flow_name: str,
        parameters: dict[str, Any],
        parent_flow_run_id: str | None = None,
        parent_task_run_id: str | None = None,
        tags: tuple[str, ...] = (),
    ) -> None:
        self.id = id
        self.name = name
        self.flow_name = flow_name
        self.parameters = parameters
        self.parent_flow_run_id = parent_flow_run_id
        self.parent_task_run_id = parent_task_run_id
        self.tags = tags
        self.attempt = 0
        self.start_time = time.time()
        self.end_time: float | None = None
        self.state_name = "Running"
        self.error: str | None = None

    @property
    def run_count(self) -> int:
        """How many attempts ran so far (Prefect's name)."""
        return self.attempt

    def __repr__(self) -> str:
        return f"FlowRun(id={self.id!r}, name={self.name!r}, flow_name={self.flow_name!r})"


class TaskRun:
    """One run of a task: ``id``, ``name``, ``task_name``, ``flow_run_id``, ``attempt``.

    Example:
        ``get_run_context().task_run.name`` inside a task.
    """

    __slots__ = (
        "_name",
        "_queued",
        "args",
        "attempt",
        "cache_key",
        "end_time",
        "error",
        "flow_run_id",
        "id",
        "kwargs",
        "start_time",
        "state_name",
        "task",
        "wait_for",
    )

    def __init__(
        self,
        task: Task[Any, Any],
        flow_run_id: str | None,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        name: str | None = None,
    ) -> None:
        self.id = new_id()
        self.task = task
        self.flow_run_id = flow_run_id
        self.args = args
        self.kwargs = kwargs
        self._name = name
        self.attempt = 0
        self.start_time = 0.0
        self.end_time = 0.0
        self.state_name = "Pending"
        self.error: str | None = None
        self.cache_key: str | None = None
        # ``.submit(wait_for=...)``: the runs to wait for first (a runner that runs the
        # call elsewhere waits for them here); cleared once waited for.
        self.wait_for: Iterable[Any] | None = None
        # In the history writer's queue, not yet taken (orch.history.writer.record_task).
        self._queued = False

    @property
    def name(self) -> str:
        """``task_run_name`` when given, else ``<task name>-<last 6 id characters>``."""
        return self._name or f"{self.task.name}-{self.id[-6:]}"

    @property
    def task_name(self) -> str:
        """The task's name."""
        return self.task.name

    @property
    def run_count(self) -> int:
        """How many attempts ran so far (Prefect's name)."""
        return self.attempt

    @property
    def parameters(self) -> dict[str, Any]:
        """The call's arguments by parameter name, defaults applied."""
        return self.task._bind(self.args, self.kwargs)

    def __repr__(self) -> str:
        return f"TaskRun(id={self.id!r}, name={self.name!r})"


class FlowRunContext:
    """What a flow run knows: ``flow``, ``flow_run``, ``task_runner``, ``log_prints``, and
    the callbacks to run when it ends (``at_flow_end``).

    Example:
        ``get_run_context().flow_run.name``
    """

    __slots__ = ("at_end", "flow", "flow_run", "log_prints", "task_runner")

    def __init__(
        self,
        flow: Flow[Any, Any],
        flow_run: FlowRun,
        task_runner: TaskRunner,
        log_prints: bool,
    ) -> None:
        self.flow = flow
        self.flow_run = flow_run
        self.task_runner = task_runner
        self.log_prints = log_prints
        # at_flow_end callbacks, run last first when the run ends; None once they ran
        self.at_end: list[Callable[[], object]] | None = []


class TaskRunContext:
    """What a task run knows: ``task``, ``task_run``, ``flow_run`` (or None), ``parameters``.

    Example:
        ``get_run_context().task_run.id`` inside a task.
    """

    __slots__ = ("flow_context", "log_prints", "task", "task_run")

    def __init__(
        self,
        task: Task[Any, Any],
        task_run: TaskRun,
        flow_context: FlowRunContext | None,
        log_prints: bool,
    ) -> None:
        self.task = task
        self.task_run = task_run
        self.flow_context = flow_context
        self.log_prints = log_prints

    @property
    def flow_run(self) -> FlowRun | None:
        """The flow run this task runs in, or None outside a flow."""
        return None if self.flow_context is None else self.flow_context.flow_run

    @property
    def parameters(self) -> dict[str, Any]:
        """The task's arguments by parameter name."""
        return self.task_run.parameters


flow_run_ctx: ContextVar[FlowRunContext | None] = ContextVar("orch_flow_run", default=None)
task_run_ctx: ContextVar[TaskRunContext | None] = ContextVar("orch_task_run", default=None)


def get_run_context() -> TaskRunContext | FlowRunContext:
    """The innermost run context: the task run's inside a task, else the flow run's.

    Both have ``.flow_run`` (``.id``, ``.name``); a task's also ``.task_run``. Raises
    ``MissingContextError`` outside any run.

    Example:
        >>> from orch import flow, get_run_context
        >>> @flow(flow_run_name="nightly")
        ... def f() -> str:
        ...     return get_run_context().flow_run.name
        >>> f()
        'nightly'
    """
    task_ctx = task_run_ctx.get()
    if task_ctx is not None:
        return task_ctx
    flow_ctx = flow_run_ctx.get()
    if flow_ctx is not None:
        return flow_ctx
    raise MissingContextError(
        "get_run_context() was called outside a flow or task run: call it from code "
        "running inside a @flow or @task"
    )


def current_flow_run() -> FlowRun | None:
    """The current flow run, or None outside a flow.

    Example:
        >>> current_flow_run() is None
        True
    """
    ctx = flow_run_ctx.get()
    return None if ctx is None else ctx.flow_run


def at_flow_end(callback: Callable[[], object]) -> bool:
    """Call ``callback()`` when the current flow run ends, whether it completed, failed or
    crashed (Ctrl-C, SIGTERM): to release what a task acquired for the rest of the flow
    (a lease, a temporary login, a lock).

    The flow run is the one the calling task (or flow body) belongs to: a subflow's ends
    with the subflow. Callbacks run after every task of the run has finished and before
    the run's state hooks, the last registered first; one that raises is logged as a
    warning and the others still run. Returns ``False``, registering nothing, outside a
    flow run (a task called on its own, or in a process-pool worker): the caller then
    decides what to do.

    Example:
        >>> from orch import flow
        >>> @flow
        ... def f() -> list[str]:
        ...     ended: list[str] = []
        ...     at_flow_end(lambda: ended.append("released"))
        ...     return ended
        >>> f()  # the same list, filled once the run ended
        ['released']
        >>> at_flow_end(print)  # not in a flow run
        False
    """
    task_ctx = task_run_ctx.get()
    flow_ctx = task_ctx.flow_context if task_ctx is not None else flow_run_ctx.get()
    if flow_ctx is None or flow_ctx.at_end is None:
        return False  # outside a flow, or the run has already ended
    flow_ctx.at_end.append(callback)
    return True


def link_run(name: str, value: str) -> bool:
    """Link the current flow run to something outside orch: ``orch runs show`` and the
    run's page in ``orch ui`` list it as ``name: value`` (an MLflow run id and its URL, a
    dashboard, a job id). A second link of the same name replaces the first; the value is
    redacted like every other piece of run history. Returns ``False``, recording nothing,
    outside a flow run.

    Example:
        >>> from orch import flow
        >>> @flow
        ... def train() -> bool:
        ...     return link_run("mlflow run", "3f2a... http://mlflow.internal/#/runs/3f2a")
        >>> train()
        True
        >>> link_run("mlflow run", "x")  # not in a flow run
        False
    """
    task_ctx = task_run_ctx.get()
    flow_ctx = task_ctx.flow_context if task_ctx is not None else flow_run_ctx.get()
    if flow_ctx is None:
        return False
    from orch.history.writer import record_link

    record_link(flow_ctx.flow_run.id, name, value)
    return True


def run_flow_end_callbacks(ctx: FlowRunContext) -> list[tuple[Callable[[], object], Exception]]:
    """Run ``ctx``'s ``at_flow_end`` callbacks (last first) once; returns those that
    raised, with their exception."""
    callbacks, ctx.at_end = ctx.at_end or [], None
    failed = []
    for callback in reversed(callbacks):
        try:
            callback()
        except Exception as exc:
            failed.append((callback, exc))
    return failed
