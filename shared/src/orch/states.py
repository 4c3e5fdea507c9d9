"""Run states: Pending, Running, Retrying, Completed, Cached, Failed, Crashed.

A ``State`` is small and cheap (no pydantic): the runtime builds one only when user
code asks for it (``return_state=True``, ``future.state``, hooks).

Example:
    >>> from orch import flow
    >>> @flow
    ... def f() -> int:
    ...     return 1
    >>> state = f(return_state=True)
    >>> state.is_completed(), state.result()
    (True, 1)
"""

from __future__ import annotations

import time
from typing import Any, Generic, TypeVar

R = TypeVar("R")

PENDING = "Pending"
RUNNING = "Running"
RETRYING = "Retrying"
COMPLETED = "Completed"
CACHED = "Cached"
FAILED = "Failed"
CRASHED = "Crashed"

ALL_STATES = (PENDING, RUNNING, RETRYING, COMPLETED, CACHED, FAILED, CRASHED)
FINAL_STATES = frozenset({COMPLETED, CACHED, FAILED, CRASHED})


class StateType:
    """The state names, as constants (``StateType.COMPLETED == "Completed"``).

    Example:
        >>> StateType.FAILED
        'Failed'
    """

    PENDING = PENDING
    RUNNING = RUNNING
    RETRYING = RETRYING
    COMPLETED = COMPLETED
    CACHED = CACHED
    FAILED = FAILED
    CRASHED = CRASHED


class State(Generic[R]):
    """The state of a flow or task run, holding its result or its exception.

    ``name`` is one of ``ALL_STATES``; ``result()`` returns the value or raises the
    run's exception (``raise_on_failure=False`` returns the exception instead).

    Example:
        >>> s = State(COMPLETED, result=3)
        >>> s.is_completed(), s.result()
        (True, 3)
    """

    __slots__ = ("_exception", "_result", "message", "name", "timestamp")

    def __init__(
        self,
        name: str,
        *,
        result: Any = None,
        exception: BaseException | None = None,
        message: str | None = None,
        timestamp: float | None = None,
    ) -> None:
        self.name = name
        self._result = result
        self._exception = exception
        self.message = message
        self.timestamp = time.time() if timestamp is None else timestamp

    @property
    def type(self) -> str:
        """The state's name (``"Completed"``, ``"Failed"``, ...), as in Prefect."""
        return self.name

    def result(self, raise_on_failure: bool = True) -> R:
        """The run's return value; raises its exception if it failed or crashed.

        Example:
            >>> State(FAILED, exception=ValueError("x")).result(raise_on_failure=False)
            ValueError('x')
        """
        if self._exception is not None:
            if raise_on_failure:
                raise self._exception
            return self._exception  # type: ignore[return-value]
        if self.name in (FAILED, CRASHED) and raise_on_failure:
            from orch.errors import RunFailedError

            raise RunFailedError(self.message or f"run ended in state {self.name}")
        return self._result  # type: ignore[no-any-return]

    @property
    def exception(self) -> BaseException | None:
        """The exception the run raised, if any."""
        return self._exception

    def is_pending(self) -> bool:
        """Whether the run has not started."""
        return self.name == PENDING

    def is_running(self) -> bool:
        """Whether the run is executing."""
        return self.name == RUNNING

    def is_retrying(self) -> bool:
        """Whether the run failed an attempt and waits for the next one."""
        return self.name == RETRYING

    def is_completed(self) -> bool:
        """Whether the run succeeded (``Completed`` or ``Cached``)."""
        return self.name in (COMPLETED, CACHED)

    def is_cached(self) -> bool:
        """Whether the result came from the cache."""
        return self.name == CACHED

    def is_failed(self) -> bool:
        """Whether the run failed."""
        return self.name == FAILED

    def is_crashed(self) -> bool:
        """Whether the run's process died or it was interrupted."""
        return self.name == CRASHED

    def is_final(self) -> bool:
        """Whether the run is over."""
        return self.name in FINAL_STATES

    def __repr__(self) -> str:
        if self.message:
            return f"{self.name}(message={self.message!r})"
        return f"{self.name}()"


def Pending(message: str | None = None) -> State[Any]:
    """A ``Pending`` state. Example: ``Pending().is_pending()`` is True."""
    return State(PENDING, message=message)


def Running(message: str | None = None) -> State[Any]:
    """A ``Running`` state. Example: ``Running().is_running()`` is True."""
    return State(RUNNING, message=message)


def Completed(result: Any = None, message: str | None = None) -> State[Any]:
    """A ``Completed`` state holding ``result``. Example: ``Completed(1).result() == 1``."""
    return State(COMPLETED, result=result, message=message)


def Failed(
    exception: BaseException | None = None, message: str | None = None
) -> State[Any]:
    """A ``Failed`` state. Example: ``Failed(ValueError("x")).is_failed()`` is True."""
    return State(FAILED, exception=exception, message=message)


def Crashed(message: str | None = None) -> State[Any]:
    """A ``Crashed`` state. Example: ``Crashed("killed").is_crashed()`` is True."""
    return State(CRASHED, message=message)
