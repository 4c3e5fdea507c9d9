"""``get_dask_client()``: a Dask client inside a task running on a Dask worker (or in a
flow whose runner is a :class:`~orch_dask.DaskTaskRunner`), to submit Dask work itself.

Example:
    >>> from orch import task
    >>> from orch_dask import get_dask_client
    >>> @task
    ... def total(n: int) -> int:
    ...     with get_dask_client() as client:
    ...         return sum(client.gather(client.map(abs, range(n))))
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from orch.integration import OrchError

if TYPE_CHECKING:
    from distributed import Client


@contextmanager
def get_dask_client(timeout: float | str | None = None) -> Iterator[Client]:
    """A client of the cluster this code runs on, for the ``with`` block.

    On a worker (inside a task) it is ``distributed.worker_client``: the task leaves the
    worker's thread pool while it waits, so the work it submits can run. In a flow run
    on a :class:`~orch_dask.DaskTaskRunner`, it is that runner's client.

    Example:
        ``with get_dask_client() as client: client.gather(client.map(f, items))``
    """
    from distributed import get_worker, worker_client

    try:
        get_worker()
    except ValueError:
        pass
    else:
        with worker_client(timeout=timeout, separate_thread=True) as client:
            yield client
        return
    from orch import get_run_context

    from orch_dask.task_runners import DaskTaskRunner

    try:
        ctx = get_run_context()
    except OrchError:
        ctx = None
    runner = getattr(ctx, "task_runner", None)
    if not isinstance(runner, DaskTaskRunner):
        raise OrchError(
            "get_dask_client() needs a Dask cluster: call it inside a task running on "
            "DaskTaskRunner, or in a flow whose task_runner is DaskTaskRunner"
        )
    yield runner.client
