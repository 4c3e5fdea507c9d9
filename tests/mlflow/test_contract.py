"""orch-mlflow's block keeps the contract of :mod:`orch.testing` (against the real server).

``MlflowTrackingServer`` is a Connector (its client is an ``MlflowSession``); saved and
loaded, it pickles by its name with no secret byte in the pickle.
"""

from __future__ import annotations

import pytest
from orch.testing import BlockContract, ConnectorContract
from orch_mlflow import MlflowSession, MlflowTrackingServer

from tests.backends.mlflow import MlflowServer


class TestMlflowTrackingServer(ConnectorContract):
    block_type = MlflowTrackingServer

    @pytest.fixture
    def block(self, mlflow_server: MlflowServer) -> MlflowTrackingServer:
        return MlflowTrackingServer(tracking_uri=mlflow_server.url, experiment_name="contract")

    def probe(self, client: MlflowSession) -> None:
        client.client.search_experiments(max_results=1)


class TestMlflowTrackingServerBasicAuth(BlockContract):
    block_type = MlflowTrackingServer

    @pytest.fixture
    def block(self) -> MlflowTrackingServer:
        return MlflowTrackingServer(
            tracking_uri="https://mlflow.example.com",
            username="contract-user",
            password="contract-Password-1",
        )
