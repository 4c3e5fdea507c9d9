"""Futures of submitted task runs, and ``unmapped`` for ``Task.map``.

Example:
    >>> from orch import flow, task
    >>> @task
    ... def double(x: int) -> int:
    ...     return 2 * x
    >>> @flow
    ... def f() -> int:
    ...     future = double.submit(21)
    ...     return future.result()
    >>> f()
    42
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from orch.states import PENDING, RUNNING, State

if TYPE_CHECKING:
    from orch.engine.context import TaskRun

R = TypeVar("R")
T = TypeVar("T")


class OrchFuture(Generic[R]):
    """A task run in progress: ``result(timeout=None)``, ``wait()``, ``state``.

    Example:
        ``future = fetch.submit(url); rows = future.result()``
    """

    __slots__ = ("_future", "task_run")

    def __init__(self, future: cf.Future[State[R]], task_run: TaskRun) -> None:
        self._future = future
        self.task_run = task_run

    @property
    def task_run_id(self) -> str:
        """The id of the task run behind this future."""
        return self.task_run.id

    def wait(self, timeout: float | None = None) -> None:
        """Block until the run is over (or ``timeout`` seconds pass); never raises its error.

        Example:
            ``future.wait(); future.state.is_completed()``
        """
        cf.wait([self._future], timeout=timeout)

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> R:
        """The run's value; raises its exception if it failed (after its retries).

        ``timeout`` raises ``TimeoutError`` when the run is not over in time.

        Example:
            ``rows = fetch.submit(url).result(timeout=60)``
        """
        try:
            state = self._future.result(timeout=timeout)
        except cf.TimeoutError:
            raise TimeoutError(
                f"task run {self.task_run.name!r} did not finish within {timeout} s"
            ) from None
        return state.result(raise_on_failure=raise_on_failure)

    @property
    def state(self) -> State[R]:
        """The current state: Pending, Running, or the final state once done."""
        if self._future.done():
            return self._future.result()
        return State(RUNNING if self.task_run.state_name == RUNNING else PENDING)

    def done(self) -> bool:
        """Whether the run is over."""
        return self._future.done()

    def add_done_callback(self, fn: Any) -> None:
        """Call ``fn(self)`` when the run is over."""
        self._future.add_done_callback(lambda _f: fn(self))

    def __repr__(self) -> str:
        return f"OrchFuture({self.task_run.name!r}, state={self.state.name})"


PrefectFuture = OrchFuture  # the name Prefect users know


class FutureList(list[OrchFuture[R]]):
    """The futures ``Task.map`` returns: a list, plus ``result()`` and ``wait()`` for all.

    Example:
        ``values = double.map([1, 2, 3]).result()``
    """

    def wait(self, timeout: float | None = None) -> None:
        """Wait for every future."""
        cf.wait([f._future for f in self], timeout=timeout)

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> list[R]:
        """Every future's value, in order (raises the first failure)."""
        return [f.result(timeout=timeout, raise_on_failure=raise_on_failure) for f in self]


class unmapped(Generic[T]):
    """Pass one value to every call of ``Task.map`` instead of iterating over it.

    Example:
        ``add.map([1, 2, 3], unmapped(10))``  # add(1, 10), add(2, 10), add(3, 10)
    """

    __slots__ = ("value",)

    def __init__(self, value: T) -> None:
        self.value = value


def wait(futures: Iterable[OrchFuture[Any]], timeout: float | None = None) -> None:
    """Wait for all ``futures``.

    Example:
        ``wait([a.submit(), b.submit()])``
    """
    cf.wait([f._future for f in futures], timeout=timeout)


def resolve_futures(value: Any) -> Any:
    """``value`` with every future in it (itself, or an item of a list, tuple, set or dict
    value, or the futures ``.map()`` returned) replaced by its result; raises the
    upstream's exception if it failed.

    Only one level of collection is looked into, on purpose: a task that loads a million
    rows is handed a million-item list, and scanning it item by item in Python cost more
    than the load itself. ``[f1, f2]`` and ``{"a": f}`` are found; deeper nesting is not.
    """
    kind = type(value)
    if kind is OrchFuture:
        return value.result()
    if kind is list or kind is tuple or kind is set or kind is FutureList:
        if not _has_future(value):
            return value
        kind = list if kind is FutureList else kind  # what .map() returned: its values
        return kind(v.result() if type(v) is OrchFuture else v for v in value)
    if kind is dict:
        if not _has_future(value):
            return value
        return {k: v.result() if type(v) is OrchFuture else v for k, v in value.items()}
    return value


def _has_future(value: Any) -> bool:
    kind = type(value)
    if kind is OrchFuture:
        return True
    # `in` over `map(type, ...)` runs in C: ~10 ns an item, where a Python loop costs ~400.
    if kind is list or kind is tuple or kind is set or kind is FutureList:
        return OrchFuture in map(type, value)
    if kind is dict:
        return OrchFuture in map(type, value.values())
    return False


def has_futures(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """Whether any argument holds a future (a cheap check for the common case: none)."""
    for v in args:
        if _has_future(v):
            return True
    return any(_has_future(v) for v in kwargs.values()) if kwargs else False
