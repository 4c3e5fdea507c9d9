"""What flow runs and task runs share: run names, retry delays, ``log_prints``, timeouts.

One copy of each rule, so that ``@flow`` and ``@task`` options mean the same thing.
"""

from __future__ import annotations

import contextvars
import random
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from orch.engine.context import FlowRunContext

T = TypeVar("T")


def render_run_name(template: Any, parameters: dict[str, Any], what: str, option: str) -> str:
    """The run name from ``template``: a ``str.format`` template over the run's parameters,
    or a callable taking the parameters (or nothing).

    ``what`` names the flow or task and ``option`` the option in the error, e.g.
    ``task 'fetch': task_run_name '{url' could not be rendered: ValueError: ...``.

    Example:
        >>> render_run_name("fetch-{url}", {"url": "a"}, "task 'fetch'", "task_run_name")
        'fetch-a'
    """
    import inspect

    try:
        if callable(template):
            try:
                nparams = len(inspect.signature(template).parameters)
            except (TypeError, ValueError):
                nparams = 0
            return str(template(parameters) if nparams else template())
        return str(template).format(**parameters)
    except Exception as exc:
        raise ValueError(
            f"{what}: {option} {template!r} could not be rendered: {type(exc).__name__}: {exc}"
        ) from None


def retry_delay(spec: Any, attempt: int, jitter_factor: float | None = None) -> float:
    """Seconds to wait before retry ``attempt`` (1 = the first retry).

    ``spec`` is a number, a list (one per retry; the last repeats), a callable of the
    attempt number, or None (no wait); ``jitter_factor`` spreads the delay at random by
    up to that fraction either way.

    Example:
        >>> retry_delay([1, 5, 30], 2), retry_delay([1, 5], 9), retry_delay(None, 1)
        (5.0, 5.0, 0.0)
    """
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
    if jitter_factor:
        delay *= random.uniform(max(0.0, 1 - jitter_factor), 1 + jitter_factor)
    return delay


def resolve_log_prints(own: bool | None, flow_ctx: FlowRunContext | None) -> bool:
    """A run's ``log_prints``: its own option, else its flow run's, else False."""
    if own is not None:
        return own
    return flow_ctx.log_prints if flow_ctx is not None else False


def error_text(exc: BaseException) -> str:
    """``Type: message`` (or just ``Type`` when the message is empty)."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def call_with_timeout(
    fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any], seconds: float, what: str
) -> T:
    """Run ``fn`` on a helper thread and raise ``TimeoutError`` if it overruns.

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
