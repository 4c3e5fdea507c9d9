"""The task engine: one task call run to its final state — upstream futures, run name,
cache, concurrency limit, retries, timeout, hooks and history — in this thread, in a
coroutine, or in a worker process.

``orch.tasks`` (``@task``, ``Task``) calls in here; nothing here
imports it at run time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import TYPE_CHECKING, Any

from orch import history
from orch.engine.context import FlowRunContext, TaskRun, TaskRunContext, flow_run_ctx, task_run_ctx
from orch.engine.runs import (
    call_with_timeout,
    error_text,
    render_run_name,
    resolve_log_prints,
    retry_delay,
)
from orch.errors import OrchError, SerializationError
from orch.futures import OrchFuture, has_futures, resolve_futures
from orch.states import CACHED, COMPLETED, CRASHED, FAILED, RETRYING, RUNNING, State

if TYPE_CHECKING:
    import concurrent.futures as cf

    from orch.engine.task_runners import TaskRunner
    from orch.tasks import Task

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


def _prepare(
    task: Task[Any, Any], run: TaskRun, wait_for: Iterable[OrchFuture[Any]] | None
) -> BaseException | None:
    """Wait for upstream runs and render the run name; returns the error that stops the run."""
    try:
        if wait_for:
            for upstream in wait_for:
                upstream.result()
        if has_futures(run.args, run.kwargs):
            # Each argument: a future, or a list/tuple/set/dict of them (has_futures looks
            # that deep too).
            run.args = tuple(map(resolve_futures, run.args))
            run.kwargs = {k: resolve_futures(v) for k, v in run.kwargs.items()}
        if task.task_run_name is not None:
            run._name = render_run_name(
                task.task_run_name, run.parameters, f"task {task.name!r}", "task_run_name"
            )
    except Exception as exc:
        return exc
    return None


def _finish(task: Task[Any, Any], run: TaskRun, state: State[Any]) -> State[Any]:
    run.end_time = time.time()
    run.state_name = state.name
    if state.name == FAILED:
        exc = state.exception
        run.error = error_text(exc) if exc is not None else (state.message or "failed")
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


def _should_retry(
    task: Task[Any, Any], exc: BaseException, run: TaskRun, state: State[Any]
) -> bool:
    if run.attempt > task.retries:
        return False
    if task.retry_on is not None and not isinstance(exc, task.retry_on):
        return False
    if task.retry_condition_fn is not None:
        try:
            return bool(task.retry_condition_fn(task, run, state))
        except Exception as hook_exc:
            _log_problem(run, f"retry_condition_fn raised {type(hook_exc).__name__}")
            return False
    return True


def _retry_delay(task: Task[Any, Any], attempt: int) -> float:
    return retry_delay(task.retry_delay_seconds, attempt, task.retry_jitter_factor)


def _retry_message(task: Task[Any, Any], run: TaskRun, exc: BaseException, delay: float) -> None:
    _log_problem(
        run,
        f"attempt {run.attempt} failed with {error_text(exc)}; "
        f"retry {run.attempt}/{task.retries} in {delay:.3g} s",
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
        log_prints = resolve_log_prints(task.log_prints, flow_ctx)
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
        run.error = error_text(exc)
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
                if _should_retry(task, exc, run, state):
                    delay = _retry_delay(task, run.attempt)
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
    log_prints: bool | None = None,
) -> State[Any]:
    """The async twin of ``run_task_sync``, for ``async def`` tasks."""
    import asyncio  # here: asyncio costs ~30 ms to import, and sync flows never need it

    if wait_for or task.task_run_name is not None or has_futures(run.args, run.kwargs):
        if wait_for or has_futures(run.args, run.kwargs):
            problem = await asyncio.to_thread(_prepare, task, run, wait_for)
        else:
            problem = _prepare(task, run, wait_for)
        if problem is not None:
            run.start_time = time.time()
            return _finish(task, run, State(FAILED, exception=problem))
    if log_prints is None:
        log_prints = resolve_log_prints(task.log_prints, flow_ctx)
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
                    if _should_retry(task, exc, run, state):
                        delay = _retry_delay(task, run.attempt)
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
        run.error = error_text(exc)
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


# --- process pool support (and other runners' workers: orch.integration) ---------------
def run_in_process_parent(
    pool: cf.ProcessPoolExecutor, task: Task[Any, Any], run: TaskRun
) -> State[Any]:
    """On a feeder thread of the parent: resolve upstream futures, send the call to a worker
    process, and turn its answer into a state (the worker records the run)."""
    payload = prepare_remote(task, run)
    if isinstance(payload, State):
        return payload
    future = pool.submit(run_remote, *payload)
    try:
        outcome = future.result()
    except Exception as err:
        return finish_remote(task, run, error=err)
    return finish_remote(task, run, outcome)


def waits_for_upstream(run: TaskRun) -> bool:
    """Whether ``prepare_remote`` would block: the call has ``wait_for`` runs or
    futures among its arguments (a runner prepares those on a thread of its own)."""
    return bool(run.wait_for) or has_futures(run.args, run.kwargs)


def prepare_remote(
    task: Task[Any, Any],
    run: TaskRun,
    *,
    history_to_parent: bool = False,
    dumps: Callable[[Any], bytes] | None = None,
) -> tuple[Any, ...] | State[Any]:
    """In the parent, before a task call goes to another process: wait for its upstream
    runs (``wait_for`` and futures among its arguments), render its run name, and check
    that the task and each argument pickle with ``dumps``
    (``orch.errors.SerializationError`` naming the task and the argument otherwise).

    Returns the arguments of ``run_remote`` (to call in the worker), or the Failed
    state of a run whose upstream failed. ``history_to_parent``: the worker sends the run
    history back instead of writing it (hand it to ``finish_remote``).
    """
    from orch.engine.task_runners import check_arguments_picklable, check_picklable
    from orch.secrets.redaction import revealed

    if dumps is None:
        import pickle

        dumps = pickle.dumps
    check_picklable(task, "the task function", None, dumps)
    problem = _prepare(task, run, run.wait_for)
    run.wait_for = None
    if problem is not None:
        run.start_time = time.time()
        return _finish(task, run, State(FAILED, exception=problem))
    check_arguments_picklable(task, run.args, run.kwargs, dumps)
    flow_ctx = flow_run_ctx.get()
    log_prints = resolve_log_prints(task.log_prints, flow_ctx)
    run.state_name = RUNNING
    # The worker is sent the secrets revealed here so far (also those revealed after it
    # started), so that its log lines and errors are masked like the parent's.
    sent = revealed()
    return (
        task,
        run.args,
        run.kwargs,
        run.flow_run_id,
        run.id,
        log_prints,
        sent,
        history_to_parent,
        run._name,
    )


def finish_remote(
    task: Task[Any, Any],
    run: TaskRun,
    outcome: tuple[Any, ...] | None = None,
    error: BaseException | None = None,
    crashed: bool = False,
) -> State[Any]:
    """In the parent: the final state of a call ``run_remote`` ran elsewhere, from its
    ``outcome`` (what it returned), or from the ``error`` that getting it raised
    (``crashed``: the worker died; the run is recorded Crashed)."""
    import pickle

    from orch.secrets.redaction import remember

    if outcome is None:
        err: BaseException = error if error is not None else OrchError("no outcome")
        if isinstance(err, pickle.PicklingError | TypeError | AttributeError):
            err = SerializationError(
                f"task {task.name!r}: its result cannot be sent back from the worker "
                f"process ({type(err).__name__}: {err})"
            )
        crashed = crashed or "terminated abruptly" in str(err)
        run.state_name = CRASHED if crashed else FAILED
        # The worker never recorded this run's end: the parent records it.
        run.start_time = run.start_time or time.time()
        run.end_time = time.time()
        run.error = error_text(err)
        history.record_task(run)
        return State(run.state_name, exception=err)
    name, value, exc, attempts, learned, records = outcome
    if learned:
        remember(learned)  # secrets the task revealed in the worker: masked here too
    if records:
        history.replay(records, {run.id: run})
    run.attempt = attempts
    run.state_name = name
    return State(name, result=value, exception=exc)


def run_remote(
    task: Task[Any, Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    flow_run_id: str | None,
    run_id: str,
    log_prints: bool,
    sent: tuple[str, ...] = (),
    history_to_parent: bool = False,
    name: str | None = None,
) -> tuple[str, Any, BaseException | None, int, tuple[str, ...], list[tuple[Any, ...]]]:
    """In a worker process: run the task, and return its outcome with the secrets it
    revealed that the parent did not send (so the parent masks them too) and, with
    ``history_to_parent``, the run history it recorded (else written here)."""
    from orch.secrets.redaction import remember, revealed

    if sent:
        remember(sent)
    run = TaskRun(task, flow_run_id, args, kwargs, name)
    run.id = run_id
    records: list[tuple[Any, ...]] = []
    if history_to_parent:
        with history.capture() as captured:
            state = _run_here(task, run, log_prints)
        records = history.captured_records(captured)
    else:
        state = _run_here(task, run, log_prints)
        history.flush()
    exc = state.exception
    if exc is not None:
        import pickle

        try:
            pickle.dumps(exc)
        except Exception:
            exc = OrchError(error_text(exc))
    learned = revealed()
    if learned and sent:
        known = set(sent)
        learned = tuple(v for v in learned if v not in known)
    return state.name, state._result, exc, run.attempt, learned, records


def _run_here(task: Task[Any, Any], run: TaskRun, log_prints: bool) -> State[Any]:
    if task.is_async:
        import asyncio

        return asyncio.run(run_task_async(task, run, None, None, log_prints))
    return run_task_sync(task, run, None, None, log_prints)
