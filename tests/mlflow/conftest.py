"""Fixtures of the orch-mlflow tests: a block on the session's MLflow server."""

from __future__ import annotations

import uuid

import pytest
from orch_mlflow import MlflowTrackingServer

from tests.backends.mlflow import MlflowServer


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(autouse=True)
def _no_host_mlflow_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the block configures the client: never this machine's MLFLOW_* settings."""
    for name in (
        "MLFLOW_TRACKING_URI",
        "MLFLOW_TRACKING_TOKEN",
        "MLFLOW_TRACKING_USERNAME",
        "MLFLOW_TRACKING_PASSWORD",
        "MLFLOW_REGISTRY_URI",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server(mlflow_server: MlflowServer) -> MlflowTrackingServer:
    """A block on the session's server, with an experiment of this test's own."""
    return MlflowTrackingServer(
        tracking_uri=mlflow_server.url,
        experiment_name=unique("exp"),
        default_tags={"team": "ml"},
    )
