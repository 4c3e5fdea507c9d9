"""Fixtures of the orch-dask tests: the runners the shared suite runs on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from orch import ThreadPoolTaskRunner
from orch.engine.task_runners import TaskRunner
from orch_dask import DaskTaskRunner

from tests.backends.dask import DaskCluster
from tests.core.runtime_support import flush_history

__all__ = ["flush_history"]


@pytest.fixture(params=["thread-pool", "dask"])
def runner(request: pytest.FixtureRequest) -> Iterator[TaskRunner]:
    """The same behaviour on the thread pool and on Dask (the session's LocalCluster)."""
    if request.param == "thread-pool":
        yield ThreadPoolTaskRunner(max_workers=4)
    else:
        cluster: DaskCluster = request.getfixturevalue("dask_cluster")
        yield DaskTaskRunner(address=cluster.address)


@pytest.fixture
def dask_runner(dask_cluster: DaskCluster) -> DaskTaskRunner:
    """A runner on the session's LocalCluster (2 worker processes)."""
    return DaskTaskRunner(address=dask_cluster.address)
