"""orch-dask figures, side by side in one run, on a 2-worker ``distributed.LocalCluster``
(2 processes, 1 thread each):

- a 10,000-task ``.map`` of a trivial task: orch-dask (every run recorded in the history,
  through the driver: SQLite) against raw ``client.map`` + ``gather`` of the same function.
  Target: orch/raw rate >= 0.5x. With ``--peers-python`` (a side venv with prefect-dask),
  prefect-dask's ``DaskTaskRunner`` on the same kind of cluster too.
- a CPU-bound map (pure Python: holds the GIL): orch-dask on 2 workers against the thread
  pool, the speed-up.
- ``import orch_dask`` in ms over bare Python (``distributed`` is not imported).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import median_wall_ms, parser, record

PREFECT = """
import sys, time
from prefect import flow, task
from prefect_dask import DaskTaskRunner

@task
def trivial(x):
    return x

@flow(task_runner=DaskTaskRunner(address=sys.argv[1]))
def f(n):
    return [fut.result() for fut in trivial.map(range(n))]

if __name__ == "__main__":
    n = int(sys.argv[2])
    start = time.perf_counter()
    f(n)
    print(time.perf_counter() - start)
"""


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--cpu-n", type=int, default=16)
    p.add_argument("--cpu-size", type=int, default=3_000_000)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    os.environ.setdefault("ORCH_HOME", tempfile.mkdtemp(prefix="orch-dask-bench-"))
    import logging

    from distributed import Client, LocalCluster
    from orch import ThreadPoolTaskRunner, flow
    from orch_dask import DaskTaskRunner

    logging.getLogger("distributed").setLevel(logging.ERROR)
    os.environ.setdefault("ORCH_LOGGING_LEVEL", "WARNING")
    from dask_bench_tasks import burn, orch_burn, orch_trivial, trivial

    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    address = cluster.scheduler_address
    client = Client(address, set_as_default=False)
    raw_s, orch_s, cpu_dask, cpu_thread, cpu_raw = [], [], [], [], []

    @flow(task_runner=DaskTaskRunner(address=address))
    def on_dask(fn: object, items: list[int]) -> list[int]:
        return fn.map(items).result()  # type: ignore[attr-defined]

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=4))
    def on_threads(fn: object, items: list[int]) -> list[int]:
        return fn.map(items).result()  # type: ignore[attr-defined]

    items = list(range(args.n))
    on_dask(orch_trivial, list(range(200)))  # warm-up: workers import the tasks
    client.gather(client.map(trivial, range(200), pure=False))
    from orch import history

    sizes = [args.cpu_size] * args.cpu_n
    for _ in range(args.runs):
        # The CPU-bound pair first, each after the history of the runs before is written
        # (its writer competes for the same cores).
        history.flush()
        start = time.perf_counter()
        on_dask(orch_burn, sizes)
        cpu_dask.append(time.perf_counter() - start)
        history.flush()
        start = time.perf_counter()
        on_threads(orch_burn, sizes)
        cpu_thread.append(time.perf_counter() - start)
        start = time.perf_counter()
        client.gather(client.map(burn, sizes, pure=False))
        cpu_raw.append(time.perf_counter() - start)
        history.flush()
        start = time.perf_counter()
        client.gather(client.map(trivial, items, pure=False))
        raw_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        on_dask(orch_trivial, items)
        orch_s.append(time.perf_counter() - start)
    prefect_s = None
    if args.peers_python:
        script = Path(tempfile.mkdtemp()) / "prefect_dask_bench.py"
        script.write_text(PREFECT)
        out = subprocess.run(
            [args.peers_python, str(script), address, str(args.n)],
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode == 0:
            prefect_s = float(out.stdout.strip().splitlines()[-1])
        else:
            print(f"prefect-dask: not run ({out.stderr.strip().splitlines()[-1:]})")
    client.close()
    cluster.close()
    raw, ours = min(raw_s), min(orch_s)
    n = args.n
    print(f"{f'{n:,}-task map, raw client.map + gather':52} {n / raw:>10,.0f} tasks/s")
    print(f"{f'{n:,}-task map, orch-dask (history recorded)':52} {n / ours:>10,.0f} tasks/s")
    print(f"{'  orch-dask / raw':52} {raw / ours:>10.2f}x   target >= 0.5x")
    print(f"{'  cost of orch per task':52} {(ours - raw) / n * 1e6:>10,.0f} us")
    if prefect_s is not None:
        print(f"{f'{n:,}-task map, prefect-dask':52} {n / prefect_s:>10,.0f} tasks/s")
        print(f"{'  orch-dask / prefect-dask':52} {prefect_s / ours:>10.2f}x")
    best_d, best_t = min(cpu_dask), min(cpu_thread)
    label = f"CPU-bound map ({args.cpu_n} x {args.cpu_size:,} loop), 2 workers"
    print(f"{label:52} {best_d:>10.2f} s")
    print(f"{'  the same on the thread pool (4 threads)':52} {best_t:>10.2f} s")
    print(f"{'  speed-up over the thread pool':52} {best_t / best_d:>10.2f}x   target > 1x")
    print(f"{'  raw client.map of the same function':52} {min(cpu_raw):>10.2f} s")
    bare = median_wall_ms([sys.executable, "-c", "pass"], args.runs)
    pkg = median_wall_ms([sys.executable, "-c", "import orch_dask"], args.runs)
    print(f"{'import orch_dask over bare Python':52} {pkg - bare:>10.1f} ms   target <= 80 ms")
    record("map_rate", f"{n:,}-task map, history recorded", "tasks/s", n / ours, raw=n / raw,
           prefect=n / prefect_s if prefect_s else None, raw_label="client.map + gather",
           better="higher", target=0.5, vs="raw")  # fmt: skip
    record("cpu_map", f"CPU-bound map ({args.cpu_n} x {args.cpu_size:,} loop), 2 workers", "s",
           best_d, raw=min(cpu_raw), raw_label="client.map")  # fmt: skip
    record("cpu_speedup", "CPU-bound map: speed-up over the thread pool", "x", best_t / best_d,
           better="higher", target=1.0)  # fmt: skip
    record("import", "import orch_dask (over bare Python)", "ms", pkg - bare, target=80)


if __name__ == "__main__":
    main()
