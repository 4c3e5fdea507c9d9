"""The ``azure-kv://`` resolver against the fake Key Vault: which credentials, versions,
JSON keys, one vault call per burst (a 500-task flow), and the loop and bad-reference
errors."""

from __future__ import annotations

import json
import threading

import pytest
from orch import SecretRef, flow, task
from orch.errors import SecretReferenceError
from orch_azure import AzureCredentials, keyvault_write

from tests.backends.azure_keyvault import CLIENT_ID, CLIENT_SECRET, TENANT, FakeKeyVault

from .conftest import unique
from .test_keyvault import sp_credentials, vault_of


@pytest.fixture(autouse=True)
def _trust_the_fake(azure_keyvault: FakeKeyVault, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", azure_keyvault.ca_path)


@pytest.fixture
def saved(azure_keyvault: FakeKeyVault, monkeypatch: pytest.MonkeyPatch) -> AzureCredentials:
    creds = sp_credentials(azure_keyvault)
    creds.save("azure-prod")
    monkeypatch.setenv("ORCH_AZURE_CREDENTIALS_BLOCK", "azure-prod")
    return creds


def ref_of(kv: FakeKeyVault, name: str, rest: str = "") -> str:
    # The fake answers on 127.0.0.1: the vault is given by URL, without the domain check.
    query = "verify_challenge_resource=false"
    params, _, key = rest.partition("#")
    params = params.lstrip("?")
    joined = f"{params}&{query}" if params else query
    return f"azure-kv://{kv.url}/{name}?{joined}" + (f"#{key}" if key else "")


def test_value_json_key_and_version(saved: AzureCredentials, azure_keyvault: FakeKeyVault) -> None:
    vault = vault_of(azure_keyvault, saved)
    name = unique("db")
    first = keyvault_write(vault, name, json.dumps({"user": "etl", "password": "pw1"}))
    keyvault_write(vault, name, json.dumps({"user": "etl", "password": "pw2"}))
    assert SecretRef(ref_of(azure_keyvault, name, "#password")).resolve() == "pw2"
    assert SecretRef(ref_of(azure_keyvault, name, f"?version={first}#password")).resolve() == (
        "pw1"
    )
    plain = unique("plain")
    keyvault_write(vault, plain, "just text")
    assert SecretRef(ref_of(azure_keyvault, plain)).resolve() == "just text"


def test_default_azure_credential_when_no_block_is_named(
    azure_keyvault: FakeKeyVault, monkeypatch: pytest.MonkeyPatch, saved: AzureCredentials
) -> None:
    name = unique("dac")
    keyvault_write(vault_of(azure_keyvault, saved), name, "from the environment")
    monkeypatch.delenv("ORCH_AZURE_CREDENTIALS_BLOCK")
    monkeypatch.setenv("AZURE_TENANT_ID", TENANT)
    monkeypatch.setenv("AZURE_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", azure_keyvault.authority)
    # DefaultAzureCredential finds the service principal in the environment, but asks the
    # public cloud's instance discovery about the fake's authority (the environment cannot
    # turn that off): unreachable here, so the error shows which credential was used.
    with pytest.raises(SecretReferenceError) as caught:
        SecretRef(ref_of(azure_keyvault, name)).resolve()
    message = str(caught.value)
    assert "DefaultAzureCredential" in message and "default" in message
    assert CLIENT_SECRET not in message


def test_a_500_task_flow_reading_one_secret_makes_one_vault_call(
    saved: AzureCredentials, azure_keyvault: FakeKeyVault
) -> None:
    name = unique("burst")
    keyvault_write(vault_of(azure_keyvault, saved), name, "pw")
    ref = ref_of(azure_keyvault, name)
    azure_keyvault.reset_calls()
    azure_keyvault.delay = 0.2  # every call overlaps with the others

    @task
    def use_secret(i: int) -> int:
        return len(str(SecretRef(ref).resolve())) + i * 0

    @flow
    def burst() -> list[int]:
        return [f.result() for f in [use_secret.submit(i) for i in range(500)]]

    try:
        assert burst() == [2] * 500
    finally:
        azure_keyvault.delay = 0.0
    assert azure_keyvault.calls[("GET", "get_secret")] == 1


def test_missing_secret_and_bad_references(
    saved: AzureCredentials, azure_keyvault: FakeKeyVault
) -> None:
    with pytest.raises(SecretReferenceError, match="does not exist") as caught:
        SecretRef(ref_of(azure_keyvault, "no-such-secret")).resolve()
    assert "no such secret" in str(caught.value)
    for ref, message in (
        ("azure-kv://acme", "write azure-kv://VAULT/SECRET"),
        ("azure-kv://acme/bad_name", "not a Key Vault secret name"),
        ("azure-kv://acme/db?region=x", "unknown parameter(s) region"),
        ("azure-kv://acme/db?verify_challenge_resource=maybe", "must be true or false"),
    ):
        with pytest.raises(
            SecretReferenceError, match=message.replace("(", r"\(").replace(")", r"\)")
        ):
            SecretRef(ref).resolve()


def test_a_block_that_is_not_saved(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCH_AZURE_CREDENTIALS_BLOCK", "nope")
    with pytest.raises(SecretReferenceError, match="ORCH_AZURE_CREDENTIALS_BLOCK is 'nope'"):
        SecretRef("azure-kv://acme/db").resolve()


def test_credentials_holding_their_own_secret_as_azure_kv_is_a_loop(
    azure_keyvault: FakeKeyVault, monkeypatch: pytest.MonkeyPatch
) -> None:
    sp_credentials(
        azure_keyvault,
        client_secret=SecretRef("azure-kv://acme/bootstrap"),  # type: ignore[arg-type]
    ).save("loopy")
    monkeypatch.setenv("ORCH_AZURE_CREDENTIALS_BLOCK", "loopy")
    done: list[BaseException] = []

    def resolve() -> None:
        try:
            SecretRef("azure-kv://acme/app").resolve()
        except BaseException as exc:
            done.append(exc)

    thread = threading.Thread(target=resolve, daemon=True)
    thread.start()
    thread.join(10)
    assert done, "the resolution hung instead of failing"
    assert isinstance(done[0], SecretReferenceError)
    assert "loop" in str(done[0])
    assert "holds client_secret as azure-kv://acme/bootstrap" in str(done[0])


def test_split_reference_forms() -> None:
    from orch_azure.resolver import split_reference

    assert split_reference(SecretRef("azure-kv://acme/db")) == (
        "https://acme.vault.azure.net",
        "db",
        None,
    )
    assert split_reference(SecretRef("azure-kv://acme.vault.azure.cn/db?version=v1")) == (
        "https://acme.vault.azure.cn",
        "db",
        "v1",
    )
    assert split_reference(SecretRef("azure-kv://https://127.0.0.1:8443/db")) == (
        "https://127.0.0.1:8443",
        "db",
        None,
    )
