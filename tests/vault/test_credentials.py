"""VaultCredentials: the auth choice is validated, and the client logs in once per process
and credentials, again only when the server refuses its token, and renews its token."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import hvac
import pytest
from orch.errors import BlockValidationError
from orch_vault import VaultAuthError, VaultConnectionError, VaultCredentials, vault_read
from orch_vault.tasks import vault_write
from pydantic import ValidationError

from tests.backends.service import free_port
from tests.backends.vault import VaultServer

from .conftest import unique

URL = "http://127.0.0.1:8200"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "auth_method 'token' needs token"),
        ({"auth_method": "approle", "role_id": "r"}, "auth_method 'approle' needs secret_id"),
        ({"auth_method": "userpass", "username": "u"}, "needs password"),
        ({"auth_method": "jwt", "role": "r"}, "auth_method 'jwt' needs jwt"),
        ({"auth_method": "kubernetes"}, "auth_method 'kubernetes' needs role"),
        (
            {"token": "t", "role_id": "r", "username": "u"},
            "role_id, username belong(s) to another auth method than 'token'",
        ),
        (
            {"auth_method": "userpass", "username": "u", "password": "p", "secret_id": "s"},
            "secret_id belong(s) to another auth method than 'userpass'",
        ),
        ({"token": "t", "auth_mount": "x"}, "auth_mount is not used with auth_method 'token'"),
        ({"token": "t", "verify": False, "ca_cert": "/ca.pem"}, "ca_cert is given but verify"),
    ],
)
def test_the_auth_choice_is_validated(fields: dict[str, Any], message: str) -> None:
    with pytest.raises((ValidationError, BlockValidationError)) as info:
        VaultCredentials(url=URL, **fields)
    assert message in str(info.value)


def test_every_method_is_accepted_with_its_fields() -> None:
    assert VaultCredentials(url=URL, token="t").mount is None
    approle = VaultCredentials(url=URL, auth_method="approle", role_id="r", secret_id="s")
    assert approle.mount == "approle"
    custom = VaultCredentials(
        url=URL, auth_method="userpass", username="u", password="p", auth_mount="/corp-ldap/"
    )
    assert custom.mount == "corp-ldap"
    k8s = VaultCredentials(url=URL, auth_method="kubernetes", role="etl", jwt_path="/t")
    assert k8s.mount == "kubernetes"
    assert VaultCredentials(url=URL, auth_method="jwt", role="etl", jwt="ey.x.y").mount == "jwt"


def _accessors(root: hvac.Client) -> set[str]:
    return set(root.auth.token.list_accessors()["data"]["keys"])


def test_100_reads_make_one_login(
    approle_creds: VaultCredentials, root: hvac.Client, path: str
) -> None:
    vault_write.fn(approle_creds, path, {"password": "pw"})  # logs in
    before = _accessors(root)
    # equal blocks (a copy, a reload) share the process's one client
    for i in range(100):
        block = approle_creds if i % 2 else approle_creds.model_copy()
        assert vault_read.fn(block, path, "password") == "pw"
    assert _accessors(root) == before  # the server issued no new token
    assert approle_creds.get_client().logins == 1


def test_a_revoked_token_is_replaced_by_one_new_login(
    approle_creds: VaultCredentials, root: hvac.Client, path: str
) -> None:
    vault_write.fn(approle_creds, path, {"k": "v"})
    client = approle_creds.get_client()
    root.auth.token.revoke(client.hvac.token)
    before = _accessors(root)
    for _ in range(10):
        assert vault_read.fn(approle_creds, path, "k") == "v"
    assert len(_accessors(root) - before) == 1
    assert client.logins == 2


def test_a_policy_refusal_is_an_auth_error_without_a_new_login(
    vault_server: VaultServer, root: hvac.Client, path: str
) -> None:
    policy = unique("only-allowed")
    root.sys.create_or_update_policy(
        name=policy, policy='path "secret/data/allowed/*" { capabilities = ["read"] }'
    )
    role = unique("limited")
    root.auth.approle.create_or_update_approle(role_name=role, token_policies=[policy])
    role_id = root.auth.approle.read_role_id(role_name=role)["data"]["role_id"]
    secret_id = root.auth.approle.generate_secret_id(role_name=role)["data"]["secret_id"]
    creds = VaultCredentials(
        url=vault_server.url, auth_method="approle", role_id=role_id, secret_id=secret_id
    )
    creds.save("limited")
    creds = VaultCredentials.load("limited")
    root.secrets.kv.v2.create_or_update_secret(path=path, secret={"k": "v"})
    for _ in range(3):
        with pytest.raises(VaultAuthError) as info:
            vault_read.fn(creds, path)
        message = str(info.value)
        assert "permission denied" in message
        assert f"vault-credentials/limited at secret/{path}" in message
        token = creds.get_client().hvac.token
        assert secret_id not in message and token not in message
    assert isinstance(info.value, PermissionError)
    assert creds.get_client().logins == 1


def test_a_wrong_secret_id_is_an_auth_error_naming_the_block_not_the_secret(
    vault_server: VaultServer, approle: dict[str, Any]
) -> None:
    wrong = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    VaultCredentials(
        url=vault_server.url, auth_method="approle", role_id=approle["role_id"], secret_id=wrong
    ).save("etl")
    creds = VaultCredentials.load("etl")
    with pytest.raises(VaultAuthError) as info:
        creds.get_client()
    message = str(info.value)
    assert "login refused (approle, vault-credentials/etl" in message
    assert wrong not in message and approle["secret_id"] not in message


def test_a_wrong_password_is_an_auth_error(
    vault_server: VaultServer, userpass: tuple[str, str], path: str
) -> None:
    name, password = userpass
    good = VaultCredentials(
        url=vault_server.url, auth_method="userpass", username=name, password=password
    )
    assert vault_write.fn(good, path, {"a": 1}) == 1
    bad = VaultCredentials(
        url=vault_server.url, auth_method="userpass", username=name, password="wrong-Pass-1"
    )
    with pytest.raises(VaultAuthError) as info:
        vault_read.fn(bad, path)
    assert "login refused (userpass" in str(info.value)
    assert "wrong-Pass-1" not in str(info.value)


def test_a_revoked_plain_token_says_so(vault_server: VaultServer, root: hvac.Client) -> None:
    token = root.auth.token.create(policies=["default"], ttl="1h")["auth"]["client_token"]
    creds = VaultCredentials(url=vault_server.url, token=token)
    root.auth.token.revoke(token)
    with pytest.raises(VaultAuthError) as info:
        vault_read.fn(creds, "anything")
    assert "refused (expired or revoked)" in str(info.value)
    assert token not in str(info.value)


def test_an_unreachable_server_is_a_connect_error() -> None:
    creds = VaultCredentials(url=f"http://127.0.0.1:{free_port()}", token="t", timeout=2)
    with pytest.raises(VaultConnectionError) as info:
        vault_read.fn(creds, "app")
    assert "cannot reach the server" in str(info.value)
    assert "secret/app" in str(info.value)


def test_the_login_token_is_renewed_before_it_expires(
    vault_server: VaultServer, root: hvac.Client, rw_policy: str, path: str
) -> None:
    role = unique("short")
    root.auth.approle.create_or_update_approle(
        role_name=role, token_policies=[rw_policy], token_ttl="3s", token_max_ttl="1m"
    )
    creds = VaultCredentials(
        url=vault_server.url,
        auth_method="approle",
        role_id=root.auth.approle.read_role_id(role_name=role)["data"]["role_id"],
        secret_id=root.auth.approle.generate_secret_id(role_name=role)["data"]["secret_id"],
    )
    vault_write.fn(creds, path, {"k": "v"})
    client = creds.get_client()
    first = client.hvac.token
    for _ in range(6):  # 4.5 s: past the 3 s TTL of the first lease (renewed at 2/3)
        time.sleep(0.75)
        assert vault_read.fn(creds, path, "k") == "v"
    assert client.renewals >= 1
    assert client.logins == 1
    assert client.hvac.token == first


def test_importing_the_package_loads_no_sdk_and_no_block_module() -> None:
    probe = (
        "import sys, orch_vault\n"
        "print([m for m in ('hvac', 'requests', 'pydantic', 'orch_vault.credentials',"
        " 'orch_vault.connector') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_sealed_server_is_a_connect_error(sealed_vault_server: VaultServer) -> None:
    token = sealed_vault_server.root_token
    VaultCredentials(url=sealed_vault_server.url, token=token).save("sealed")
    creds = VaultCredentials.load("sealed")
    with pytest.raises(VaultConnectionError) as info:
        vault_read.fn(creds, "app/db")
    message = str(info.value)
    assert "the server is sealed or unavailable (vault-credentials/sealed at secret/app/db)" in (
        message
    )
    assert info.value.code == "503"


def test_a_given_renewable_token_is_renewed_before_it_expires(
    vault_server: VaultServer, root: hvac.Client, rw_policy: str, path: str
) -> None:
    token = root.auth.token.create(
        policies=[rw_policy], ttl="3s", explicit_max_ttl="1m", renewable=True
    )["auth"]["client_token"]
    creds = VaultCredentials(url=vault_server.url, token=token)
    vault_write.fn(creds, path, {"k": "v"})
    for _ in range(6):  # 4.5 s: past the token's first 3 s TTL
        time.sleep(0.75)
        assert vault_read.fn(creds, path, "k") == "v"
    assert creds.get_client().renewals >= 1
