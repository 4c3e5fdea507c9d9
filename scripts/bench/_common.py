"""Helpers shared by the benchmark scripts: timing, medians, a side-by-side table."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--peers-python", help="python of a side venv with Prefect 3 installed")
    return p


def median_wall_ms(cmd: Sequence[str], runs: int, env: dict[str, str] | None = None) -> float:
    """Median wall time of a whole command, in ms (one warm-up run first)."""
    full_env = {**os.environ, **(env or {})}
    subprocess.run(cmd, check=True, env=full_env, capture_output=True)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, env=full_env, capture_output=True)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def median_call_us(fn: Callable[[], object], runs: int, warmup: int = 20) -> float:
    """Median time of one call, in µs."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e6)
    return statistics.median(samples)


def table(rows: Sequence[tuple[str, float, float | None, str, str]]) -> None:
    """rows: (metric, orch, peer or None, unit, target); ratio = peer / orch."""
    head = f"{'metric':44} {'orch':>12} {'prefect':>12} {'prefect/orch':>13}  target"
    print(head)
    print("-" * len(head))
    for metric, ours, peer, unit, target in rows:
        peer_s = f"{peer:,.1f} {unit}" if peer is not None else "-"
        ratio = f"{peer / ours:,.1f}x" if peer is not None and ours else "-"
        print(f"{metric:44} {ours:>9,.1f} {unit:2} {peer_s:>12} {ratio:>13}  {target}")
    sys.stdout.flush()
