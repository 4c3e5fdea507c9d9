"""Secret Manager tasks, the GcpSecret secret store and the ``gcp-sm://`` resolver, with
the real client (REST) against the fake of Secret Manager's API (tests/backends)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from orch import SecretRef
from orch.errors import SecretReferenceError
from orch.integration import AuthError, NotFoundError
from orch_gcp import (
    GcpCredentials,
    GcpNotFoundError,
    GcpSecret,
    gcp_secret_delete,
    gcp_secret_read,
    gcp_secret_write,
)

from .conftest import PROJECT, unique


def test_write_read_versions_and_delete(sm_creds: GcpCredentials) -> None:
    name = unique("pw")
    first = gcp_secret_write.fn(sm_creds, name, "one")
    assert first == f"projects/{PROJECT}/secrets/{name}/versions/1"
    gcp_secret_write.fn(sm_creds, name, b"two")
    assert gcp_secret_read.fn(sm_creds, name) == "two"
    assert gcp_secret_read.fn(sm_creds, name, version=1) == "one"
    assert gcp_secret_read.fn(sm_creds, f"projects/{PROJECT}/secrets/{name}") == "two"
    assert gcp_secret_delete.fn(sm_creds, name) == f"projects/{PROJECT}/secrets/{name}"
    with pytest.raises(GcpNotFoundError, match=rf"projects/{PROJECT}/secrets/{name}/versions"):
        gcp_secret_read.fn(sm_creds, name)


def test_binary_values(sm_creds: GcpCredentials) -> None:
    name = unique("bin")
    gcp_secret_write.fn(sm_creds, name, b"\xff\x00\xfe")
    assert gcp_secret_read.fn(sm_creds, name, as_bytes=True) == b"\xff\x00\xfe"
    with pytest.raises(Exception, match="not UTF-8 text: read it with as_bytes=True"):
        gcp_secret_read.fn(sm_creds, name)


def test_write_without_create_needs_the_secret(sm_creds: GcpCredentials) -> None:
    with pytest.raises(NotFoundError, match="does not exist"):
        gcp_secret_write.fn(sm_creds, unique("none"), "x", create=False)


def test_errors_name_the_secret_and_the_block(sm_creds: GcpCredentials) -> None:
    sm_creds.save("gcp-prod")
    creds = GcpCredentials.load("gcp-prod")
    with pytest.raises(GcpNotFoundError) as missing:
        gcp_secret_read.fn(creds, "no-such-secret")
    assert "projects/orch-test/secrets/no-such-secret" in str(missing.value)
    assert "gcp-prod" in str(missing.value)
    with pytest.raises(AuthError, match=r"permission denied on .*forbidden-1") as denied:
        gcp_secret_read.fn(creds, "forbidden-1")
    assert "http://" not in str(denied.value)  # the server's reason, not the request URL
    with pytest.raises(ValueError, match="a secret id has no '/'"):
        gcp_secret_read.fn(creds, "a/b")


def test_the_project_comes_from_the_credentials_or_the_call(
    gcp_secret_manager: Any,
) -> None:
    creds = GcpCredentials(anonymous=True, endpoints={"secretmanager": gcp_secret_manager.url})
    name = unique("proj")
    gcp_secret_write.fn(creds, name, "v", project="other-project")
    assert gcp_secret_read.fn(creds, name, project="other-project") == "v"
    assert f"projects/other-project/secrets/{name}" in gcp_secret_manager.secrets


def test_values_are_masked_in_logs(sm_creds: GcpCredentials) -> None:
    from orch.secrets.redaction import redact

    name = unique("masked")
    gcp_secret_write.fn(sm_creds, name, "p4ssw0rd-value")
    value = gcp_secret_read.fn(sm_creds, name)
    assert redact(f"the value is {value}") == "the value is **********"


def test_the_secret_store_role(sm_creds: GcpCredentials) -> None:
    secret = GcpSecret(secret_name=unique("role"), credentials=sm_creds)
    version = secret.write_secret(b"s3cret")
    assert version.endswith("/versions/1")
    assert secret.read_secret() == b"s3cret"
    assert secret.delete_secret() == f"projects/{PROJECT}/secrets/{secret.secret_name}"
    with pytest.raises(GcpNotFoundError):
        secret.read_secret()


# --- the gcp-sm:// resolver -----------------------------------------------------------------


@pytest.fixture
def saved(sm_creds: GcpCredentials, monkeypatch: pytest.MonkeyPatch) -> GcpCredentials:
    sm_creds.save("gcp-sm-reader")
    monkeypatch.setenv("ORCH_GCP_CREDENTIALS_BLOCK", "gcp-sm-reader")
    return sm_creds


def test_a_key_the_whole_text_and_a_version(saved: GcpCredentials) -> None:
    name = unique("wh")
    gcp_secret_write.fn(saved, name, '{"user": "etl", "password": "one"}')
    gcp_secret_write.fn(saved, name, '{"user": "etl", "password": "two"}')
    assert SecretRef(f"gcp-sm://{PROJECT}/{name}#password").resolve() == "two"
    assert SecretRef(f"gcp-sm://{PROJECT}/{name}?version=1#password").resolve() == "one"
    assert SecretRef(f"gcp-sm://{PROJECT}/{name}#password?version=1").resolve() == "one"
    whole = SecretRef(f"gcp-sm://{PROJECT}/{name}").resolve()
    assert whole == '{"user": "etl", "password": "two"}'


def test_a_burst_of_1000_resolutions_makes_one_api_call(
    saved: GcpCredentials, gcp_secret_manager: Any
) -> None:
    name = unique("burst")
    gcp_secret_write.fn(saved, name, '{"password": "pw"}')
    ref = f"gcp-sm://{PROJECT}/{name}#password"
    before = gcp_secret_manager.count("GET", f"/secrets/{name}/versions/")
    results: list[object] = []

    def resolve_many() -> None:
        for _ in range(100):
            results.append(SecretRef(ref).resolve())

    threads = [threading.Thread(target=resolve_many) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["pw"] * 1000
    assert gcp_secret_manager.count("GET", f"/secrets/{name}/versions/") - before == 1


def test_missing_secret_and_missing_key_name_the_reference(saved: GcpCredentials) -> None:
    with pytest.raises(
        SecretReferenceError, match=rf"gcp-sm://{PROJECT}/nothing-here.* does not exist"
    ):
        SecretRef(f"gcp-sm://{PROJECT}/nothing-here#password").resolve()
    name = unique("nokey")
    gcp_secret_write.fn(saved, name, '{"user": "etl"}')
    with pytest.raises(SecretReferenceError, match=rf"gcp-sm://{PROJECT}/{name}#password"):
        SecretRef(f"gcp-sm://{PROJECT}/{name}#password").resolve()
    with pytest.raises(SecretReferenceError, match="no key 'password'"):
        SecretRef(f"gcp-sm://{PROJECT}/{name}#password?version=1").resolve()


def test_bad_references_say_how_to_write_one(saved: GcpCredentials) -> None:
    with pytest.raises(SecretReferenceError, match="write gcp-sm://PROJECT/SECRET"):
        SecretRef("gcp-sm://only-a-project").resolve()
    with pytest.raises(SecretReferenceError, match="unknown parameter"):
        SecretRef(f"gcp-sm://{PROJECT}/x?stage=AWSCURRENT").resolve()
    with pytest.raises(SecretReferenceError, match="a number or 'latest'"):
        SecretRef(f"gcp-sm://{PROJECT}/x?version=first").resolve()


def test_without_a_block_adc_is_used_and_its_absence_is_explained() -> None:
    with pytest.raises(SecretReferenceError, match="no Google credentials"):
        SecretRef(f"gcp-sm://{PROJECT}/anything").resolve()


def test_a_block_that_is_not_saved(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCH_GCP_CREDENTIALS_BLOCK", "nope")
    with pytest.raises(SecretReferenceError, match="ORCH_GCP_CREDENTIALS_BLOCK is 'nope'"):
        SecretRef(f"gcp-sm://{PROJECT}/anything").resolve()


def test_credentials_that_need_gcp_sm_themselves_are_a_loop(
    monkeypatch: pytest.MonkeyPatch, gcp_secret_manager: Any
) -> None:
    GcpCredentials(
        service_account_info=SecretRef(f"gcp-sm://{PROJECT}/sa-key"),
        endpoints={"secretmanager": gcp_secret_manager.url},
    ).save("loopy")
    monkeypatch.setenv("ORCH_GCP_CREDENTIALS_BLOCK", "loopy")
    with pytest.raises(SecretReferenceError, match="a loop"):
        SecretRef(f"gcp-sm://{PROJECT}/anything").resolve()
