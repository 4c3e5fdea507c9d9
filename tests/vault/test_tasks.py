"""The KV v2 and transit tasks against the session's OpenBao server."""

from __future__ import annotations

import json

import hvac
import pytest
from orch import flow
from orch.integration import NotFoundError
from orch_vault import (
    VaultCheckAndSetError,
    VaultCredentials,
    VaultNotFoundError,
    VaultSecret,
    vault_decrypt,
    vault_delete,
    vault_destroy,
    vault_encrypt,
    vault_list,
    vault_patch,
    vault_read,
    vault_write,
)

from .conftest import unique


def test_write_then_read_the_latest_a_version_or_one_key(
    approle_creds: VaultCredentials, path: str
) -> None:
    assert vault_write.fn(approle_creds, path, {"user": "etl", "password": "one"}) == 1
    assert vault_write.fn(approle_creds, path, {"user": "etl", "password": "two"}) == 2
    assert vault_read.fn(approle_creds, path) == {"user": "etl", "password": "two"}
    assert vault_read.fn(approle_creds, path, "password", version=1) == "one"
    assert vault_read.fn(approle_creds, f"/{path}/", "password") == "two"


def test_the_tasks_run_in_a_flow(creds: VaultCredentials, path: str) -> None:
    @flow
    def rotate() -> str:
        vault_write(creds, path, {"password": "old"})
        vault_patch(creds, path, {"password": "new"})
        return str(vault_read(creds, path, "password"))

    assert rotate() == "new"


def test_check_and_set(creds: VaultCredentials, path: str) -> None:
    assert vault_write.fn(creds, path, {"a": 1}, cas=0) == 1
    with pytest.raises(VaultCheckAndSetError) as info:
        vault_write.fn(creds, path, {"a": 2}, cas=0)
    assert f"secret/{path}" in str(info.value)
    assert vault_write.fn(creds, path, {"a": 2}, cas=1) == 2
    with pytest.raises(VaultCheckAndSetError):
        vault_write.fn(creds, path, {"a": 3}, cas=1)
    assert vault_read.fn(creds, path, "a") == 2


def test_patch_keeps_the_other_keys(creds: VaultCredentials, path: str) -> None:
    vault_write.fn(creds, path, {"user": "etl", "password": "old"})
    assert vault_patch.fn(creds, path, {"password": "new"}) == 2
    assert vault_read.fn(creds, path) == {"user": "etl", "password": "new"}
    assert vault_patch.fn(creds, path, {"user": None}) == 3
    assert vault_read.fn(creds, path) == {"password": "new"}


def test_patch_of_a_missing_secret_is_not_found(creds: VaultCredentials, path: str) -> None:
    with pytest.raises(NotFoundError) as info:
        vault_patch.fn(creds, path, {"a": 1})
    assert f"secret/{path}" in str(info.value)


def test_list_a_folder(creds: VaultCredentials) -> None:
    folder = unique("orch/list")
    vault_write.fn(creds, f"{folder}/b", {"x": 1})
    vault_write.fn(creds, f"{folder}/a", {"x": 1})
    vault_write.fn(creds, f"{folder}/sub/c", {"x": 1})
    assert vault_list.fn(creds, folder) == ["a", "b", "sub/"]
    assert vault_list.fn(creds, f"{folder}/nothing-here") == []


def test_delete_is_soft_and_destroy_is_not(
    creds: VaultCredentials, root: hvac.Client, path: str
) -> None:
    for value in ("v1", "v2", "v3"):
        vault_write.fn(creds, path, {"k": value})
    vault_delete.fn(creds, path)  # the latest
    with pytest.raises(VaultNotFoundError):
        vault_read.fn(creds, path)
    vault_delete.fn(creds, path, versions=[1])
    with pytest.raises(VaultNotFoundError):
        vault_read.fn(creds, path, version=1)
    assert vault_read.fn(creds, path, "k", version=2) == "v2"
    root.secrets.kv.v2.undelete_secret_versions(path=path, versions=[1, 3])
    assert vault_read.fn(creds, path, "k") == "v3"  # soft: recovered

    vault_destroy.fn(creds, path, versions=[2])
    meta = root.secrets.kv.v2.read_secret_metadata(path=path)["data"]["versions"]
    assert meta["2"]["destroyed"] is True
    assert vault_read.fn(creds, path, "k", version=1) == "v1"
    vault_destroy.fn(creds, path)  # everything, metadata included
    with pytest.raises(hvac.exceptions.InvalidPath):
        root.secrets.kv.v2.read_secret_metadata(path=path)


def test_a_missing_path_or_key_is_not_found_naming_it(creds: VaultCredentials, path: str) -> None:
    creds.save("vault-dev")
    saved = VaultCredentials.load("vault-dev")
    with pytest.raises(VaultNotFoundError) as info:
        vault_read.fn(saved, path)
    assert (
        str(info.value) == f"vault_read: no secret at vault-credentials/vault-dev at secret/{path}"
    )
    assert isinstance(info.value, LookupError)
    vault_write.fn(saved, path, {"user": "etl", "password": "Sup3r-Secret-Value"})
    with pytest.raises(VaultNotFoundError) as info:
        vault_read.fn(saved, path, "pasword")
    message = str(info.value)
    assert "has no key 'pasword' (keys: password, user)" in message
    assert "Sup3r-Secret-Value" not in message
    with pytest.raises(VaultNotFoundError):
        vault_read.fn(saved, path, version=7)


def test_bad_arguments_are_refused(creds: VaultCredentials) -> None:
    with pytest.raises(ValueError, match="path must name a path"):
        vault_read.fn(creds, "//")
    with pytest.raises(ValueError, match="versions is empty"):
        vault_delete.fn(creds, "x", versions=[])


def test_transit_encrypt_then_decrypt(creds: VaultCredentials, root: hvac.Client) -> None:
    key = unique("orders")
    root.secrets.transit.create_key(name=key)
    token = vault_encrypt.fn(creds, key, b"4111-1111-1111-1111")
    assert token.startswith("vault:v1:")
    assert "4111" not in token
    assert vault_decrypt.fn(creds, key, token) == b"4111-1111-1111-1111"
    assert vault_decrypt.fn(creds, key, vault_encrypt.fn(creds, key, "text")) == b"text"


def test_vault_secret_is_a_secret_store(creds: VaultCredentials, path: str) -> None:
    secret = VaultSecret(credentials=creds, mount="/secret/", path=path)
    assert secret.write_secret(b'{"password": "pw-1"}') == f"secret/{path}"
    assert json.loads(secret.read_secret()) == {"password": "pw-1"}
    secret.save("app")
    loaded = VaultSecret.load("app")
    assert json.loads(loaded.read_secret()) == {"password": "pw-1"}
    assert loaded.delete_secret() == f"secret/{path}"
    with pytest.raises(VaultNotFoundError) as info:
        loaded.read_secret()
    assert f"secret/{path}" in str(info.value)
    with pytest.raises(ValueError, match="must be a JSON object"):
        loaded.write_secret(b"[1, 2]")
