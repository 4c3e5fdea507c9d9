"""Where submitted task runs execute: a thread pool (default) or a process pool.

A flow takes its runner with ``@flow(task_runner=...)``; each flow run gets a fresh copy
(``TaskRunner.duplicate``), started on the first ``submit`` and shut down, after its
runs finish, when the flow run ends. Integration packages (``orch-dask``) subclass
``TaskRunner`` and implement ``TaskRunner.submit_call``.

Example:
    >>> from orch import flow
    >>> from orch.engine.task_runners import ThreadPoolTaskRunner
    >>> @flow(task_runner=ThreadPoolTaskRunner(max_workers=8))
    ... def f() -> None: ...
"""

from __future__ import annotations

import concurrent.futures as cf
import contextvars
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from orch.errors import SerializationError
from orch.states import State

if TYPE_CHECKING:
    from orch.engine.context import TaskRun
    from orch.tasks import Task


def default_max_workers() -> int:
    """Threads of the default runner: ``ORCH_TASK_RUNNER_MAX_WORKERS``, else 4 x cores (≥ 16).

    Data tasks mostly wait on the network, so the pool is wider than the core count.
    """
    raw = os.environ.get("ORCH_TASK_RUNNER_MAX_WORKERS", "").strip()
    if raw:
        return max(1, int(raw))
    return max(16, 4 * (os.cpu_count() or 1))


class TaskRunner:
    """Base class: runs a task call somewhere and returns a future of its final state.

    Example:
        ``class MyRunner(TaskRunner): def submit_call(self, task, task_run, call): ...``
    """

    def duplicate(self) -> TaskRunner:
        """A fresh, unstarted runner of the same configuration (one per flow run)."""
        return type(self)()

    def submit_call(
        self, task: Task[Any, Any], task_run: TaskRun, call: Callable[[], State[Any]]
    ) -> cf.Future[State[Any]]:
        """Run ``call()`` (the whole task engine for ``task_run``) and return its future."""
        raise NotImplementedError

    def shutdown(self, wait: bool = True) -> None:
        """Release the runner's workers (after its runs finish when ``wait``)."""

    def __enter__(self) -> TaskRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown(wait=True)


class ThreadPoolTaskRunner(TaskRunner):
    """Runs submitted tasks on threads of this process (the default).

    ``max_workers`` defaults to ``default_max_workers``.

    Example:
        ``@flow(task_runner=ThreadPoolTaskRunner(max_workers=4))``
    """

    def __init__(self, max_workers: int | None = None) -> None:
        self.max_workers = max_workers
        self._executor: cf.ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def duplicate(self) -> ThreadPoolTaskRunner:
        return ThreadPoolTaskRunner(self.max_workers)

    def _pool(self) -> cf.ThreadPoolExecutor:
        executor = self._executor
        if executor is None:
            with self._lock:
                executor = self._executor
                if executor is None:
                    executor = self._executor = cf.ThreadPoolExecutor(
                        self.max_workers or default_max_workers(), thread_name_prefix="orch-task"
                    )
        return executor

    def submit_call(
        self, task: Task[Any, Any], task_run: TaskRun, call: Callable[[], State[Any]]
    ) -> cf.Future[State[Any]]:
        # The worker runs in a copy of the caller's context: it sees the flow run.
        ctx = contextvars.copy_context()
        return self._pool().submit(ctx.run, call)

    def shutdown(self, wait: bool = True) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            # Not waiting means the flow was interrupted: runs not started yet never start.
            executor.shutdown(wait=wait, cancel_futures=not wait)


class ProcessPoolTaskRunner(TaskRunner):
    """Runs submitted tasks in worker processes (CPU-bound work, past the GIL).

    The task must be importable by name (defined at module level) and its arguments and
    result picklable; otherwise ``submit`` raises ``SerializationError``
    naming the task. Worker processes are started with ``spawn`` (safe with threads);
    each records its task runs in the same store.

    Example:
        ``@flow(task_runner=ProcessPoolTaskRunner(max_workers=4))``
    """

    def __init__(self, max_workers: int | None = None, mp_context: str = "spawn") -> None:
        self.max_workers = max_workers
        self.mp_context = mp_context
        self._executor: cf.ProcessPoolExecutor | None = None
        # Upstream futures are waited for, and arguments pickled, on a thread of this
        # process; only then is the call sent to a worker process.
        self._feeder = ThreadPoolTaskRunner(max_workers=32)
        self._lock = threading.Lock()

    def duplicate(self) -> ProcessPoolTaskRunner:
        return ProcessPoolTaskRunner(self.max_workers, self.mp_context)

    def _pool(self) -> cf.ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                import multiprocessing

                self._executor = cf.ProcessPoolExecutor(
                    self.max_workers or os.cpu_count() or 1,
                    mp_context=multiprocessing.get_context(self.mp_context),
                )
            return self._executor

    def submit_call(
        self, task: Task[Any, Any], task_run: TaskRun, call: Callable[[], State[Any]]
    ) -> cf.Future[State[Any]]:
        check_picklable(task, "the task function")
        from orch.engine.task_engine import run_in_process_parent

        return self._feeder.submit_call(
            task, task_run, lambda: run_in_process_parent(self._pool(), task, task_run)
        )

    def shutdown(self, wait: bool = True) -> None:
        self._feeder.shutdown(wait=wait)
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=wait)


_PLAIN = (int, float, str, bytes, bool, type(None))


def check_arguments_picklable(
    task: Task[Any, Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    dumps: Callable[[Any], bytes] | None = None,
) -> None:
    """Raise ``orch.errors.SerializationError`` naming the task and the first
    argument that ``dumps`` cannot pickle (plain numbers and strings are not tried)."""
    if all(type(v) in _PLAIN for v in args) and all(type(v) in _PLAIN for v in kwargs.values()):
        return
    from contextlib import suppress

    if dumps is None:
        import pickle

        dumps = pickle.dumps
    with suppress(Exception):  # on failure: which one? checked one by one below
        dumps((args, kwargs))
        return
    try:
        named = task._bind(args, kwargs)
    except TypeError:
        named = {**{f"#{i}": v for i, v in enumerate(args)}, **kwargs}
    for name, value in named.items():
        check_picklable(task, f"its arguments (argument {name!r})", value, dumps)
    check_picklable(task, "its arguments", (args, kwargs), dumps)


def check_picklable(
    task: Task[Any, Any],
    what: str,
    value: Any = None,
    dumps: Callable[[Any], bytes] | None = None,
) -> bytes:
    """Pickle ``value`` (the task itself by default) or raise an error naming the task."""
    target = task if value is None else value
    if dumps is None:
        import pickle  # here: a thread-pool flow never pickles, and pickle costs at start

        dumps = pickle.dumps
    try:
        return dumps(target)
    except Exception as exc:
        hint = (
            "define the task at module level (not inside a function or as a lambda)"
            if value is None
            else "pass values that pickle (no open connections, locks or lambdas)"
        )
        raise SerializationError(
            f"task {task.name!r}: {what} cannot be sent to a worker process "
            f"({type(exc).__name__}: {exc}); {hint}"
        ) from None
