"""orch-mlflow figures, side by side with MLflow's own client in the same run, against a
local MLflow server (the venv tests/backends/mlflow.py installs under .cache/).

- 10,000 metrics: ``mlflow_log_metrics`` (batched: 1,000 per request) vs
  ``mlflow.log_metric`` in a loop (one request each). Target: well above 1x.
- Task overhead per logging call: ``mlflow_log_params`` (an orch task, outside a flow)
  vs ``MlflowClient.log_batch`` with one param, per call.
- ``import orch_mlflow`` vs ``import mlflow``, in ms over bare Python. Target: <= 80 ms.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests.backends.mlflow
from _common import median_wall_ms, parser, record


def start_server(base: Path):  # type: ignore[no-untyped-def]
    from tests.backends.mlflow import start_mlflow

    return start_mlflow(base)


def bench_metrics(url: str, n: int) -> tuple[float, float]:
    """Seconds to log ``n`` metrics: (orch batched, mlflow.log_metric loop)."""
    import mlflow
    from orch_mlflow import MlflowTrackingServer, mlflow_log_metrics, mlflow_run

    server = MlflowTrackingServer(tracking_uri=url, experiment_name="bench")
    values = [("loss", 1.0 / (i + 1), i) for i in range(n)]
    with mlflow_run(server) as run:
        start = time.perf_counter()
        mlflow_log_metrics(server, run, values)
        ours = time.perf_counter() - start
    mlflow.set_tracking_uri(url)
    mlflow.set_experiment("bench")
    with mlflow.start_run():
        start = time.perf_counter()
        for key, value, step in values:
            mlflow.log_metric(key, value, step=step)
        theirs = time.perf_counter() - start
    return ours, theirs


def bench_overhead(url: str, n: int, runs: int) -> tuple[float, float]:
    """Median µs per call: (mlflow_log_params task, raw MlflowClient.log_batch)."""
    from mlflow import MlflowClient
    from mlflow.entities import Param
    from orch_mlflow import MlflowTrackingServer, mlflow_log_params, mlflow_run

    server = MlflowTrackingServer(tracking_uri=url, experiment_name="bench")
    raw = MlflowClient(url)
    ours, theirs = [], []
    with mlflow_run(server) as run:
        for r in range(runs):
            start = time.perf_counter()
            for i in range(n):
                mlflow_log_params(server, run, {f"o{r}-{i}": i})
            ours.append((time.perf_counter() - start) / n * 1e6)
            start = time.perf_counter()
            for i in range(n):
                raw.log_batch(run.run_id, params=[Param(f"r{r}-{i}", str(i))])
            theirs.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(ours), statistics.median(theirs)


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--n", type=int, default=10_000, help="metrics logged each way")
    p.add_argument("--calls", type=int, default=200, help="logging calls per overhead run")
    p.add_argument("--runs", type=int, default=3, help="overhead runs, each side")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["ORCH_HOME"] = str(Path(tmp) / "home")
        for name in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_TOKEN"):
            os.environ.pop(name, None)
        service, server = start_server(Path(tmp) / "mlflow")
        try:
            ours, theirs = bench_metrics(server.url, args.n)
            task_us, raw_us = bench_overhead(server.url, args.calls, args.runs)
        finally:
            service.stop()
    bare = median_wall_ms([sys.executable, "-c", "pass"], 9)
    orch_import = median_wall_ms([sys.executable, "-c", "import orch_mlflow"], 9) - bare
    mlflow_import = median_wall_ms([sys.executable, "-c", "import mlflow"], 5) - bare
    print(f"{'metric':52} {'value':>14}  target")
    print("-" * 76)
    print(f"{f'{args.n:,} metrics: mlflow_log_metrics (batched)':52} {ours * 1000:>11,.1f} ms")
    print(f"{f'{args.n:,} metrics: mlflow.log_metric loop':52} {theirs * 1000:>11,.1f} ms")
    print(f"{'metrics: speed-up of batching':52} {theirs / ours:>13.1f}x  well above 1x")
    print(f"{'per logging call: mlflow_log_params task':52} {task_us:>11,.0f} us")
    print(f"{'per logging call: MlflowClient.log_batch':52} {raw_us:>11,.0f} us")
    print(f"{'per logging call: task overhead':52} {task_us - raw_us:>11,.0f} us")
    print(f"{'import orch_mlflow (over bare python)':52} {orch_import:>11,.1f} ms  <= 80 ms")
    print(f"{'import mlflow (over bare python)':52} {mlflow_import:>11,.1f} ms")
    record("log_metrics", f"{args.n:,} metrics: mlflow_log_metrics (batched)", "ms",
           ours * 1000, raw=theirs * 1000, raw_label="log_metric loop", target=1.0,
           vs="raw")  # fmt: skip
    record("log_params_call", "per logging call: mlflow_log_params task", "µs", task_us,
           raw=raw_us, raw_label="MlflowClient.log_batch")  # fmt: skip
    record("import", "import orch_mlflow / mlflow (over bare Python)", "ms", orch_import,
           raw=mlflow_import, raw_label="mlflow", target=80)  # fmt: skip


if __name__ == "__main__":
    main()
