"""The functions and tasks of dask_bench.py (workers import them by name)."""

from __future__ import annotations

from orch import task


def trivial(x: int) -> int:
    return x


def burn(n: int) -> int:
    """Pure-Python CPU work (holds the GIL)."""
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


@task
def orch_trivial(x: int) -> int:
    return x


@task
def orch_burn(n: int) -> int:
    return burn(n)
