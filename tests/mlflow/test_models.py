"""A training-style flow logs, registers and promotes a model; a new process loads it back
by alias and predicts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from orch import flow, task
from orch_mlflow import (
    MlflowInputError,
    MlflowNotFoundError,
    MlflowRun,
    MlflowTrackingServer,
    mlflow_load_model,
    mlflow_log_artifact,
    mlflow_log_metrics,
    mlflow_log_model,
    mlflow_log_params,
    mlflow_register_model,
    mlflow_run,
    mlflow_set_alias,
)

from tests.backends.mlflow import MlflowServer
from tests.mlflow.conftest import unique
from tests.mlflow.models import AddN

ROOT = Path(__file__).resolve().parents[2]


@task
def prepare(run: MlflowRun, n: float) -> dict[str, float]:
    mlflow_log_params(run.server, run, {"n": n, "source": "synthetic"})
    return {"n": n}


@task
def train(run: MlflowRun, config: dict[str, float]) -> str:
    mlflow_log_metrics(run.server, run, [("loss", 1.0 / (s + 1), s) for s in range(20)])
    mlflow_log_artifact(run.server, run, config, name="config.json")
    return mlflow_log_model(run.server, run, AddN(config["n"]), "adder")


@task
def promote(server: MlflowTrackingServer, model_id: str, name: str) -> int:
    version = mlflow_register_model(server, model_id, name)
    mlflow_set_alias(server, name, "champion", version)
    return version


def test_train_register_promote_and_load_by_alias_in_a_new_process(
    server: MlflowTrackingServer, mlflow_server: MlflowServer
) -> None:
    name = unique("adder")

    @flow
    def training(n: float) -> tuple[str, int]:
        with mlflow_run(server) as run:
            model_id = train(run, prepare(run, n))
            return run.run_id, promote(server, model_id, name)

    run_id, version = training(10.0)
    assert version == 1
    client = server.get_client().client
    mv = client.get_model_version_by_alias(name, "champion")
    assert (mv.version, mv.run_id) == ("1", run_id)
    code = (
        "import sys, pandas as pd\n"
        "from orch_mlflow import MlflowTrackingServer, mlflow_load_model\n"
        "server = MlflowTrackingServer(tracking_uri=sys.argv[1])\n"
        "model = mlflow_load_model(server, sys.argv[2], alias='champion')\n"
        "print(model.predict(pd.DataFrame({'x': [1.0, 2.5]}))['x'].tolist())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, mlflow_server.url, name],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "[11.0, 12.5]"
    # a second version, promoted: the alias moves, the version still loads
    _, v2 = training(20.0)
    assert v2 == 2
    import pandas as pd

    frame = pd.DataFrame({"x": [1.0]})
    assert mlflow_load_model(server, name, alias="champion").predict(frame)["x"][0] == 21.0
    assert mlflow_load_model(server, name, version=1).predict(frame)["x"][0] == 11.0


def test_unknown_model_alias_and_version_are_clear_errors(server: MlflowTrackingServer) -> None:
    with pytest.raises(MlflowNotFoundError, match="registered model 'no-such-model'"):
        mlflow_load_model(server, "no-such-model", alias="champion")
    with pytest.raises(MlflowNotFoundError, match="model m-doesnotexist"):
        mlflow_register_model(server, "m-doesnotexist", "x")
    with pytest.raises(MlflowInputError, match="exactly one of alias or version"):
        mlflow_load_model(server, "m")
    with pytest.raises(MlflowInputError, match="no MLflow flavor 'nosuchflavor'"):
        with mlflow_run(server) as run:
            mlflow_log_model(server, run, object(), flavor="nosuchflavor")
