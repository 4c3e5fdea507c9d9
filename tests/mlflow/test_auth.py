"""The block's token or username/password reach the server on every request (tracking,
registry and artifacts), through the auth-checking proxy of tests/backends/mlflow.py in
front of the real server; they never enter os.environ nor a message."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from orch_mlflow import (
    MlflowAuthError,
    MlflowTrackingServer,
    mlflow_log_artifact,
    mlflow_log_metrics,
    mlflow_run,
)

from tests.backends.mlflow import AUTH_PASSWORD, AUTH_TOKEN, AUTH_USER, AuthProxy
from tests.mlflow.conftest import unique


@pytest.mark.parametrize("how", ["token", "basic"])
def test_credentials_are_sent_on_every_request(
    how: str, mlflow_auth_proxy: AuthProxy, tmp_path: Path
) -> None:
    auth = (
        {"token": AUTH_TOKEN}
        if how == "token"
        else {"username": AUTH_USER, "password": AUTH_PASSWORD}
    )
    server = MlflowTrackingServer(
        tracking_uri=mlflow_auth_proxy.url, experiment_name=unique("auth"), **auth
    )
    refused = mlflow_auth_proxy.refused
    (tmp_path / "a.txt").write_text("a")
    with mlflow_run(server) as run:
        mlflow_log_metrics(server, run, {"m": 1})
        mlflow_log_artifact(server, run, tmp_path / "a.txt")
    repo = server.get_client().artifact_repo(run.artifact_uri)
    assert [f.path for f in repo.list_artifacts()] == ["a.txt"]
    (tmp_path / "d").mkdir()
    out = repo.download_artifacts("a.txt", dst_path=str(tmp_path / "d"))
    assert Path(out).read_text() == "a"
    assert mlflow_auth_proxy.refused == refused
    assert not any(AUTH_TOKEN in v or AUTH_PASSWORD in v for v in os.environ.values())


def test_a_wrong_token_is_an_auth_error_without_the_token(mlflow_auth_proxy: AuthProxy) -> None:
    server = MlflowTrackingServer(
        tracking_uri=mlflow_auth_proxy.url, token="wrong-Token-42", experiment_name=unique("a")
    )
    with pytest.raises(MlflowAuthError, match="refused the credentials") as info:
        with mlflow_run(server):
            pass
    assert "wrong-Token-42" not in str(info.value)
    assert info.value.__cause__ is not None


def test_429_answers_are_retried_with_backoff(mlflow_auth_proxy: AuthProxy) -> None:
    server = MlflowTrackingServer(
        tracking_uri=mlflow_auth_proxy.url, token=AUTH_TOKEN, experiment_name=unique("rl")
    )
    with mlflow_run(server) as run:
        before = mlflow_auth_proxy.throttled
        mlflow_auth_proxy.throttle = 2
        started = time.monotonic()
        assert mlflow_log_metrics(server, run, {"m": 1.0}) == 1
        assert mlflow_auth_proxy.throttled - before == 2
        assert time.monotonic() - started >= 1.5  # it waited as told (Retry-After: 1)
    assert server.get_client().client.get_run(run.run_id).data.metrics == {"m": 1.0}
