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


@task
def append_after(path: str, word: str, delay: float) -> None:
    import time

    time.sleep(delay)
    with open(path, "a") as fh:
        fh.write(word + "\n")


@task(task_run_name="cube-{x}")
def named_cube(x: int) -> int:
    return x**3


@task
async def async_double(x: int) -> int:
    return 2 * x
