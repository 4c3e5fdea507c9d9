"""``@task``: a function the runtime runs with retries, caching, timeouts, limits and history.

Calling a task runs it and returns its value (raising its exception once its retries are
spent); ``.submit()`` returns a future; ``.map()`` fans out; ``.fn`` is the plain function.

Example:
    >>> from orch import flow, task
    >>> @task(retries=2, retry_delay_seconds=0)
    ... def add(x: int, y: int) -> int:
    ...     return x + y
    >>> @flow
    ... def f() -> list[int]:
    ...     return add.map([1, 2, 3], 10).result()
    >>> f()
    [11, 12, 13]
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Coroutine, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, overload

from orch.engine.context import (
    FlowRunContext,
    TaskRun,
    TaskRunContext,
    flow_run_ctx,
    task_run_ctx,
)
from orch.engine.task_engine import _await_state, _default_runner, run_task_async, run_task_sync
from orch.futures import FutureList, OrchFuture, unmapped
from orch.states import State

if TYPE_CHECKING:
    from datetime import timedelta

    from orch.cache_policies import CachePolicy
    from orch.engine.task_runners import TaskRunner

# hashlib, json, pickle and orch.cache_policies are imported where they are used: a
# script that only defines and runs tasks does not pay for them at start-up.

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

RetryDelay = float | int | Sequence[float | int] | Callable[[int], Any] | None
Hook = Callable[["Task[Any, Any]", TaskRun, State[Any]], Any]
CacheKeyFn = Callable[[TaskRunContext, dict[str, Any]], str | None]

__all__ = [
    "Task",
    "exponential_backoff",
    "task",
    "task_input_hash",
]


def task_input_hash(context: TaskRunContext, arguments: dict[str, Any]) -> str | None:
    """A cache key from the task's identity, its code and its arguments.

    Arguments are hashed as JSON when they are JSON data, else as a pickle; when neither
    works the call is not cached (returns None).

    Example:
        >>> from datetime import timedelta
        >>> from orch import task
        >>> @task(cache_key_fn=task_input_hash, cache_expiration=timedelta(hours=1))
        ... def expensive(x: int) -> int:
        ...     return x * x
    """
    import hashlib
    import json
    import pickle

    task_obj = context.task
    digest = hashlib.sha256()
    digest.update(task_obj.task_key.encode())
    digest.update(task_obj.fn.__code__.co_code)
    try:
        digest.update(json.dumps(arguments, sort_keys=True).encode())
    except (TypeError, ValueError):
        try:
            digest.update(pickle.dumps(arguments))
        except Exception:
            return None
    return digest.hexdigest()


class exponential_backoff:
    """Delays ``factor * 2**(attempt-1)`` seconds: ``@task(retries=3,
    retry_delay_seconds=exponential_backoff(backoff_factor=1))`` waits 1, 2, 4 s.

    Example:
        >>> exponential_backoff(backoff_factor=2)(3)
        8.0
    """

    def __init__(self, backoff_factor: float) -> None:
        self.backoff_factor = float(backoff_factor)

    def __call__(self, attempt: int) -> float:
        return float(self.backoff_factor * 2 ** (attempt - 1))


def _load_task(module: str, qualname: str) -> Task[Any, Any]:
    import importlib

    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj  # type: ignore[no-any-return]


class Task(Generic[P, R]):
    """A function wrapped by ``task``. See ``task`` for the options.

    Example:
        >>> @task
        ... def hello(name: str) -> str:
        ...     return f"hello {name}"
        >>> hello("world"), hello.fn("plain")
        ('hello world', 'hello plain')
    """

    def __init__(
        self,
        fn: Callable[P, R],
        *,
        name: str | None = None,
        description: str | None = None,
        retries: int = 0,
        retry_delay_seconds: RetryDelay = None,
        retry_jitter_factor: float | None = None,
        retry_on: type[BaseException] | tuple[type[BaseException], ...] | None = None,
        retry_condition_fn: Callable[[Task[Any, Any], TaskRun, State[Any]], bool] | None = None,
        timeout_seconds: float | None = None,
        cache_key_fn: CacheKeyFn | None = None,
        cache_expiration: timedelta | None = None,
        refresh_cache: bool = False,
        cache_policy: CachePolicy | None = None,
        task_run_name: str | Callable[..., str] | None = None,
        tags: Iterable[str] | None = None,
        concurrency_limit: int | None = None,
        log_prints: bool | None = None,
        on_completion: Sequence[Hook] | None = None,
        on_failure: Sequence[Hook] | None = None,
    ) -> None:
        if not callable(fn):
            raise TypeError(f"@task needs a function, got {type(fn).__name__}")
        self.fn = fn
        self.name: str = name or str(getattr(fn, "__name__", "task"))
        self.description: str | None = description or inspect.getdoc(fn)
        self.task_key = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', self.name)}"
        if retries < 0:
            raise ValueError(f"task {self.name!r}: retries must be >= 0, got {retries}")
        self.retries = int(retries)
        self.retry_delay_seconds = retry_delay_seconds
        if retry_jitter_factor is not None and retry_jitter_factor < 0:
            raise ValueError(f"task {self.name!r}: retry_jitter_factor must be >= 0")
        self.retry_jitter_factor = retry_jitter_factor
        if isinstance(retry_on, type):
            retry_on = (retry_on,)
        self.retry_on = retry_on
        self.retry_condition_fn = retry_condition_fn
        if timeout_seconds is not None and timeout_seconds <= 0:
            raise ValueError(f"task {self.name!r}: timeout_seconds must be > 0")
        self.timeout_seconds = timeout_seconds
        if cache_policy is not None:
            from orch.cache_policies import _NoCache

            if cache_key_fn is not None:
                raise ValueError(
                    f"task {self.name!r}: give cache_policy or cache_key_fn, not both "
                    "(a policy is a cache_key_fn)"
                )
            # NONE means no caching; any other policy computes the key
            cache_key_fn = None if isinstance(cache_policy, _NoCache) else cache_policy
        self.cache_policy = cache_policy
        self.cache_key_fn = cache_key_fn
        self.cache_expiration = cache_expiration
        self.refresh_cache = refresh_cache
        self.task_run_name = task_run_name
        self.tags = tuple(tags or ())
        if concurrency_limit is not None and concurrency_limit < 1:
            raise ValueError(f"task {self.name!r}: concurrency_limit must be >= 1")
        self.concurrency_limit = concurrency_limit
        self.log_prints = log_prints
        self.on_completion_hooks = list(on_completion or ())
        self.on_failure_hooks = list(on_failure or ())
        self.is_async = inspect.iscoroutinefunction(fn)
        self._signature: inspect.Signature | None = None
        # The common case (no option that needs work around the call) takes a short path.
        self._plain = not (
            self.retries or timeout_seconds or cache_key_fn or concurrency_limit or self.is_async
        )
        self._has_hooks = bool(self.on_completion_hooks or self.on_failure_hooks)
        self._options = {
            "name": name,
            "description": description,
            "retries": retries,
            "retry_delay_seconds": retry_delay_seconds,
            "retry_jitter_factor": retry_jitter_factor,
            "retry_on": retry_on,
            "retry_condition_fn": retry_condition_fn,
            "timeout_seconds": timeout_seconds,
            "cache_key_fn": None if cache_policy is not None else cache_key_fn,
            "cache_policy": cache_policy,
            "cache_expiration": cache_expiration,
            "refresh_cache": refresh_cache,
            "task_run_name": task_run_name,
            "tags": tags,
            "concurrency_limit": concurrency_limit,
            "log_prints": log_prints,
            "on_completion": on_completion,
            "on_failure": on_failure,
        }
        # __name__, __doc__, __module__, __wrapped__… of the function (missing ones skipped).
        functools.update_wrapper(self, fn, updated=())

    # --- options -----------------------------------------------------------------------
    def with_options(self, **options: Any) -> Task[P, R]:
        """A copy of this task with some options changed.

        Example:
            ``fetch.with_options(retries=5, name="fetch-eu")``
        """
        unknown = set(options) - set(self._options)
        if unknown:
            raise TypeError(f"task {self.name!r}: unknown option(s) {sorted(unknown)}")
        return Task(self.fn, **{**self._options, **options})

    def on_completion(self, fn: Hook) -> Hook:
        """Add a completion hook ``fn(task, task_run, state)`` (usable as a decorator)."""
        self.on_completion_hooks.append(fn)
        self._has_hooks = True
        return fn

    def on_failure(self, fn: Hook) -> Hook:
        """Add a failure hook ``fn(task, task_run, state)`` (usable as a decorator)."""
        self.on_failure_hooks.append(fn)
        self._has_hooks = True
        return fn

    # --- calling -----------------------------------------------------------------------
    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run the task now and return its value (``return_state=True``: its state)."""
        return_state = False
        wait_for: Any = None
        if kwargs and ("return_state" in kwargs or "wait_for" in kwargs):
            return_state = bool(kwargs.pop("return_state", False))
            wait_for = kwargs.pop("wait_for", None)
        flow_ctx = flow_run_ctx.get()
        parent = task_run_ctx.get()
        flow_run_id = (
            flow_ctx.flow_run.id
            if flow_ctx is not None
            else (parent.task_run.flow_run_id if parent is not None else None)
        )
        run = TaskRun(self, flow_run_id, args, kwargs)
        if self.is_async:
            return _await_state(  # type: ignore[return-value]
                run_task_async(self, run, flow_ctx, wait_for), return_state
            )
        state = run_task_sync(self, run, flow_ctx, wait_for)
        if return_state:
            return state  # type: ignore[return-value]
        return state.result()  # type: ignore[no-any-return]

    @overload
    def submit(
        self: Task[P, Coroutine[Any, Any, T]], *args: P.args, **kwargs: P.kwargs
    ) -> OrchFuture[T]: ...

    @overload
    def submit(self: Task[P, T], *args: P.args, **kwargs: P.kwargs) -> OrchFuture[T]: ...

    def submit(self, *args: Any, **kwargs: Any) -> OrchFuture[Any]:
        """Start the task on the flow's task runner and return a future at once.

        Futures among the arguments are waited for first; ``wait_for=[futures]`` waits for
        runs whose values are not arguments.

        Example:
            ``futures = [process.submit(u) for u in urls]; [f.result() for f in futures]``
        """
        wait_for = kwargs.pop("wait_for", None) if kwargs else None
        flow_ctx = flow_run_ctx.get()
        runner = flow_ctx.task_runner if flow_ctx is not None else _default_runner()
        return self._submit(runner, flow_ctx, args, kwargs, wait_for)

    def _submit(
        self,
        runner: TaskRunner,
        flow_ctx: FlowRunContext | None,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        wait_for: Iterable[OrchFuture[Any]] | None,
    ) -> OrchFuture[Any]:
        flow_run_id = flow_ctx.flow_run.id if flow_ctx is not None else None
        run = TaskRun(self, flow_run_id, args, kwargs)
        if wait_for:
            run.wait_for = wait_for
        if self.is_async:

            def call() -> State[Any]:
                import asyncio

                return asyncio.run(run_task_async(self, run, flow_ctx, wait_for))

        else:
            # a partial (made and called in C) rather than a closure: one frame less a run
            call = functools.partial(run_task_sync, self, run, flow_ctx, wait_for)

        return OrchFuture(runner.submit_call(self, run, call), run)

    def map(self, *args: Any, **kwargs: Any) -> FutureList[Any]:
        """Submit one run per item: iterables are zipped, ``unmapped(x)`` and non-iterables
        (strings, dicts, futures) are passed to every run as they are.

        Example:
            >>> @task
            ... def add(x: int, y: int) -> int:
            ...     return x + y
            >>> add.map([1, 2], unmapped(10)).result()
            [11, 12]
        """
        wait_for = kwargs.pop("wait_for", None) if kwargs else None
        flow_ctx = flow_run_ctx.get()
        runner = flow_ctx.task_runner if flow_ctx is not None else _default_runner()
        mapped: dict[int | str, list[Any]] = {}
        static: dict[int | str, Any] = {}
        items: list[tuple[int | str, Any]] = [*enumerate(args), *kwargs.items()]
        for key, value in items:
            if isinstance(value, unmapped):
                static[key] = value.value
            elif isinstance(value, str | bytes | dict | OrchFuture) or not isinstance(
                value, Iterable
            ):
                static[key] = value
            else:
                mapped[key] = list(value)
        if not mapped:
            raise ValueError(
                f"task {self.name!r}: .map() needs at least one iterable argument "
                "(wrap constants in unmapped(...))"
            )
        lengths = {k: len(v) for k, v in mapped.items()}
        if len(set(lengths.values())) > 1:
            detail = ", ".join(f"{k}: {n}" for k, n in lengths.items())
            raise ValueError(
                f"task {self.name!r}: .map() got iterables of different lengths ({detail})"
            )
        count = next(iter(lengths.values()))
        n_pos = len(args)
        futures: FutureList[Any] = FutureList()
        submit = self._submit
        if n_pos == 1 and not kwargs and 0 in mapped:
            # The common .map(items): no per-item rebuilding of arguments.
            futures.extend([submit(runner, flow_ctx, (v,), {}, wait_for) for v in mapped[0]])
            return futures
        for i in range(count):
            call_args = tuple(mapped[j][i] if j in mapped else static[j] for j in range(n_pos))
            call_kwargs = {k: (mapped[k][i] if k in mapped else static[k]) for k in kwargs}
            futures.append(self._submit(runner, flow_ctx, call_args, call_kwargs, wait_for))
        return futures

    # --- helpers -----------------------------------------------------------------------
    def _bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        sig = self._signature
        if sig is None:
            sig = self._signature = inspect.signature(self.fn)
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"task {self.name!r}: {exc}") from None
        bound.apply_defaults()
        return dict(bound.arguments)

    def __reduce__(self) -> tuple[Any, ...]:
        # Sent to worker processes by name: the function itself pickles by reference too.
        module, qualname = self.__module__, getattr(self, "__qualname__", self.name)
        try:
            found = _load_task(module, qualname)
        except Exception:
            found = None
        if found is not self:
            import pickle

            raise pickle.PicklingError(
                f"task {self.name!r} is not importable as {module}.{qualname}"
            )
        return (_load_task, (module, qualname))

    def __repr__(self) -> str:
        return f"Task(name={self.name!r})"


# --- the decorator ---------------------------------------------------------------------
@overload
def task(__fn: Callable[P, R]) -> Task[P, R]: ...


@overload
def task(
    *,
    name: str | None = None,
    description: str | None = None,
    retries: int = 0,
    retry_delay_seconds: RetryDelay = None,
    retry_jitter_factor: float | None = None,
    retry_on: type[BaseException] | tuple[type[BaseException], ...] | None = None,
    retry_condition_fn: Callable[[Task[Any, Any], TaskRun, State[Any]], bool] | None = None,
    timeout_seconds: float | None = None,
    cache_key_fn: CacheKeyFn | None = None,
    cache_expiration: timedelta | None = None,
    refresh_cache: bool = False,
    cache_policy: CachePolicy | None = None,
    task_run_name: str | Callable[..., str] | None = None,
    tags: Iterable[str] | None = None,
    concurrency_limit: int | None = None,
    log_prints: bool | None = None,
    on_completion: Sequence[Hook] | None = None,
    on_failure: Sequence[Hook] | None = None,
) -> Callable[[Callable[P, R]], Task[P, R]]: ...


def task(__fn: Callable[P, R] | None = None, **options: Any) -> Any:
    """Make a function a task: ``@task`` or ``@task(option=...)``.

    Options: ``name``, ``retries``, ``retry_delay_seconds`` (seconds, a list per retry, or
    a callable of the attempt number), ``retry_jitter_factor``, ``retry_on`` (exception
    types), ``retry_condition_fn(task, task_run, state)``, ``timeout_seconds``,
    ``cache_key_fn(context, parameters)`` or ``cache_policy`` (Prefect's, from
    ``orch.cache_policies``), ``cache_expiration``, ``refresh_cache``,
    ``task_run_name`` (``str.format`` template over the arguments, or a callable),
    ``tags``, ``concurrency_limit`` (runs at once, across processes sharing the store),
    ``log_prints``, ``on_completion`` / ``on_failure`` (hooks ``fn(task, task_run, state)``).

    Example:
        >>> @task(retries=3, retry_delay_seconds=[1, 5, 30], task_run_name="fetch-{url}")
        ... def fetch(url: str) -> bytes:
        ...     ...
    """
    if __fn is not None:
        return Task(__fn, **options)

    def decorate(fn: Callable[P, R]) -> Task[P, R]:
        return Task(fn, **options)

    return decorate
