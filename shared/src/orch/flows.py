"""``@flow``: a function whose run, and the task runs inside it, are tracked as one unit.

Example:
    >>> from orch import flow, task
    >>> @task
    ... def square(x: int) -> int:
    ...     return x * x
    >>> @flow(name="squares", flow_run_name="squares-{n}")
    ... def squares(n: int) -> list[int]:
    ...     return [f.result() for f in [square.submit(i) for i in range(n)]]
    >>> squares(4)
    [0, 1, 4, 9]
"""

from __future__ import annotations

import functools
import inspect
import random
import sys
import time
from collections.abc import Callable, Coroutine, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Generic, NoReturn, ParamSpec, TypeVar, overload

from orch import history
from orch.engine.context import (
    FlowRun,
    FlowRunContext,
    flow_run_ctx,
    new_id,
    run_flow_end_callbacks,
    task_run_ctx,
)
from orch.engine.runs import call_with_timeout, render_run_name, resolve_log_prints, retry_delay
from orch.engine.task_runners import TaskRunner, ThreadPoolTaskRunner
from orch.errors import NotInOrchError, ParameterValidationError, TerminationSignal
from orch.futures import OrchFuture, resolve_futures
from orch.states import COMPLETED, CRASHED, FAILED, RETRYING, RUNNING, State

if TYPE_CHECKING:
    from orch.deployments.model import Deployment

P = ParamSpec("P")
R = TypeVar("R")

FlowHook = Callable[["Flow[Any, Any]", FlowRun, State[Any]], Any]

__all__ = ["Flow", "flow"]

_ADJECTIVES = (
    "amber", "bold", "brisk", "calm", "clever", "crimson", "eager", "gentle", "golden",
    "jolly", "keen", "lively", "lucky", "mellow", "nimble", "quiet", "rapid", "silver",
    "steady", "sunny", "swift", "tidy", "vivid", "witty",
)
_ANIMALS = (
    "badger", "beaver", "bison", "crane", "falcon", "ferret", "finch", "fox", "gecko",
    "heron", "ibis", "koala", "lemur", "lynx", "marten", "otter", "owl", "panda", "puffin",
    "raven", "seal", "stoat", "tapir", "wren",
)


def _random_name() -> str:
    return f"{random.choice(_ADJECTIVES)}-{random.choice(_ANIMALS)}"


class Flow(Generic[P, R]):
    """A function wrapped by ``flow``; see ``flow`` for the options.

    Example:
        >>> @flow
        ... def hello(name: str = "world") -> str:
        ...     return f"hello {name}"
        >>> hello(), hello.fn("plain")
        ('hello world', 'hello plain')
    """

    def __init__(
        self,
        fn: Callable[P, R],
        *,
        name: str | None = None,
        description: str | None = None,
        version: str | None = None,
        flow_run_name: str | Callable[..., str] | None = None,
        retries: int = 0,
        retry_delay_seconds: float | Sequence[float] = 0,
        timeout_seconds: float | None = None,
        task_runner: TaskRunner | None = None,
        validate_parameters: bool = True,
        log_prints: bool | None = None,
        tags: Iterable[str] | None = None,
        on_completion: Sequence[FlowHook] | None = None,
        on_failure: Sequence[FlowHook] | None = None,
        on_crashed: Sequence[FlowHook] | None = None,
        on_running: Sequence[FlowHook] | None = None,
    ) -> None:
        if not callable(fn):
            raise TypeError(f"@flow needs a function, got {type(fn).__name__}")
        self.fn = fn
        self.name: str = name or getattr(fn, "__name__", "flow").replace("_", "-")
        self.description = description or inspect.getdoc(fn)
        self.version = version
        self.flow_run_name = flow_run_name
        if retries < 0:
            raise ValueError(f"flow {self.name!r}: retries must be >= 0, got {retries}")
        self.retries = int(retries)
        self.retry_delay_seconds = retry_delay_seconds
        if timeout_seconds is not None and timeout_seconds <= 0:
            raise ValueError(f"flow {self.name!r}: timeout_seconds must be > 0")
        self.timeout_seconds = timeout_seconds
        self.task_runner: TaskRunner = task_runner or ThreadPoolTaskRunner()
        self.should_validate_parameters = validate_parameters
        self.log_prints = log_prints
        self.tags = tuple(tags or ())
        self.on_completion_hooks = list(on_completion or ())
        self.on_failure_hooks = list(on_failure or ())
        self.on_crashed_hooks = list(on_crashed or ())
        self.on_running_hooks = list(on_running or ())
        self.is_async = inspect.iscoroutinefunction(fn)
        self._signature = inspect.signature(fn)
        self._adapters: dict[str, Any] | None = None
        self._options = {
            "name": name,
            "description": description,
            "version": version,
            "flow_run_name": flow_run_name,
            "retries": retries,
            "retry_delay_seconds": retry_delay_seconds,
            "timeout_seconds": timeout_seconds,
            "task_runner": task_runner,
            "validate_parameters": validate_parameters,
            "log_prints": log_prints,
            "tags": tags,
            "on_completion": on_completion,
            "on_failure": on_failure,
            "on_crashed": on_crashed,
            "on_running": on_running,
        }
        # __name__, __doc__, __module__, __wrapped__… of the function (missing ones skipped).
        functools.update_wrapper(self, fn, updated=())

    def with_options(self, **options: Any) -> Flow[P, R]:
        """A copy of this flow with some options changed.

        Example:
            ``etl.with_options(name="etl-eu", retries=2)("eu")``
        """
        unknown = set(options) - set(self._options)
        if unknown:
            raise TypeError(f"flow {self.name!r}: unknown option(s) {sorted(unknown)}")
        return Flow(self.fn, **{**self._options, **options})

    def to_deployment(self, name: str | None = None, **options: Any) -> Deployment:
        """A deployment of this flow for ``orch.serve`` (Prefect's spelling): ``name``
        (default the flow's), one of ``cron=``/``interval=``/``schedule=``, ``timezone``,
        ``parameters``, ``paused``, ``catch_up``, ``overlap``, ``retry_crashed``,
        ``description`` (see ``orch.deployments.Deployment``).

        Example:
            ``orch.serve(etl.to_deployment("nightly", cron="0 2 * * *"))``
        """
        from orch.deployments.model import deployment_for

        return deployment_for(self, name, **options)

    def serve(
        self, name: str | None = None, *, shutdown_timeout: float = 30.0, **options: Any
    ) -> None:
        """Run this flow on a schedule in this process until SIGTERM or Ctrl-C (Prefect's
        ``flow.serve``); takes the options of ``to_deployment``.

        Example:
            ``etl.serve(name="nightly", cron="0 2 * * *", timezone="Europe/Paris")``
        """
        from orch.deployments.server import serve

        serve(self.to_deployment(name, **options), shutdown_timeout=shutdown_timeout)

    def deploy(self, *args: Any, **kwargs: Any) -> NoReturn:
        """Not in orch (Prefect's server-side deployments); raises with what to do."""
        raise NotInOrchError(
            f"flow {self.name!r}: Flow.deploy is Prefect's, not orch's: there is no server "
            "or work pool. Ship the script (or a package or image with it) and run "
            "`python your_flow.py` where it should run, on cron, systemd or Kubernetes"
        )

    def on_completion(self, fn: FlowHook) -> FlowHook:
        """Add a completion hook ``fn(flow, flow_run, state)`` (usable as a decorator)."""
        self.on_completion_hooks.append(fn)
        return fn

    def on_failure(self, fn: FlowHook) -> FlowHook:
        """Add a failure hook ``fn(flow, flow_run, state)`` (usable as a decorator)."""
        self.on_failure_hooks.append(fn)
        return fn

    def on_crashed(self, fn: FlowHook) -> FlowHook:
        """Add a crash hook ``fn(flow, flow_run, state)`` (usable as a decorator)."""
        self.on_crashed_hooks.append(fn)
        return fn

    def on_running(self, fn: FlowHook) -> FlowHook:
        """Add a hook ``fn(flow, flow_run, state)`` called when a run starts (usable as a
        decorator)."""
        self.on_running_hooks.append(fn)
        return fn

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run the flow and return its value (``return_state=True``: its final state)."""
        return_state = bool(kwargs.pop("return_state", False)) if kwargs else False
        if self.is_async:
            return self._run_async(args, kwargs, return_state)  # type: ignore[return-value]
        run, ctx, invalid = self._begin(args, kwargs)
        if invalid is not None:
            state = self._end(run, ctx, State(FAILED, exception=invalid))
            return state if return_state else state.result()  # type: ignore[return-value]
        previous_sigterm = _catch_sigterm() if run.parent_flow_run_id is None else None
        token = flow_run_ctx.set(ctx)
        task_token = task_run_ctx.set(None)
        try:
            state = self._attempts_sync(run)
        except BaseException as exc:
            self._end(run, ctx, State(CRASHED, exception=exc))
            if isinstance(exc, TerminationSignal) and previous_sigterm is not None:
                _die_of_sigterm(previous_sigterm)
            raise
        finally:
            task_run_ctx.reset(task_token)
            flow_run_ctx.reset(token)
            if previous_sigterm is not None:
                _restore_sigterm(previous_sigterm)
        state = self._end(run, ctx, state)
        return state if return_state else state.result()  # type: ignore[return-value]

    async def _run_async(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], return_state: bool
    ) -> Any:
        import asyncio  # here: asyncio costs ~30 ms to import, and sync flows never need it

        run, ctx, invalid = self._begin(args, kwargs)
        if invalid is not None:
            state = self._end(run, ctx, State(FAILED, exception=invalid))
            return state if return_state else state.result()
        token = flow_run_ctx.set(ctx)
        task_token = task_run_ctx.set(None)
        try:
            state = await self._attempts_async(run)
            await asyncio.to_thread(ctx.task_runner.shutdown, True)
        except BaseException as exc:
            self._end(run, ctx, State(CRASHED, exception=exc))
            raise
        finally:
            task_run_ctx.reset(task_token)
            flow_run_ctx.reset(token)
        state = self._end(run, ctx, state)
        return state if return_state else state.result()

    # --- the run -----------------------------------------------------------------------
    def _begin(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[FlowRun, FlowRunContext, ParameterValidationError | None]:
        """Start a run. Arguments that do not bind raise at once (no run, as in Prefect);
        arguments that fail validation start a run that the caller ends Failed with the
        returned error, so the failure is in the run history."""
        try:
            bound = self._signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"flow {self.name!r}: {exc}") from None
        bound.apply_defaults()
        parameters = dict(bound.arguments)
        invalid: ParameterValidationError | None = None
        if self.should_validate_parameters:
            try:
                parameters = self.validate_parameters(parameters)
            except ParameterValidationError as exc:
                invalid = exc
        parent_flow = flow_run_ctx.get()
        parent_task = task_run_ctx.get()
        parent_flow_run_id = (
            parent_flow.flow_run.id
            if parent_flow is not None
            else (parent_task.task_run.flow_run_id if parent_task is not None else None)
        )
        run = FlowRun(
            new_id(),
            "",
            self.name,
            parameters,
            parent_flow_run_id=parent_flow_run_id,
            parent_task_run_id=None if parent_task is None else parent_task.task_run.id,
            tags=self.tags,
        )
        try:
            run.name = self._render_name(parameters)
        except ValueError:
            if invalid is None:
                raise
            run.name = _random_name()  # the template may need the parameter that is wrong
        log_prints = resolve_log_prints(self.log_prints, parent_flow)
        if log_prints:
            from orch.engine.run_logging import capture_prints

            capture_prints()
        ctx = FlowRunContext(self, run, self.task_runner.duplicate(), log_prints)
        history.flow_started(run)
        self._log(ctx, 20, f"Beginning flow run {run.name!r} for flow {self.name!r}")
        if invalid is None and self.on_running_hooks:
            self._run_hooks(ctx, run, self.on_running_hooks, State(RUNNING))
        return run, ctx, invalid

    def _args(self, run: FlowRun) -> tuple[tuple[Any, ...], dict[str, Any]]:
        bound = self._signature.bind_partial()
        bound.arguments.update(run.parameters)
        return bound.args, bound.kwargs

    def _attempts_sync(self, run: FlowRun) -> State[Any]:

        args, kwargs = self._args(run)
        ctx = flow_run_ctx.get()
        assert ctx is not None
        try:
            while True:
                run.attempt += 1
                try:
                    if self.timeout_seconds:
                        value = call_with_timeout(
                            self.fn, args, kwargs, self.timeout_seconds, f"flow run {run.name!r}"
                        )
                    else:
                        value = self.fn(*args, **kwargs)
                    return self._completed(value)
                except Exception as exc:
                    if run.attempt > self.retries:
                        return State(FAILED, exception=exc)
                    self._retry(ctx, run, exc)
                    time.sleep(retry_delay(self.retry_delay_seconds, run.attempt))
                    run.state_name = RUNNING
        except BaseException:
            # Interrupted (Ctrl-C, SIGTERM): do not wait for running tasks, drop queued ones.
            ctx.task_runner.shutdown(wait=False)
            raise
        finally:
            ctx.task_runner.shutdown(wait=True)

    async def _attempts_async(self, run: FlowRun) -> State[Any]:
        import asyncio

        args, kwargs = self._args(run)
        ctx = flow_run_ctx.get()
        assert ctx is not None
        while True:
            run.attempt += 1
            try:
                coro: Coroutine[Any, Any, Any] = self.fn(*args, **kwargs)  # type: ignore[assignment]
                if self.timeout_seconds:
                    try:
                        value = await asyncio.wait_for(coro, self.timeout_seconds)
                    except TimeoutError:
                        raise TimeoutError(
                            f"flow run {run.name!r} timed out after {self.timeout_seconds:g} s"
                        ) from None
                else:
                    value = await coro
                return self._completed(value)
            except Exception as exc:
                if run.attempt > self.retries:
                    return State(FAILED, exception=exc)
                self._retry(ctx, run, exc)
                await asyncio.sleep(retry_delay(self.retry_delay_seconds, run.attempt))
                run.state_name = RUNNING

    def _completed(self, value: Any) -> State[Any]:
        if isinstance(value, State):
            return value
        # Futures returned by the flow are resolved, as Prefect does.
        if isinstance(value, OrchFuture | list | tuple | set | dict):
            value = resolve_futures(value)
        return State(COMPLETED, result=value)

    def _retry(self, ctx: FlowRunContext, run: FlowRun, exc: BaseException) -> None:
        run.state_name = RETRYING
        self._log(
            ctx,
            30,
            f"attempt {run.attempt} failed with {type(exc).__name__}: {exc}; "
            f"retry {run.attempt}/{self.retries}",
        )

    def _end(self, run: FlowRun, ctx: FlowRunContext, state: State[Any]) -> State[Any]:
        if ctx.at_end:
            self._run_at_end(ctx)
        ctx.at_end = None  # a callback registered from now on is refused
        run.end_time = time.time()
        run.state_name = state.name
        exc = state.exception
        if state.name in (FAILED, CRASHED):
            run.error = (
                f"{type(exc).__name__}: {exc}" if exc is not None else (state.message or "failed")
            )
        history.flow_finished(run)
        notify = sys.modules.get("orch.integration.notify")
        if notify is not None:  # loaded only by a flow with notify_on() hooks
            notify.run_ended(run.id)
        level = 20 if state.is_completed() else 40
        self._log(ctx, level, f"Finished in state {state.name}" + (
            f": {run.error}" if run.error else ""
        ))
        hooks = {
            FAILED: self.on_failure_hooks,
            CRASHED: self.on_crashed_hooks,
        }.get(state.name, self.on_completion_hooks)
        self._run_hooks(ctx, run, hooks, state)
        if run.parent_flow_run_id is None:
            # A finished top-level run is on record when the call returns, so `orch runs ls`
            # in another shell agrees with the "Finished" line (one write per flow, not per
            # task: the task hot path still only queues).
            history.flush_or_report()
        return state

    def _run_hooks(
        self, ctx: FlowRunContext, run: FlowRun, hooks: Sequence[FlowHook], state: State[Any]
    ) -> None:
        """Call each hook ``hook(flow, run, state)`` in the run's context; one that raises
        is logged and the others still run (a hook never changes the run's result)."""
        if not hooks:
            return
        token = flow_run_ctx.set(ctx)
        try:
            for hook in hooks:
                try:
                    hook(self, run, state)
                except Exception as hook_exc:
                    self._log(ctx, 30, f"hook {getattr(hook, '__name__', hook)!r} raised "
                                       f"{hook_exc!r}")
        finally:
            flow_run_ctx.reset(token)

    def _run_at_end(self, ctx: FlowRunContext) -> None:
        """The run's ``at_flow_end`` callbacks, in its context (their log lines are the
        run's); one that raises is a warning, not a change of the run's state."""
        token = flow_run_ctx.set(ctx)
        task_token = task_run_ctx.set(None)
        try:
            failed = run_flow_end_callbacks(ctx)
        finally:
            task_run_ctx.reset(task_token)
            flow_run_ctx.reset(token)
        for callback, exc in failed:
            name = getattr(callback, "__qualname__", None) or repr(callback)
            self._log(ctx, 30, f"at_flow_end callback {name!r} raised {type(exc).__name__}: {exc}")

    def _log(self, ctx: FlowRunContext, level: int, message: str) -> None:
        from orch.engine.run_logging import get_run_logger

        token = flow_run_ctx.set(ctx)
        task_token = task_run_ctx.set(None)
        try:
            get_run_logger().log(level, message)
        finally:
            task_run_ctx.reset(task_token)
            flow_run_ctx.reset(token)

    def _render_name(self, parameters: dict[str, Any]) -> str:
        if self.flow_run_name is None:
            return _random_name()
        return render_run_name(
            self.flow_run_name, parameters, f"flow {self.name!r}", "flow_run_name"
        )

    # --- parameters --------------------------------------------------------------------
    def validate_parameters(self, parameters: dict[str, Any]) -> dict[str, Any]:
        """Check (and coerce, e.g. ``"3"`` → ``3``) arguments against the type hints.

        Values that already have the annotated class skip pydantic entirely; others are
        validated with a pydantic ``TypeAdapter``. Raises
        ``ParameterValidationError`` naming the flow and the parameter
        (never the value, which may be a secret).

        Example:
            >>> @flow
            ... def f(n: int) -> int:
            ...     return n
            >>> f.validate_parameters({"n": "3"})
            {'n': 3}
        """
        hints = self._hints()
        if not hints:
            return parameters
        out = parameters
        for pname, value in parameters.items():
            ann = hints.get(pname)
            if ann is None or ann is Any:
                continue
            if _already_valid(value, ann):
                continue  # the common case: already the right type, no pydantic import
            adapter = self._adapter(pname, ann)
            if adapter is None:
                continue
            from pydantic import ValidationError

            try:
                coerced = adapter.validate_python(value)
            except ValidationError as exc:
                first = exc.errors(include_url=False, include_input=False)[0]
                where = ".".join(str(p) for p in first.get("loc", ()))
                detail = f" (at {where})" if where else ""
                raise ParameterValidationError(
                    f"flow {self.name!r}: parameter {pname!r}{detail}: {first['msg']} "
                    f"(expected {getattr(ann, '__name__', ann)}, got {type(value).__name__})"
                ) from None
            if coerced is not value:
                if out is parameters:
                    out = dict(parameters)
                out[pname] = coerced
        return out

    def _hints(self) -> dict[str, Any]:
        hints: dict[str, Any] | None = getattr(self, "_hint_cache", None)
        if hints is None:
            import typing

            try:
                hints = typing.get_type_hints(self.fn)
            except Exception:
                hints = {}
            hints.pop("return", None)
            # *args / **kwargs are not validated
            for p in self._signature.parameters.values():
                if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                    hints.pop(p.name, None)
            self._hint_cache = hints
        return hints

    def _adapter(self, pname: str, ann: Any) -> Any:
        if self._adapters is None:
            self._adapters = {}
        if pname not in self._adapters:
            from pydantic import ConfigDict, TypeAdapter

            try:
                self._adapters[pname] = TypeAdapter(
                    ann, config=ConfigDict(arbitrary_types_allowed=True)
                )
            except Exception:
                try:
                    self._adapters[pname] = TypeAdapter(ann)
                except Exception:
                    self._adapters[pname] = None  # not a type pydantic understands
        return self._adapters[pname]

    def __repr__(self) -> str:
        return f"Flow(name={self.name!r})"


def _catch_sigterm() -> Any:
    """In the main thread, while SIGTERM would kill the process outright, make it raise
    ``TerminationSignal`` instead, so the flow run is recorded Crashed.
    Returns the handler to restore, or None when nothing was installed."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return None  # the program handles SIGTERM itself: leave it alone
        signal.signal(signal.SIGTERM, _raise_termination)
    except (ValueError, OSError):  # pragma: no cover - no signals on this platform/thread
        return None
    return signal.SIG_DFL


def _raise_termination(signum: int, frame: Any) -> None:
    raise TerminationSignal("the process received SIGTERM")


def _restore_sigterm(previous: Any) -> None:
    import contextlib
    import signal

    with contextlib.suppress(ValueError, OSError):
        signal.signal(signal.SIGTERM, previous)


def _die_of_sigterm(previous: Any) -> None:
    """The crash is recorded: write the history now, then end the process by SIGTERM as it
    would have ended without orch (exit status -15 / 143; no traceback, no atexit)."""
    import os
    import signal

    history.flush_or_report()
    _restore_sigterm(previous)
    os.kill(os.getpid(), signal.SIGTERM)


def _already_valid(value: Any, ann: Any) -> bool:
    """Whether ``value`` plainly has the annotated type (``int``, ``list[str]``,
    ``dict[str, int]``, a Block class...), so pydantic need not be imported to check it."""
    if ann is Any:  # a class since Python 3.11, but isinstance(x, Any) raises
        return True
    if isinstance(ann, type):
        if type(value) is ann:
            return True
        # bool is an int to isinstance, not to pydantic's lax mode: let pydantic decide
        return ann not in (int, float, str, bool) and isinstance(value, ann)
    origin = getattr(ann, "__origin__", None)
    args: tuple[Any, ...] = getattr(ann, "__args__", ())
    if origin in (list, set, frozenset) and type(value) is origin and len(args) == 1:
        return all(_already_valid(v, args[0]) for v in value)
    if origin is dict and type(value) is dict and len(args) == 2:
        return all(
            _already_valid(k, args[0]) and _already_valid(v, args[1]) for k, v in value.items()
        )
    return False


@overload
def flow(__fn: Callable[P, R]) -> Flow[P, R]: ...


@overload
def flow(
    *,
    name: str | None = None,
    description: str | None = None,
    version: str | None = None,
    flow_run_name: str | Callable[..., str] | None = None,
    retries: int = 0,
    retry_delay_seconds: float | Sequence[float] = 0,
    timeout_seconds: float | None = None,
    task_runner: TaskRunner | None = None,
    validate_parameters: bool = True,
    log_prints: bool | None = None,
    tags: Iterable[str] | None = None,
    on_completion: Sequence[FlowHook] | None = None,
    on_failure: Sequence[FlowHook] | None = None,
    on_crashed: Sequence[FlowHook] | None = None,
    on_running: Sequence[FlowHook] | None = None,
) -> Callable[[Callable[P, R]], Flow[P, R]]: ...


def flow(__fn: Callable[P, R] | None = None, **options: Any) -> Any:
    """Make a function a flow: ``@flow`` or ``@flow(option=...)``.

    Options: ``name`` (default: the function name with ``-`` for ``_``),
    ``flow_run_name`` (``str.format`` template over the parameters, or a callable),
    ``retries``, ``retry_delay_seconds``, ``timeout_seconds``, ``task_runner`` (default
    ``ThreadPoolTaskRunner``), ``validate_parameters`` (pydantic,
    from the type hints; default True), ``log_prints``, ``tags``, ``on_completion`` /
    ``on_failure`` / ``on_crashed`` / ``on_running`` (hooks ``fn(flow, flow_run, state)``;
    ``on_running`` ones when the run starts). Alerts: ``notify_on(block)`` of
    ``orch.integration`` is such a hook; ``notify_on(block, after_seconds=N)`` in
    ``on_running`` alerts when a run is still running after N seconds.

    A flow called inside another flow is a child run. ``return_state=True`` returns the
    final ``State`` instead of the value.

    Example:
        >>> @flow(name="etl", retries=1)
        ... def etl(day: str) -> int:
        ...     return len(day)
        >>> etl("2024-01-01")
        10
    """
    if __fn is not None:
        return Flow(__fn, **options)

    def decorate(fn: Callable[P, R]) -> Flow[P, R]:
        return Flow(fn, **options)

    return decorate
