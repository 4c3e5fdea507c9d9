"""Fixtures of the orch-azure tests: credentials for the session's Azurite server."""

from __future__ import annotations

import uuid

import pytest
from orch_azure import AzureBlobContainer, AzureCredentials

from tests.backends.azurite import ACCOUNT_KEY, connection_string

_AZURE_ENV = (
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_TENANT_ID",
    "AZURE_AUTHORITY_HOST",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_STORAGE_CONNECTION_STRING",
    "IDENTITY_ENDPOINT",
    "MSI_ENDPOINT",
    "ORCH_AZURE_CREDENTIALS_BLOCK",
)


def unique(prefix: str = "orch") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture(autouse=True)
def _no_host_azure_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test sets reaches azure-identity: never this machine's AZURE_* settings."""
    for name in _AZURE_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def creds(azurite_blob: str) -> AzureCredentials:
    """Account-key credentials of Azurite's development account."""
    return AzureCredentials(account_url=azurite_blob, account_key=ACCOUNT_KEY)


@pytest.fixture
def conn_creds(azurite_blob: str) -> AzureCredentials:
    return AzureCredentials(connection_string=connection_string(azurite_blob))


@pytest.fixture
def container(creds: AzureCredentials) -> AzureBlobContainer:
    """A fresh container, with a folder, for one test."""
    name = unique("orch")
    creds.get_client().blob_service().create_container(name)
    return AzureBlobContainer(container_name=name, credentials=creds, folder="data")
