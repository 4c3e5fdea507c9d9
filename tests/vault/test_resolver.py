"""The ``vault://`` resolver against OpenBao: which credentials, versions, keys, the
TTL cache (one read per burst), and the loop and bad-reference errors."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import hvac
import pytest
from orch import SecretRef
from orch.errors import SecretReferenceError
from orch_vault import VaultCredentials, vault_write

from tests.backends.service import Service
from tests.backends.vault import VaultServer


@contextmanager
def count_requests(credentials: VaultCredentials) -> Iterator[list[str]]:
    """The HTTP requests the credentials' shared client really sends (a requests hook)."""
    seen: list[str] = []
    hooks = credentials.get_client().hvac.adapter.session.hooks["response"]

    def hook(response: Any, *args: Any, **kwargs: Any) -> None:
        seen.append(f"{response.request.method} {response.request.path_url}")

    hooks.append(hook)
    try:
        yield seen
    finally:
        hooks.remove(hook)


@pytest.fixture
def saved(approle_creds: VaultCredentials, monkeypatch: pytest.MonkeyPatch) -> VaultCredentials:
    approle_creds.save("vault-prod")
    monkeypatch.setenv("ORCH_VAULT_CREDENTIALS_BLOCK", "vault-prod")
    return approle_creds


def test_a_key_the_whole_dict_and_a_version(saved: VaultCredentials, path: str) -> None:
    vault_write.fn(saved, path, {"user": "etl", "password": "one"})
    vault_write.fn(saved, path, {"user": "etl", "password": "two"})
    assert SecretRef(f"vault://secret/{path}#password").resolve() == "two"
    assert SecretRef(f"vault://secret/{path}").resolve() == {"user": "etl", "password": "two"}
    assert SecretRef(f"vault://secret/{path}?version=1#password").resolve() == "one"
    # the order issue 17 writes
    assert SecretRef(f"vault://secret/{path}#password?version=1").resolve() == "one"


def test_vault_addr_and_token(
    vault_server: VaultServer, creds: VaultCredentials, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault_write.fn(creds, path, {"password": "pw"})
    monkeypatch.setenv("VAULT_ADDR", vault_server.url)
    monkeypatch.setenv("VAULT_TOKEN", vault_server.root_token)
    assert SecretRef(f"vault://secret/{path}#password").resolve() == "pw"


def test_no_credentials_says_what_to_set() -> None:
    with pytest.raises(SecretReferenceError, match="set ORCH_VAULT_CREDENTIALS_BLOCK"):
        SecretRef("vault://secret/app#password").resolve()


def test_a_block_that_is_not_saved(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCH_VAULT_CREDENTIALS_BLOCK", "nope")
    with pytest.raises(SecretReferenceError, match="ORCH_VAULT_CREDENTIALS_BLOCK is 'nope'"):
        SecretRef("vault://secret/app#password").resolve()


def test_a_burst_of_resolutions_makes_one_read(saved: VaultCredentials, path: str) -> None:
    vault_write.fn(saved, path, {"password": "pw"})
    ref = f"vault://secret/{path}#password"
    results: list[object] = []
    with count_requests(saved) as seen:
        threads = [
            threading.Thread(target=lambda: results.append(SecretRef(ref).resolve()))
            for _ in range(20)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for _ in range(100):
            results.append(SecretRef(ref).resolve())
    assert results == ["pw"] * 120
    assert seen == [f"GET /v1/secret/data/{path}"]  # no login, one read
    assert saved.get_client().logins == 1


def test_a_missing_secret_or_key(saved: VaultCredentials, path: str) -> None:
    with pytest.raises(SecretReferenceError) as info:
        SecretRef(f"vault://secret/{path}#password").resolve()
    message = str(info.value)
    assert f"vault://secret/{path}#password does not exist" in message
    assert f"vault-credentials/vault-prod at secret/{path}" in message
    vault_write.fn(saved, path, {"password": "pw"})
    with pytest.raises(SecretReferenceError, match="has no key 'pasword'"):
        SecretRef(f"vault://secret/{path}#pasword").resolve()
    with pytest.raises(SecretReferenceError, match="has no key 'pasword'"):
        SecretRef(f"vault://secret/{path}#pasword?version=1").resolve()


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("vault://secret/app?region=x#k", "unknown parameter(s) region"),
        ("vault://secret/app?version=two#k", "version must be a whole number, not 'two'"),
        ("vault://secret#k", "write vault://MOUNT/PATH#KEY"),
    ],
)
def test_bad_references(saved: VaultCredentials, ref: str, message: str) -> None:
    with pytest.raises(SecretReferenceError) as info:
        SecretRef(ref).resolve()
    assert message in str(info.value)


def test_credentials_holding_their_own_secret_as_vault_is_a_loop(
    vault_server: VaultServer,
    approle: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    VaultCredentials(
        url=vault_server.url,
        auth_method="approle",
        role_id=approle["role_id"],
        secret_id=SecretRef("vault://secret/bootstrap#secret_id"),
    ).save("loopy")
    monkeypatch.setenv("ORCH_VAULT_CREDENTIALS_BLOCK", "loopy")
    done: list[BaseException] = []

    def resolve() -> None:
        try:
            SecretRef("vault://secret/app#password").resolve()
        except BaseException as exc:
            done.append(exc)

    thread = threading.Thread(target=resolve, daemon=True)
    thread.start()
    thread.join(10)
    assert done, "the resolution hung instead of failing"
    message = str(done[0])
    assert isinstance(done[0], SecretReferenceError)
    assert "loop" in message
    assert "holds secret_id as vault://secret/bootstrap#secret_id" in message
    assert approle["secret_id"] not in message


def test_vault_down_a_cached_value_serves_until_its_ttl_then_the_error_says_unreachable(
    own_vault_server: tuple[Service, VaultServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from orch.secrets import references

    service, server = own_vault_server
    hvac.Client(url=server.url, token=server.root_token).secrets.kv.v2.create_or_update_secret(
        path="app/db", secret={"password": "pw"}
    )
    VaultCredentials(url=server.url, token=server.root_token, timeout=2).save("own")
    monkeypatch.setenv("ORCH_VAULT_CREDENTIALS_BLOCK", "own")
    references.set_cache_ttl(1.5)
    ref = SecretRef("vault://secret/app/db#password")
    assert ref.resolve() == "pw"
    service.stop()
    started = time.monotonic()
    assert ref.resolve() == "pw"  # within the TTL: the cached value, Vault not asked
    time.sleep(max(0.0, 1.6 - (time.monotonic() - started)))
    began = time.monotonic()
    with pytest.raises(SecretReferenceError) as info:
        ref.resolve()
    assert "cannot reach the server (vault-credentials/own at secret/app/db)" in str(info.value)
    assert time.monotonic() - began < 5  # a refused connection fails fast, no retry storm
