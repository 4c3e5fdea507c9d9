"""Runs, params, metrics, artifacts and search against a real MLflow server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from orch import ProcessPoolTaskRunner, flow, get_run_context, history, task
from orch_mlflow import (
    MlflowConnectionError,
    MlflowInputError,
    MlflowNotFoundError,
    MlflowRun,
    MlflowTrackingServer,
    mlflow_child_run,
    mlflow_log_artifact,
    mlflow_log_artifacts,
    mlflow_log_metrics,
    mlflow_log_params,
    mlflow_run,
    mlflow_search_runs,
)
from orch_mlflow.tasks import MAX_METRICS_PER_BATCH

from tests.backends.mlflow import MlflowServer
from tests.backends.service import free_port

ROOT = Path(__file__).resolve().parents[2]


def _run(server: MlflowTrackingServer, run_id: str):  # type: ignore[no-untyped-def]
    return server.get_client().client.get_run(run_id)


def test_flow_run_opens_one_tagged_run_and_ends_it(
    server: MlflowTrackingServer, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: dict[str, str] = {}

    @flow(flow_run_name="nightly-train")
    def train() -> str:
        with mlflow_run(server, tags={"stage": "dev"}) as run:
            seen["flow_run_id"] = get_run_context().flow_run.id
            return run.run_id

    run_id = train()
    got = _run(server, run_id)
    assert got.info.status == "FINISHED"
    assert got.info.run_name == "nightly-train"
    assert got.data.tags["orch.flow_name"] == "train"
    assert got.data.tags["orch.flow_run_id"] == seen["flow_run_id"]
    assert got.data.tags["team"] == "ml"  # the block's default tags
    assert got.data.tags["stage"] == "dev"
    # What `orch runs logs` shows: the MLflow run's id and URL (MLflow's own stdout print
    # of the URL is silenced).
    lines = [r["message"] for r in history.get_logs(seen["flow_run_id"])]
    assert f"MLflow run {run_id}: {server.tracking_uri}/#/experiments/" in "\n".join(lines)
    assert "View run" not in capsys.readouterr().out
    # `orch runs show` prints the linked MLflow run with the flow run.
    shown = subprocess.run(
        [sys.executable, "-m", "orch.cli.main", "runs", "show", seen["flow_run_id"]],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"mlflow run {run_id}  {server.tracking_uri}/#/experiments/" in shown
    assert history.get_flow_run(seen["flow_run_id"])["links"]["mlflow run"].startswith(run_id)


def test_a_failing_flow_marks_its_run_failed(server: MlflowTrackingServer) -> None:
    ids: list[str] = []

    @flow
    def broken() -> None:
        with mlflow_run(server) as run:
            ids.append(run.run_id)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        broken()
    assert _run(server, ids[0]).info.status == "FAILED"


def test_as_a_flow_decorator_the_function_gets_the_run(server: MlflowTrackingServer) -> None:
    @flow
    @mlflow_run(server)
    def train(lr: float, mlflow_run: MlflowRun | None = None) -> str:
        assert mlflow_run is not None
        mlflow_log_params(server, mlflow_run, {"lr": lr})
        return mlflow_run.run_id

    run_id = train(0.5)
    got = _run(server, run_id)
    assert got.data.params == {"lr": "0.5"}
    assert got.info.status == "FINISHED"


def test_params_and_metrics_are_batched(server: MlflowTrackingServer) -> None:
    with mlflow_run(server, "batched") as run:
        assert mlflow_log_params(server, run, {f"p{i}": i for i in range(150)}) == 150
        history = [("loss", 1.0 / (i + 1), i) for i in range(2500)]
        assert mlflow_log_metrics(server, run.run_id, history) == 2500
        assert mlflow_log_metrics(server, run.run_id, {"auc": 0.9, "acc": 1}, step=7) == 2
    client = server.get_client().client
    got = client.get_run(run.run_id)
    assert len(got.data.params) == 150 and got.data.params["p149"] == "149"
    assert got.data.metrics["auc"] == 0.9
    loss = client.get_metric_history(run.run_id, "loss")
    assert len(loss) == 2500
    assert sorted(m.step for m in loss) == list(range(2500))
    assert MAX_METRICS_PER_BATCH == 1000  # 2,500 metrics went in 3 requests


def test_a_metric_that_is_not_a_number_is_refused_naming_it(
    server: MlflowTrackingServer,
) -> None:
    with mlflow_run(server) as run:
        with pytest.raises(MlflowInputError, match="metric 'acc' is str 'high', not a number"):
            mlflow_log_metrics(server, run.run_id, {"loss": 0.1, "acc": "high"})
        with pytest.raises(MlflowInputError, match="'flag' is bool"):
            mlflow_log_metrics(server, run.run_id, {"flag": True})
    assert _run(server, run.run_id).data.metrics == {}  # nothing was sent


class _Figure:
    """Anything with matplotlib's ``savefig(path)``."""

    def savefig(self, path: Path) -> None:
        Path(path).write_bytes(b"\x89PNG fake")


def test_artifacts_files_folders_dicts_and_figures(
    server: MlflowTrackingServer, tmp_path: Path
) -> None:
    report = tmp_path / "report.txt"
    report.write_text("ok")
    plots = tmp_path / "plots"
    (plots / "sub").mkdir(parents=True)
    (plots / "a.txt").write_text("a")
    (plots / "sub" / "b.txt").write_text("b")
    with mlflow_run(server) as run:
        assert mlflow_log_artifact(server, run, report) == "report.txt"
        assert mlflow_log_artifact(server, run, {"cols": ["x"]}, "meta", name="f.json") == (
            "meta/f.json"
        )
        assert mlflow_log_artifact(server, run, _Figure(), "figs") == "figs/figure.png"
        assert mlflow_log_artifacts(server, run, plots, "plots") == 2
    repo = server.get_client().artifact_repo(run.artifact_uri)
    names = {f.path for f in repo.list_artifacts()}
    assert names == {"report.txt", "meta", "figs", "plots"}
    (tmp_path / "down").mkdir()
    out = Path(repo.download_artifacts("", dst_path=str(tmp_path / "down")))
    assert json.loads((out / "meta" / "f.json").read_text()) == {"cols": ["x"]}
    assert (out / "plots" / "sub" / "b.txt").read_text() == "b"
    assert (out / "figs" / "figure.png").read_bytes().startswith(b"\x89PNG")


def test_an_artifact_path_that_does_not_exist_is_a_clear_error(
    server: MlflowTrackingServer, tmp_path: Path
) -> None:
    with mlflow_run(server) as run:
        with pytest.raises(MlflowInputError, match=r"nope\.csv' does not exist"):
            mlflow_log_artifact(server, run, tmp_path / "nope.csv")
        with pytest.raises(MlflowInputError, match="is not a folder"):
            mlflow_log_artifacts(server, run, tmp_path / "nodir")


@task
def fit(run: MlflowRun, depth: int) -> str:
    with mlflow_child_run(run) as child:
        mlflow_log_metrics(run.server, child, {"depth": depth, "pid": os.getpid()})
        return child.run_id


def _check_children(server: MlflowTrackingServer, parent: str, children: list[str]) -> None:
    assert len(set(children)) == len(children) == 3
    for child_id in children:
        child = _run(server, child_id)
        assert child.data.tags["mlflow.parentRunId"] == parent
        assert child.data.tags["orch.task_name"] == "fit"
        assert child.info.status == "FINISHED"
    found = mlflow_search_runs(server, f"tags.mlflow.parentRunId = '{parent}'")
    assert {r["run_id"] for r in found} == set(children)


def test_tasks_open_child_runs_nested_under_the_flows(server: MlflowTrackingServer) -> None:
    @flow
    def sweep() -> tuple[str, list[str]]:
        with mlflow_run(server) as run:
            futures = fit.map(run, [2, 4, 8])
            return run.run_id, [f.result() for f in futures]

    parent, children = sweep()
    _check_children(server, parent, children)


def test_on_a_process_pool_every_tasks_run_is_nested(server: MlflowTrackingServer) -> None:
    @flow(task_runner=ProcessPoolTaskRunner(max_workers=2))
    def sweep() -> tuple[str, list[str]]:
        with mlflow_run(server) as run:
            futures = fit.map(run, [2, 4, 8])
            return run.run_id, [f.result() for f in futures]

    parent, children = sweep()
    _check_children(server, parent, children)
    pids = {_run(server, c).data.metrics["pid"] for c in children}
    assert os.getpid() not in pids  # they really ran in other processes


def test_another_process_joins_the_run_by_its_id(
    server: MlflowTrackingServer, mlflow_server: MlflowServer
) -> None:
    code = (
        "import sys\n"
        "from orch_mlflow import MlflowTrackingServer, mlflow_log_metrics, mlflow_run\n"
        "server = MlflowTrackingServer(tracking_uri=sys.argv[1], experiment_name=sys.argv[2])\n"
        "with mlflow_run(server, run_id=sys.argv[3]) as run:\n"
        "    mlflow_log_metrics(server, run, {'remote': 1.5})\n"
    )
    with mlflow_run(server) as run:
        out = subprocess.run(
            [sys.executable, "-c", code, mlflow_server.url, server.experiment_name, run.run_id],
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
        )
        assert out.returncode == 0, out.stderr[-2000:]
        assert _run(server, run.run_id).info.status == "RUNNING"  # the joiner did not end it
    got = _run(server, run.run_id)
    assert got.data.metrics["remote"] == 1.5
    assert got.info.status == "FINISHED"


def test_search_runs_as_dicts_and_as_a_frame(server: MlflowTrackingServer) -> None:
    for auc in (0.7, 0.8, 0.9):
        with mlflow_run(server, f"auc-{auc}") as run:
            mlflow_log_metrics(server, run, {"auc": auc})
            mlflow_log_params(server, run, {"auc_param": auc})
    rows = mlflow_search_runs(server, "metrics.auc > 0.75", order_by=["metrics.auc DESC"])
    assert [r["metrics"]["auc"] for r in rows] == [0.9, 0.8]
    assert rows[0]["run_name"] == "auc-0.9" and rows[0]["tags"]["team"] == "ml"
    frame = mlflow_search_runs(server, as_frame=True, order_by=["metrics.auc ASC"])
    assert list(frame["metrics.auc"]) == [0.7, 0.8, 0.9]
    with pytest.raises(MlflowNotFoundError, match="no experiment named 'nope-exp'"):
        mlflow_search_runs(server, experiment_names=["nope-exp"])


def test_unknown_experiment_and_run_are_clear_errors(mlflow_server: MlflowServer) -> None:
    strict = MlflowTrackingServer(
        tracking_uri=mlflow_server.url, experiment_name="missing-exp", create_experiment=False
    )
    with pytest.raises(MlflowNotFoundError, match="no experiment named 'missing-exp'"):
        with mlflow_run(strict):
            pass
    with pytest.raises(MlflowNotFoundError, match="run 0123456789abcdef"):
        mlflow_log_params(strict, "0123456789abcdef", {"a": 1})


def test_server_down_fails_fast_with_a_clear_error() -> None:
    down = MlflowTrackingServer(
        tracking_uri=f"http://127.0.0.1:{free_port()}", token="tok-Secret-123", connect_timeout=1
    )
    started = time.monotonic()
    with pytest.raises(MlflowConnectionError, match="did not answer within 1 s") as info:
        with mlflow_run(down):
            pass
    assert time.monotonic() - started < 5
    assert "tok-Secret-123" not in str(info.value)


def test_bad_block_input_names_the_field() -> None:
    with pytest.raises(ValueError, match="http:// or https://"):
        MlflowTrackingServer(tracking_uri="localhost:5000")
    with pytest.raises(ValueError, match="either token or username and password"):
        MlflowTrackingServer(tracking_uri="http://x", token="t", username="u", password="p")
    with pytest.raises(ValueError, match="username and password go together"):
        MlflowTrackingServer(tracking_uri="http://x", username="u")
