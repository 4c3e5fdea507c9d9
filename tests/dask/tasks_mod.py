"""Tasks the Dask tests send to workers (importable by name there, from the repo root)."""

from __future__ import annotations

import os
import time
from typing import Any

from orch import get_run_logger, task


@task
def square(x: int) -> int:
    return x * x


@task
def add(x: int, y: int) -> int:
    return x + y


@task
def where(x: int) -> tuple[int, int]:
    """(the worker's pid, x)."""
    return os.getpid(), x


@task
def noop(x: int) -> int:
    return x


@task
def logs(x: int) -> int:
    get_run_logger().info("line from the worker %d", x)
    return x


@task
def fails(x: int) -> int:
    raise ValueError(f"bad {x}")


@task(retries=2)
def flaky(marker: str) -> int:
    """Fails until it ran 3 times (counted in the file ``marker``)."""
    with open(marker, "a") as fh:
        fh.write("x")
    with open(marker) as fh:
        n = len(fh.read())
    if n < 3:
        raise RuntimeError(f"attempt {n} fails")
    return n


@task(timeout_seconds=0.5)
def slow(seconds: float) -> float:
    deadline = time.time() + seconds
    while time.time() < deadline:
        time.sleep(0.01)
    return seconds


def _key(ctx: Any, params: dict[str, Any]) -> str:
    return f"cached-{params['x']}"


@task(cache_key_fn=_key)
def cached(x: int, marker: str) -> int:
    with open(marker, "a") as fh:
        fh.write("x")
    return x * 10


@task(concurrency_limit=1)
def exclusive(marker: str, x: int) -> tuple[float, float]:
    start = time.time()
    time.sleep(0.3)
    return start, time.time()


@task
def setting(name: str) -> str | None:
    return os.environ.get(name)


@task
def leak(secret: str) -> str:
    get_run_logger().info("worker got %s", secret)
    raise PermissionError(f"refused for {secret}")


@task
def burn(n: int) -> int:
    """CPU-bound work (holds the GIL)."""
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


@task
def uses_client(n: int) -> int:
    from orch_dask import get_dask_client

    with get_dask_client() as client:
        return int(sum(client.gather(client.map(abs, range(-n, 0)))))


@task
async def async_double(x: int) -> int:
    return 2 * x


@task(task_run_name="sq-{x}")
def named_square(x: int) -> int:
    return x * x


@task
def block_secret_length(block: Any) -> int:
    """The length of a saved block's secret, loaded on the worker."""
    return len(block.value.get_secret_value())


@task
def total(values: list[int]) -> int:
    return sum(values)


@task
def dies(x: int) -> int:
    os._exit(3)  # the worker process dies mid-run, as if killed
