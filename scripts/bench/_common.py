"""Helpers shared by the benchmark scripts: timing, medians, a side-by-side table, and
``record``, which keeps each figure for scripts/bench/report.py (JSON, charts, --check).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

# scripts/bench/run points this at a JSON-lines file per run; unset, record() only returns.
RECORD_ENV = "ORCH_BENCH_RECORD"


@dataclasses.dataclass(frozen=True)
class Figure:
    """One measured figure: orch's value beside the raw SDK's and Prefect's, and its target.

    ``target`` bounds orch's value itself (``vs="value"``) or the ratio orch / peer
    (``vs="raw"`` or ``vs="prefect"``); ``better`` says which way is good, for the value and
    so for the ratio: ``"higher"`` (a rate: orch / raw >= 0.95) or ``"lower"`` (a time, a
    size: orch / raw <= 1.2).
    """

    bench: str
    name: str
    label: str
    unit: str
    orch: float
    raw: float | None = None
    prefect: float | None = None
    raw_label: str = "raw SDK"
    better: Literal["higher", "lower"] = "lower"
    target: float | None = None
    vs: Literal["value", "raw", "prefect"] = "value"
    note: str = ""


def record(
    name: str,
    label: str,
    unit: str,
    orch: float,
    *,
    raw: float | None = None,
    prefect: float | None = None,
    raw_label: str = "raw SDK",
    better: Literal["higher", "lower"] = "lower",
    target: float | None = None,
    vs: Literal["value", "raw", "prefect"] = "value",
    note: str = "",
) -> Figure:
    """Keep one figure for the report (a line in $ORCH_BENCH_RECORD when run sets it).

    NaN or missing peers are stored as null. The bench is named after the script.
    """

    def clean(x: float | None) -> float | None:
        return None if x is None or math.isnan(x) else float(x)

    fig = Figure(
        bench=Path(sys.argv[0]).name.removesuffix(".py").removesuffix("_bench"),
        name=name,
        label=label,
        unit=unit,
        orch=float(orch),
        raw=clean(raw),
        prefect=clean(prefect),
        raw_label=raw_label,
        better=better,
        target=target,
        vs=vs,
        note=note,
    )
    path = os.environ.get(RECORD_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(dataclasses.asdict(fig)) + "\n")
    return fig


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
