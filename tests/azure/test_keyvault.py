"""AzureKeyVault, the keyvault_* tasks and token credentials, against the fake Key Vault
(tests/backends/azure_keyvault.py) driven by the real SecretClient and azure-identity."""

from __future__ import annotations

import logging

import pytest
from orch.integration import AuthError, NotFoundError, SecretStore
from orch_azure import (
    AzureAuthError,
    AzureCredentials,
    AzureExistsError,
    AzureKeyVault,
    AzureNotFoundError,
    keyvault_delete,
    keyvault_read,
    keyvault_write,
)

from tests.backends.azure_keyvault import CLIENT_ID, CLIENT_SECRET, TENANT, FakeKeyVault

from .conftest import unique


@pytest.fixture(autouse=True)
def _trust_the_fake(azure_keyvault: FakeKeyVault, monkeypatch: pytest.MonkeyPatch) -> None:
    # The SDK's HTTP client (requests) trusts the fake's throwaway CA through this.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", azure_keyvault.ca_path)


def sp_credentials(kv: FakeKeyVault, **fields: str | None) -> AzureCredentials:
    base: dict[str, str | None] = {
        "tenant_id": TENANT,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "authority_host": kv.authority,
    }
    base.update(fields)
    return AzureCredentials(disable_instance_discovery=True, **base)  # type: ignore[arg-type]


def vault_of(kv: FakeKeyVault, creds: AzureCredentials, **fields: str) -> AzureKeyVault:
    # The fake answers on 127.0.0.1, not on a *.vault.azure.net name: the SDK's check that
    # the challenge names the vault's domain cannot hold there.
    return AzureKeyVault(
        vault_url=kv.url, credentials=creds, verify_challenge_resource=False, **fields
    )


@pytest.fixture
def vault(azure_keyvault: FakeKeyVault) -> AzureKeyVault:
    return vault_of(azure_keyvault, sp_credentials(azure_keyvault))


def name() -> str:
    return unique("kv")


def test_write_read_versions_and_delete(vault: AzureKeyVault) -> None:
    secret = name()
    v1 = keyvault_write(vault, secret, "first", content_type="text/plain", tags={"app": "etl"})
    v2 = keyvault_write(vault, secret, "second")
    assert v1 != v2
    assert keyvault_read(vault, secret) == "second"
    assert keyvault_read(vault, secret, version=v1) == "first"
    assert keyvault_delete(vault, secret) == secret
    with pytest.raises(AzureNotFoundError) as caught:
        keyvault_read(vault, secret)
    assert "no such secret" in str(caught.value) and secret in str(caught.value)
    # soft-deleted: the name is taken until purged
    with pytest.raises(AzureExistsError, match="deleted but recoverable"):
        keyvault_write(vault, secret, "third")


def test_purge_frees_the_name(vault: AzureKeyVault, azure_keyvault: FakeKeyVault) -> None:
    secret = name()
    keyvault_write(vault, secret, "x")
    keyvault_delete(vault, secret, purge=True)
    assert secret not in azure_keyvault.deleted
    keyvault_write(vault, secret, "again")
    assert keyvault_read(vault, secret) == "again"


def test_missing_secret_and_version(vault: AzureKeyVault) -> None:
    with pytest.raises(NotFoundError, match="no such secret"):
        keyvault_read(vault, "never-written")
    secret = name()
    keyvault_write(vault, secret, "v")
    with pytest.raises(AzureNotFoundError) as caught:
        keyvault_read(vault, secret, version="0" * 32)
    assert f"{secret}/{'0' * 32}" in str(caught.value)
    with pytest.raises(AzureNotFoundError):
        keyvault_delete(vault, "never-written")


def test_one_token_for_many_calls_and_quiet_http_logs(
    vault: AzureKeyVault, azure_keyvault: FakeKeyVault, caplog: pytest.LogCaptureFixture
) -> None:
    secret = name()
    keyvault_write(vault, secret, "v")
    tokens = len(azure_keyvault.tokens)
    with caplog.at_level(logging.INFO):
        for _ in range(5):
            keyvault_read(vault, secret)
    noisy = [r for r in caplog.records if r.name.startswith("azure.core") and r.levelno >= 20]
    assert noisy == []
    assert len(azure_keyvault.tokens) == tokens  # the cached credential's token is reused
    assert vault.get_client() is vault.get_client()


def test_secret_store_role(vault: AzureKeyVault) -> None:
    store = vault.model_copy(update={"secret_name": name()})
    assert isinstance(store, SecretStore)
    version = store.write_secret(b"s3cret")
    assert version
    assert store.read_secret() == b"s3cret"
    assert store.delete_secret() == store.secret_name
    with pytest.raises(ValueError, match="no secret_name"):
        vault.read_secret()


def test_certificate_credentials(azure_keyvault: FakeKeyVault, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import trustme

    leaf = trustme.CA().issue_cert("orch-client", key_type=trustme.KeyType.RSA)  # RS256 needs RSA
    pem = leaf.private_key_and_cert_chain_pem.bytes()
    path = tmp_path / "client.pem"
    path.write_bytes(pem)
    for fields in ({"client_certificate_path": str(path)}, {"client_certificate": pem.decode()}):
        creds = AzureCredentials(
            tenant_id=TENANT,
            client_id=CLIENT_ID,
            authority_host=azure_keyvault.authority,
            disable_instance_discovery=True,
            **fields,  # type: ignore[arg-type]
        )
        vault = vault_of(azure_keyvault, creds)
        secret = name()
        keyvault_write(vault, secret, "by certificate")
        assert keyvault_read(vault, secret) == "by certificate"


def test_default_azure_credential_from_the_environment(
    azure_keyvault: FakeKeyVault, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_TENANT_ID", TENANT)
    monkeypatch.setenv("AZURE_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", azure_keyvault.authority)
    creds = AzureCredentials(disable_instance_discovery=True)
    assert creds.auth_method == "default"
    vault = vault_of(azure_keyvault, creds)
    secret = name()
    keyvault_write(vault, secret, "by default")
    assert keyvault_read(vault, secret) == "by default"


def test_a_wrong_client_secret_is_an_auth_error_without_it(azure_keyvault: FakeKeyVault) -> None:
    wrong = "wrong-client-secret-123"
    vault = vault_of(azure_keyvault, sp_credentials(azure_keyvault, client_secret=wrong))
    with pytest.raises(AzureAuthError) as caught:
        keyvault_read(vault, "anything")
    assert isinstance(caught.value, AuthError)
    message = str(caught.value)
    assert "service_principal" in message
    assert wrong not in message and CLIENT_SECRET not in message


def test_the_challenge_check_is_on_by_default(azure_keyvault: FakeKeyVault) -> None:
    vault = AzureKeyVault(vault_url=azure_keyvault.url, credentials=sp_credentials(azure_keyvault))
    with pytest.raises(Exception, match="does not match the requested domain"):
        keyvault_read(vault, "anything")


def test_vault_url_forms() -> None:
    creds = AzureCredentials(auth_method="default")
    assert AzureKeyVault(vault_url="acme", credentials=creds).vault_url == (
        "https://acme.vault.azure.net"
    )
    assert AzureKeyVault(vault_url="acme.vault.azure.cn", credentials=creds).vault_url == (
        "https://acme.vault.azure.cn"
    )
    with pytest.raises(ValueError, match="invalid Key Vault secret name"):
        AzureKeyVault(vault_url="acme", credentials=creds, secret_name="bad_name")


def test_a_bad_certificate_is_a_clear_error(azure_keyvault: FakeKeyVault, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import trustme

    ec = trustme.CA().issue_cert("ec-client").private_key_and_cert_chain_pem.bytes()  # ECDSA
    for fields in (
        {"client_certificate": ec.decode()},
        {"client_certificate_path": str(tmp_path / "missing.pem")},
    ):
        creds = sp_credentials(azure_keyvault, client_secret=None, **fields)  # type: ignore[arg-type]
        with pytest.raises(AzureAuthError, match="cannot load the certificate") as caught:
            keyvault_read(vault_of(azure_keyvault, creds), "x")
        assert "PRIVATE KEY" not in str(caught.value)
