"""orch-azure's blocks keep the contract of :mod:`orch.testing` (against Azurite).

``AzureCredentials`` is a Connector (its client is the holder of the SDK's sync clients);
``AzureBlobContainer`` and ``AzureKeyVault`` are blocks that use their credentials'
clients. Every one, saved and loaded, pickles by its name with no secret byte in it.
"""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from orch.testing import BlockContract, ConnectorContract
from orch_azure import AzureBlobContainer, AzureCredentials, AzureKeyVault

from tests.backends.azurite import ACCOUNT_KEY


class TestAzureCredentials(ConnectorContract):
    block_type = AzureCredentials

    @pytest.fixture
    def block(self, azurite_blob: str) -> AzureCredentials:
        # Content no other test's block has: the close checks need the only holders.
        return AzureCredentials(
            account_url=azurite_blob, account_key=ACCOUNT_KEY, http_logging=True
        )

    def probe(self, client: Any) -> None:
        list(client.blob_service().list_containers())


class TestAzureBlobContainer(BlockContract):
    block_type = AzureBlobContainer

    @pytest.fixture
    def block(self, azurite_blob: str) -> AzureBlobContainer:
        return AzureBlobContainer(
            container_name="contract",
            folder="raw",
            credentials=AzureCredentials(account_url=azurite_blob, account_key=ACCOUNT_KEY),
        )


class TestAzureKeyVault(BlockContract):
    block_type = AzureKeyVault

    @pytest.fixture
    def block(self) -> AzureKeyVault:
        return AzureKeyVault.block_sample()


def test_a_pickled_loaded_container_holds_no_secret_bytes(azurite_blob: str) -> None:
    creds = AzureCredentials(account_url=azurite_blob, account_key=ACCOUNT_KEY)
    block = AzureBlobContainer(container_name="pickled", credentials=creds)
    block.save("pickled")
    loaded = AzureBlobContainer.load("pickled")
    loaded.credentials.get_client().blob_service()
    data = pickle.dumps(loaded)
    assert ACCOUNT_KEY.encode() not in data
    back = pickle.loads(data)
    assert back == loaded
    assert back.credentials.get_client() is loaded.credentials.get_client()
