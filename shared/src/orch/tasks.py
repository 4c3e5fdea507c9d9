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

import concurrent.futures as cf
import contextvars
import functools
import hashlib
import inspect
import json
import pickle
import random
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, overload

from orch import history
from orch.engine.context import (
    FlowRunContext,
    TaskRun,
    TaskRunContext,
    flow_run_ctx,
    task_run_ctx,
)
from orch.errors import OrchError, SerializationError
from orch.futures import FutureList, OrchFuture, has_futures, resolve_futures, unmapped
from orch.states import CACHED, COMPLETED, CRASHED, FAILED, RETRYING, RUNNING, State

if TYPE_CHECKING:
    from orch.engine.task_runners import TaskRunner

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
    """A function wrapped by :func:`task`. See :func:`task` for the options.

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
            self.retries
            or timeout_seconds
            or cache_key_fn
            or concurrency_limit
            or self.is_async
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
            "cache_key_fn": cache_key_fn,
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
        if self.is_async:

            def call() -> State[Any]:
                import asyncio

                return asyncio.run(run_task_async(self, run, flow_ctx, wait_for))

        else:

            def call() -> State[Any]:
                return run_task_sync(self, run, flow_ctx, wait_for)

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
        for i in range(count):
            call_args = tuple(
                mapped[j][i] if j in mapped else static[j] for j in range(n_pos)
            )
            call_kwargs = {
                k: (mapped[k][i] if k in mapped else static[k]) for k in kwargs
            }
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

    def _render_name(self, run: TaskRun) -> str:
        template = self.task_run_name
        try:
            if callable(template):
                try:
                    nparams = len(inspect.signature(template).parameters)
                except (TypeError, ValueError):
                    nparams = 0
                return str(template(run.parameters) if nparams else template())
            assert template is not None
            return template.format(**run.parameters)
        except Exception as exc:
            raise ValueError(
                f"task {self.name!r}: task_run_name {template!r} could not be rendered: "
                f"{type(exc).__name__}: {exc}"
            ) from None

    def _retry_delay(self, attempt: int) -> float:
        spec = self.retry_delay_seconds
        value: Any
        if spec is None:
            value = 0.0
        elif callable(spec):
            value = spec(attempt)
        else:
            value = spec
        if isinstance(value, Sequence) and not isinstance(value, str):
            value = value[min(attempt - 1, len(value) - 1)] if value else 0.0
        delay = max(0.0, float(value))
        if self.retry_jitter_factor:
            factor = self.retry_jitter_factor
            delay *= random.uniform(max(0.0, 1 - factor), 1 + factor)
        return delay

    def _should_retry(self, exc: BaseException, run: TaskRun, state: State[Any]) -> bool:
        if run.attempt > self.retries:
            return False
        if self.retry_on is not None and not isinstance(exc, self.retry_on):
            return False
        if self.retry_condition_fn is not None:
            try:
                return bool(self.retry_condition_fn(self, run, state))
            except Exception as hook_exc:
                _log_problem(run, f"retry_condition_fn raised {type(hook_exc).__name__}")
                return False
        return True

    def __reduce__(self) -> tuple[Any, ...]:
        # Sent to worker processes by name: the function itself pickles by reference too.
        module, qualname = self.__module__, getattr(self, "__qualname__", self.name)
        try:
            found = _load_task(module, qualname)
        except Exception:
            found = None
        if found is not self:
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
    ``cache_key_fn(context, parameters)``, ``cache_expiration``, ``refresh_cache``,
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


# --- the engine ------------------------------------------------------------------------
_default_runner_obj: TaskRunner | None = None
_default_lock = threading.Lock()


def _default_runner() -> TaskRunner:
    """The runner of ``.submit()`` called outside a flow (one per process)."""
    global _default_runner_obj
    if _default_runner_obj is None:
        with _default_lock:
            if _default_runner_obj is None:
                from orch.engine.task_runners import ThreadPoolTaskRunner

                _default_runner_obj = ThreadPoolTaskRunner()
    return _default_runner_obj


def _log_problem(run: TaskRun, message: str, level: int = 30) -> None:
    from orch.engine.run_logging import task_logger

    task_logger(run).log(level, message)


def _error_text(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _prepare(
    task: Task[Any, Any], run: TaskRun, wait_for: Iterable[OrchFuture[Any]] | None
) -> BaseException | None:
    """Wait for upstream runs and render the run name; returns the error that stops the run."""
    try:
        if wait_for:
            for upstream in wait_for:
                upstream.result()
        if has_futures(run.args, run.kwargs):
            run.args = resolve_futures(run.args)
            run.kwargs = resolve_futures(run.kwargs)
        if task.task_run_name is not None:
            run._name = task._render_name(run)
    except Exception as exc:
        return exc
    return None


def _finish(task: Task[Any, Any], run: TaskRun, state: State[Any]) -> State[Any]:
    run.end_time = time.time()
    run.state_name = state.name
    if state.name == FAILED:
        exc = state.exception
        run.error = _error_text(exc) if exc is not None else (state.message or "failed")
        _log_problem(run, f"Finished in state Failed: {run.error}", 40)
    history.record_task(run)
    if task._has_hooks:
        hooks = task.on_failure_hooks if state.name == FAILED else task.on_completion_hooks
        for hook in hooks:
            try:
                hook(task, run, state)
            except Exception as exc:
                _log_problem(run, f"hook {getattr(hook, '__name__', hook)!r} raised {exc!r}")
    return state


def _cache_lookup(task: Task[Any, Any], run: TaskRun, ctx: TaskRunContext) -> State[Any] | None:
    assert task.cache_key_fn is not None
    try:
        key = task.cache_key_fn(ctx, run.parameters)
    except Exception as exc:
        _log_problem(run, f"cache_key_fn raised {type(exc).__name__}: {exc}; not cached")
        return None
    if key is None:
        return None
    run.cache_key = str(key)
    if task.refresh_cache:
        return None
    from orch.engine import cache

    hit, value = cache.lookup(run.cache_key)
    return State(CACHED, result=value) if hit else None


def _cache_save(task: Task[Any, Any], run: TaskRun, value: Any) -> State[Any]:
    from orch.engine import cache

    try:
        cache.save(task, run.cache_key or "", value, task.cache_expiration)
    except SerializationError as exc:
        return State(FAILED, exception=exc)
    return State(COMPLETED, result=value)


def _retry_message(task: Task[Any, Any], run: TaskRun, exc: BaseException, delay: float) -> None:
    _log_problem(
        run,
        f"attempt {run.attempt} failed with {_error_text(exc)}; "
        f"retry {run.attempt}/{task.retries} in {delay:.3g} s",
    )


def call_with_timeout(
    fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any], seconds: float, what: str
) -> T:
    """Run ``fn`` on a helper thread and raise :class:`TimeoutError` if it overruns.

    The overrunning call is abandoned (Python cannot kill a thread); an exception is
    injected into it so that pure-Python code stops at its next bytecode.
    """
    box: list[Any] = []
    done = threading.Event()
    ctx = contextvars.copy_context()

    def target() -> None:
        try:
            box.append((True, ctx.run(fn, *args, **kwargs)))
        except BaseException as exc:
            box.append((False, exc))
        finally:
            done.set()

    thread = threading.Thread(target=target, daemon=True, name=f"orch-timeout-{what}")
    thread.start()
    if not done.wait(seconds):
        _interrupt(thread)
        raise TimeoutError(f"{what} timed out after {seconds:g} s")
    ok, value = box[0]
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]


def _interrupt(thread: threading.Thread) -> None:
    import ctypes

    if thread.ident is not None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(thread.ident), ctypes.py_object(TimeoutError)
        )


def run_task_sync(
    task: Task[Any, Any],
    run: TaskRun,
    flow_ctx: FlowRunContext | None,
    wait_for: Iterable[OrchFuture[Any]] | None = None,
    log_prints: bool | None = None,
) -> State[Any]:
    """Run one task call to its final state (retries, cache, limit, history, hooks)."""
    if wait_for or task.task_run_name is not None or has_futures(run.args, run.kwargs):
        problem = _prepare(task, run, wait_for)
        if problem is not None:
            run.start_time = time.time()
            return _finish(task, run, State(FAILED, exception=problem))
    if log_prints is None:
        log_prints = task.log_prints
        if log_prints is None:
            log_prints = flow_ctx.log_prints if flow_ctx is not None else False
    if log_prints:
        from orch.engine.run_logging import capture_prints

        capture_prints()
    ctx = TaskRunContext(task, run, flow_ctx, log_prints)
    token = task_run_ctx.set(ctx)
    run.start_time = time.time()
    run.state_name = RUNNING
    # Queued as started (one append; written only if a batch is flushed mid-run), so a run
    # cut short by its process dying is on record and shown Crashed with its flow run.
    history.record_task(run)
    try:
        if task._plain:
            run.attempt = 1
            try:
                state: State[Any] = State(COMPLETED, result=task.fn(*run.args, **run.kwargs))
            except Exception as exc:
                state = State(FAILED, exception=exc)
        else:
            state = _run_options_sync(task, run, ctx)
    except BaseException as exc:
        # KeyboardInterrupt / SystemExit: the run did not fail, it was cut short.
        run.error = _error_text(exc)
        _finish(task, run, State(CRASHED, exception=exc))
        raise
    finally:
        task_run_ctx.reset(token)
    return _finish(task, run, state)


def _run_options_sync(task: Task[Any, Any], run: TaskRun, ctx: TaskRunContext) -> State[Any]:
    if task.cache_key_fn is not None:
        cached = _cache_lookup(task, run, ctx)
        if cached is not None:
            return cached
    lease = None
    if task.concurrency_limit is not None:
        from orch.engine.limits import acquire

        lease = acquire(f"task:{task.name}", task.concurrency_limit)
    try:
        while True:
            run.attempt += 1
            try:
                if task.timeout_seconds:
                    result = call_with_timeout(
                        task.fn, run.args, run.kwargs, task.timeout_seconds, f"task {run.name!r}"
                    )
                else:
                    result = task.fn(*run.args, **run.kwargs)
            except Exception as exc:
                state: State[Any] = State(FAILED, exception=exc)
                if task._should_retry(exc, run, state):
                    delay = task._retry_delay(run.attempt)
                    _retry_message(task, run, exc, delay)
                    run.state_name = RETRYING
                    if delay:
                        time.sleep(delay)
                    run.state_name = RUNNING
                    continue
                return state
            if run.cache_key is not None:
                return _cache_save(task, run, result)
            return State(COMPLETED, result=result)
    finally:
        if lease is not None:
            lease.release()


async def run_task_async(
    task: Task[Any, Any],
    run: TaskRun,
    flow_ctx: FlowRunContext | None,
    wait_for: Iterable[OrchFuture[Any]] | None = None,
) -> State[Any]:
    """The async twin of :func:`run_task_sync`, for ``async def`` tasks."""
    import asyncio  # here: asyncio costs ~30 ms to import, and sync flows never need it

    if wait_for or task.task_run_name is not None or has_futures(run.args, run.kwargs):
        if wait_for or has_futures(run.args, run.kwargs):
            problem = await asyncio.to_thread(_prepare, task, run, wait_for)
        else:
            problem = _prepare(task, run, wait_for)
        if problem is not None:
            run.start_time = time.time()
            return _finish(task, run, State(FAILED, exception=problem))
    log_prints = task.log_prints
    if log_prints is None:
        log_prints = flow_ctx.log_prints if flow_ctx is not None else False
    if log_prints:
        from orch.engine.run_logging import capture_prints

        capture_prints()
    ctx = TaskRunContext(task, run, flow_ctx, log_prints)
    token = task_run_ctx.set(ctx)
    run.start_time = time.time()
    run.state_name = RUNNING
    history.record_task(run)  # as started: see run_task_sync
    lease = None
    try:
        state: State[Any] | None = None
        if task.cache_key_fn is not None:
            state = _cache_lookup(task, run, ctx)
        if state is None:
            if task.concurrency_limit is not None:
                from orch.engine.limits import acquire

                lease = await asyncio.to_thread(
                    acquire, f"task:{task.name}", task.concurrency_limit
                )
            while True:
                run.attempt += 1
                try:
                    if task.timeout_seconds:
                        try:
                            result = await asyncio.wait_for(
                                task.fn(*run.args, **run.kwargs), task.timeout_seconds
                            )
                        except TimeoutError:
                            raise TimeoutError(
                                f"task {run.name!r} timed out after {task.timeout_seconds:g} s"
                            ) from None
                    else:
                        result = await task.fn(*run.args, **run.kwargs)
                except Exception as exc:
                    state = State(FAILED, exception=exc)
                    if task._should_retry(exc, run, state):
                        delay = task._retry_delay(run.attempt)
                        _retry_message(task, run, exc, delay)
                        run.state_name = RETRYING
                        await asyncio.sleep(delay)
                        run.state_name = RUNNING
                        continue
                    break
                state = (
                    _cache_save(task, run, result)
                    if run.cache_key is not None
                    else State(COMPLETED, result=result)
                )
                break
    except BaseException as exc:
        run.error = _error_text(exc)
        _finish(task, run, State(CRASHED, exception=exc))
        raise
    finally:
        if lease is not None:
            lease.release()
        task_run_ctx.reset(token)
    return _finish(task, run, state)


async def _await_state(coro: Coroutine[Any, Any, State[Any]], return_state: bool) -> Any:
    state = await coro
    return state if return_state else state.result()


# --- process pool support ---------------------------------------------------------------
def run_in_process_parent(
    pool: cf.ProcessPoolExecutor, task: Task[Any, Any], run: TaskRun
) -> State[Any]:
    """On a feeder thread of the parent: resolve upstream futures, send the call to a worker
    process, and turn its answer into a state (the worker records the run)."""
    from orch.engine.task_runners import check_picklable
    from orch.secrets.redaction import remember, revealed

    problem = _prepare(task, run, None)
    if problem is not None:
        return State(FAILED, exception=problem)
    check_picklable(task, "its arguments", (run.args, run.kwargs))
    flow_ctx = flow_run_ctx.get()
    log_prints = task.log_prints
    if log_prints is None:
        log_prints = flow_ctx.log_prints if flow_ctx is not None else False
    run.state_name = RUNNING
    # The worker is sent the secrets revealed here so far (also those revealed after it
    # started), so that its log lines and errors are masked like the parent's.
    sent = revealed()
    future = pool.submit(
        _process_entry, task, run.args, run.kwargs, run.flow_run_id, run.id, log_prints, sent
    )
    try:
        name, value, exc, attempts, learned = future.result()
    except Exception as err:
        if isinstance(err, pickle.PicklingError | TypeError | AttributeError):
            err = SerializationError(
                f"task {task.name!r}: its result cannot be sent back from the worker "
                f"process ({type(err).__name__}: {err})"
            )
        run.state_name = CRASHED if "terminated abruptly" in str(err) else FAILED
        if run.state_name == CRASHED:
            # The worker died before recording its run's end: the parent records it.
            run.start_time = run.start_time or time.time()
            run.end_time = time.time()
            run.error = _error_text(err)
            history.record_task(run)
        return State(run.state_name, exception=err)
    if learned:
        remember(learned)  # secrets the task revealed in the worker: masked here too
    run.attempt = attempts
    run.state_name = name
    return State(name, result=value, exception=exc)


def _process_entry(
    task: Task[Any, Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    flow_run_id: str | None,
    run_id: str,
    log_prints: bool,
    sent: tuple[str, ...] = (),
) -> tuple[str, Any, BaseException | None, int, tuple[str, ...]]:
    """In a worker process: run the task, and return its outcome with the secrets it
    revealed that the parent did not send (so the parent masks them too)."""
    from orch.secrets.redaction import remember, revealed

    if sent:
        remember(sent)
    run = TaskRun(task, flow_run_id, args, kwargs)
    run.id = run_id
    state = run_task_sync(task, run, None, None, log_prints)
    history.flush()
    exc = state.exception
    if exc is not None:
        try:
            pickle.dumps(exc)
        except Exception:
            exc = OrchError(_error_text(exc))
    learned = revealed()
    if learned and sent:
        known = set(sent)
        learned = tuple(v for v in learned if v not in known)
    return state.name, state._result, exc, run.attempt, learned
