"""AzureCredentials: one tagged auth choice, validated up front; clients cached; the SDK's
HTTP log lines quiet unless asked."""

from __future__ import annotations

import logging

import pytest
from orch.integration import BlockValidationError, MissingDependencyError
from orch_azure import AzureAuthError, AzureBlobContainer, AzureCredentials, blob_upload

from tests.backends.azurite import ACCOUNT_KEY, connection_string

SECRET = "TopSecretValue-123=="


@pytest.mark.parametrize(
    ("fields", "method"),
    [
        ({"connection_string": "AccountName=a;AccountKey=" + SECRET}, "connection_string"),
        ({"account_url": "https://a.blob.core.windows.net", "account_key": SECRET}, "account_key"),
        ({"account_url": "https://a.blob.core.windows.net", "sas_token": "sv=1&sig=x"}, "sas"),
        ({"tenant_id": "t", "client_id": "c", "client_secret": SECRET}, "service_principal"),
        (
            {"tenant_id": "t", "client_id": "c", "client_certificate_path": "/c.pem"},
            "service_principal",
        ),
        ({}, "default"),
        ({"managed_identity_client_id": "mi"}, "default"),
    ],
)
def test_the_method_is_inferred_from_the_fields(fields: dict[str, str], method: str) -> None:
    creds = AzureCredentials(**fields)
    assert creds.auth_method == method
    assert AzureCredentials(auth_method=method, **fields) == creds


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        (
            {"account_url": "https://a", "account_key": SECRET, "sas_token": SECRET},
            ["two auth methods at once", "account_key", "sas"],
        ),
        (
            {"connection_string": "AccountName=a;AccountKey=k", "client_secret": SECRET},
            ["two auth methods at once", "connection_string", "service_principal"],
        ),
        ({"auth_method": "account_key", "account_key": SECRET}, ["needs account_url"]),
        ({"auth_method": "sas", "account_url": "https://a"}, ["needs sas_token"]),
        (
            {
                "auth_method": "account_key",
                "account_url": "https://a",
                "account_key": SECRET,
                "client_id": "c",
            },
            ["client_id", "not used by auth_method 'account_key'"],
        ),
        (
            {"tenant_id": "t", "client_id": "c"},
            ["exactly one of client_secret, client_certificate"],
        ),
        (
            {
                "tenant_id": "t",
                "client_id": "c",
                "client_secret": SECRET,
                "client_certificate_path": "/c.pem",
            },
            ["exactly one of"],
        ),
        ({"account_url": "a.blob.core.windows.net", "account_key": SECRET}, ["http(s) URL"]),
        ({"connection_string": SECRET}, ["connection_string is malformed"]),
        ({"connection_string": f"AccountName=a;Key={SECRET}"}, ["unknown key 'Key'"]),
        ({"connection_string": "AccountName=a;BlobEndpoint=http://x"}, ["no AccountKey"]),
        ({"connection_string": f"AccountKey={SECRET}"}, ["no AccountName"]),
    ],
)
def test_bad_input_is_one_clear_error_without_the_secret(
    fields: dict[str, str], words: list[str]
) -> None:
    with pytest.raises(BlockValidationError) as caught:
        AzureCredentials(**fields)
    message = str(caught.value)
    assert "invalid azure-credentials block" in message
    for word in words:
        assert word in message
    assert SECRET not in message


def test_a_connection_string_reference_is_checked_when_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from orch import SecretRef

    monkeypatch.setenv("ORCH_TEST_CONN", f"not-a-connection-string-{SECRET}")
    creds = AzureCredentials(connection_string=SecretRef("env://ORCH_TEST_CONN"))
    with pytest.raises(ValueError, match="malformed") as caught:
        creds.get_client().blob_service()
    assert SECRET not in str(caught.value)


def test_clients_are_cached_per_block_content(azurite_blob: str) -> None:
    a = AzureCredentials(account_url=azurite_blob, account_key=ACCOUNT_KEY)
    b = AzureCredentials(account_url=azurite_blob, account_key=ACCOUNT_KEY)
    assert a.get_client() is b.get_client()
    assert a.get_client().blob_service() is b.get_client().blob_service()
    c = AzureCredentials(connection_string=connection_string(azurite_blob))
    assert c.get_client() is not a.get_client()


def test_the_clients_are_sync(creds: AzureCredentials) -> None:
    from azure.storage.blob import BlobServiceClient

    assert type(creds.get_client().blob_service()) is BlobServiceClient


def test_storage_credentials_cannot_reach_key_vault(creds: AzureCredentials) -> None:
    with pytest.raises(AzureAuthError, match="Key Vault needs a token"):
        creds.get_client().secret_client("https://acme.vault.azure.net")


def test_token_methods_need_azure_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "azure.identity", None)  # as if not installed
    creds = AzureCredentials(tenant_id="t", client_id="c", client_secret=SECRET)
    with pytest.raises(MissingDependencyError, match=r"orch-azure\[identity\]"):
        creds.get_client().token_credential()


def _azure_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("azure") and r.levelno >= logging.INFO]


def test_sdk_http_logging_is_quiet_unless_asked(
    azurite_blob: str, caplog: pytest.LogCaptureFixture
) -> None:
    quiet = AzureCredentials(account_url=azurite_blob, account_key=ACCOUNT_KEY)
    name = "orch-quiet-log"
    quiet.get_client().blob_service().create_container(name)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        blob_upload(AzureBlobContainer(container_name=name, credentials=quiet), b"x", "a")
    assert _azure_records(caplog) == []

    loud = AzureCredentials(account_url=azurite_blob, account_key=ACCOUNT_KEY, http_logging=True)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        blob_upload(AzureBlobContainer(container_name=name, credentials=loud), b"x", "b")
    lines = "\n".join(r.getMessage() for r in _azure_records(caplog))
    assert "Request URL" in lines
    assert ACCOUNT_KEY not in lines  # the SDK redacts its Authorization header
