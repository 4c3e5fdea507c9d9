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
import queue
import threading
import weakref
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


class _ThreadPool:
    """The threads of a ``ThreadPoolTaskRunner``: workers take ``(future, context, call)``
    items from one queue and settle each plain ``concurrent.futures.Future``.

    Why not ``concurrent.futures.ThreadPoolExecutor``: per submitted call it also makes a
    work item, takes two locks and a Python-level semaphore (to find an idle thread) and
    releases it again after the call; those were ~5 us of a ~20 us ``.submit``.
    Here one C lock guards an idle count. Threads start on demand up to ``max_workers``
    and are not daemons: as with the executor, the interpreter waits at exit for the
    calls they run (``_stop_at_exit``).
    """

    def __init__(self, max_workers: int, name: str) -> None:
        self._max = max_workers
        self._name = name
        self._queue: queue.SimpleQueue[tuple[cf.Future[Any], contextvars.Context, Any] | None]
        self._queue = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = 0  # threads waiting for work, less the items handed to them since
        self._lock = threading.Lock()
        self._closed = False
        _pools.add(self)

    def submit(self, ctx: contextvars.Context, call: Callable[[], Any]) -> cf.Future[Any]:
        if self._closed:
            raise RuntimeError("cannot submit a task run after the task runner shut down")
        future: cf.Future[Any] = cf.Future()
        self._queue.put((future, ctx, call))
        with self._lock:
            if self._idle:
                self._idle -= 1  # an idle thread will take it
                return future
            start = len(self._threads) < self._max
            if start:
                thread = threading.Thread(
                    target=self._work, name=f"{self._name}_{len(self._threads)}"
                )
                self._threads.append(thread)
        if start:
            thread.start()
        return future

    def _work(self) -> None:
        get = self._queue.get
        lock = self._lock
        while True:
            item = get()
            if item is None:
                return
            future, ctx, call = item
            del item
            if future.set_running_or_notify_cancel():
                try:
                    result = ctx.run(call)
                except BaseException as exc:
                    future.set_exception(exc)
                else:
                    future.set_result(result)
                    del result
            del future, ctx, call
            with lock:
                self._idle += 1

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        self._closed = True
        if cancel_futures:
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    item[0].cancel()
        with self._lock:
            threads = list(self._threads)
        for _ in threads:
            self._queue.put(None)  # after the queued calls: each thread ends when it is idle
        if wait:
            for thread in threads:
                if thread is not threading.current_thread():
                    thread.join()
        _pools.discard(self)


_pools: weakref.WeakSet[_ThreadPool] = weakref.WeakSet()


def _stop_at_exit() -> None:
    # Before the interpreter joins non-daemon threads: a pool never shut down (the default
    # runner of .submit() outside a flow) finishes its queued calls, then its threads end.
    for pool in list(_pools):
        pool.shutdown(wait=False)


_register_atexit = getattr(threading, "_register_atexit", None)  # what concurrent.futures uses
if _register_atexit is not None:
    _register_atexit(_stop_at_exit)
else:  # pragma: no cover - every CPython orch supports has it
    import atexit

    atexit.register(_stop_at_exit)


class ThreadPoolTaskRunner(TaskRunner):
    """Runs submitted tasks on threads of this process (the default).

    ``max_workers`` defaults to ``default_max_workers``.

    Example:
        ``@flow(task_runner=ThreadPoolTaskRunner(max_workers=4))``
    """

    def __init__(self, max_workers: int | None = None) -> None:
        self.max_workers = max_workers
        self._executor: _ThreadPool | None = None
        self._lock = threading.Lock()

    def duplicate(self) -> ThreadPoolTaskRunner:
        return ThreadPoolTaskRunner(self.max_workers)

    def _pool(self) -> _ThreadPool:
        executor = self._executor
        if executor is None:
            with self._lock:
                executor = self._executor
                if executor is None:
                    executor = self._executor = _ThreadPool(
                        self.max_workers or default_max_workers(), "orch-task"
                    )
        return executor

    def submit_call(
        self, task: Task[Any, Any], task_run: TaskRun, call: Callable[[], State[Any]]
    ) -> cf.Future[State[Any]]:
        # The worker runs in a copy of the caller's context: it sees the flow run.
        return self._pool().submit(contextvars.copy_context(), call)

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
