"""Module-level tasks for the process-pool tests (worker processes import them by name)."""

from __future__ import annotations

import os

from orch import task


@task
def pid_and_square(x: int) -> tuple[int, int]:
    return os.getpid(), x * x


@task(retries=1, retry_delay_seconds=0)
def fails_in_worker(x: int) -> int:
    raise ValueError(f"bad {x}")


@task
def dies_in_worker() -> None:
    os._exit(3)  # the worker process dies mid-run, as if killed
