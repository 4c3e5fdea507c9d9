"""Dask errors mapped to orch's, in one place: messages name the scheduler or the task,
never a setting's value.

Example:
    from orch_dask.errors import DaskConnectError
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from orch.integration import ConnectError, OrchError, ServiceError

if TYPE_CHECKING:
    from orch import Task


class DaskError(ServiceError):
    """A Dask cluster refused or lost a task run.

    Example:
        ``except DaskError as exc: print(exc)``
    """


class DaskConnectError(DaskError, ConnectError):
    """The scheduler could not be reached.

    Example:
        ``except DaskConnectError: ...  # is the scheduler up?``
    """


class DaskWorkerLostError(DaskError):
    """The worker running a task died (the run is recorded Crashed).

    Example:
        ``except DaskWorkerLostError: ...``
    """


class DaskCodeMissingError(DaskError):
    """A worker could not import the task (its module is not installed there).

    Example:
        ``except DaskCodeMissingError: ...``
    """


def connect_error(address: str, exc: BaseException) -> DaskConnectError:
    """The scheduler at ``address`` did not answer."""
    return DaskConnectError(
        f"Dask scheduler {address!r} could not be reached ({type(exc).__name__}: {exc}); "
        "is it running, and is the address right?"
    )


def worker_error(
    task: Task[Any, Any], task_run: Any, exc: BaseException
) -> tuple[BaseException, bool]:
    """The error to record for a call that failed on the cluster, and whether the run
    crashed (rather than failed)."""
    from distributed.scheduler import KilledWorker

    if isinstance(exc, KilledWorker):
        return (
            DaskWorkerLostError(
                f"task run {task_run.name!r}: the Dask worker running it died "
                f"({type(exc).__name__}: {exc})"
            ),
            True,
        )
    if isinstance(exc, ImportError) or (isinstance(exc, AttributeError) and "module" in str(exc)):
        return (
            DaskCodeMissingError(
                f"task {task.name!r} could not be loaded on the Dask worker "
                f"({type(exc).__name__}: {exc}); install the module that defines it "
                f"({task.fn.__module__!r}) on every worker"
            ),
            False,
        )
    if isinstance(exc, OrchError):
        return exc, False
    return exc, False
