"""GcpCredentials: the ways to authenticate (a key in memory, a key file, ADC, anonymous),
the impersonation chain, endpoint overrides, the client cache and bad input.

Token exchanges happen for real: the key signs a JWT that the fake's ``/token`` trades
for a token, and impersonation calls the fake IAM Credentials endpoint.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from orch import SecretRef
from orch.errors import BlockValidationError
from orch_gcp import (
    GcpAuthError,
    GcpCredentials,
    GcsBucket,
    gcp_secret_read,
    gcp_secret_write,
    gcs_list,
)

from .conftest import PROJECT, unique

_watching: list[tuple[str, str]] = []
_watch_on = False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    # Every file opened for writing while _watch_on (audit hooks cannot be removed).
    if _watch_on and event == "open" and len(args) >= 2:
        path, mode = args[0], args[1]
        if isinstance(mode, str) and any(c in mode for c in "wax+"):
            _watching.append((str(path), mode))
        elif isinstance(args[2] if len(args) > 2 else None, int) and args[2] & 0o3:
            _watching.append((str(path), str(args[2])))


sys.addaudithook(_audit)


def test_a_key_in_memory_gets_a_token_and_is_never_written_to_a_file(
    service_account_info: dict[str, str], gcp_secret_manager: Any, tmp_path: Path
) -> None:
    global _watch_on
    creds = GcpCredentials(
        service_account_info=service_account_info,
        endpoints={"secretmanager": gcp_secret_manager.url},
    )
    name = unique("sa")
    _watching.clear()
    _watch_on = True
    try:
        gcp_secret_write.fn(creds, name, "value")
        assert gcp_secret_read.fn(creds, name) == "value"
    finally:
        _watch_on = False
    assert _watching == [], f"files written while authenticating: {_watching}"
    # the project came from the key; the calls carried the token the key earned
    assert f"projects/{PROJECT}/secrets/{name}" in gcp_secret_manager.secrets
    call = [c for c in gcp_secret_manager.calls if f"/secrets/{name}/versions/" in c.path][-1]
    assert signed_by(call.token, service_account_info)
    # and the block shows no key material
    text = f"{creds!r} {creds.model_dump()} {creds.model_dump_json()}"
    assert service_account_info["private_key"][40:80] not in text


def signed_by(token: str | None, info: dict[str, str]) -> bool:
    """Whether ``token`` is one the key earned: a token from the token endpoint, or (what
    Google's gRPC/REST clients do with a key) a JWT the key signed itself."""
    if token == f"sa-token-for-{info['client_email']}":
        return True
    from cryptography.hazmat.primitives import serialization
    from google.auth import jwt

    private = serialization.load_pem_private_key(info["private_key"].encode(), password=None)
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = jwt.decode(token or "", certs=pem, verify=True, audience=None)
    return bool(claims["iss"] == info["client_email"])


def test_a_key_file(
    service_account_info: dict[str, str], gcp_secret_manager: Any, tmp_path: Path
) -> None:
    key = tmp_path / "key.json"
    key.write_text(json.dumps(service_account_info))
    creds = GcpCredentials(
        service_account_file=str(key), endpoints={"secretmanager": gcp_secret_manager.url}
    )
    name = unique("file")
    gcp_secret_write.fn(creds, name, "v")
    assert gcp_secret_read.fn(creds, name) == "v"
    missing = GcpCredentials(service_account_file=str(tmp_path / "none.json"))
    with pytest.raises(FileNotFoundError, match=r"none.json"):
        missing.get_client("storage")


def test_an_impersonation_chain(
    service_account_info: dict[str, str], gcp_secret_manager: Any
) -> None:
    chain = [
        f"hop@{PROJECT}.iam.gserviceaccount.com",
        f"target@{PROJECT}.iam.gserviceaccount.com",
    ]
    creds = GcpCredentials(
        service_account_info=service_account_info,
        impersonate_chain=chain,
        endpoints={
            "secretmanager": gcp_secret_manager.url,
            "iamcredentials": gcp_secret_manager.url,
        },
    )
    name = unique("imp")
    gcp_secret_write.fn(creds, name, "v")
    iam = [c for c in gcp_secret_manager.calls if c.path.endswith(":generateAccessToken")][-1]
    assert chain[-1] in iam.path  # the target
    assert iam.body["delegates"] == [f"projects/-/serviceAccounts/{chain[0]}"]
    assert signed_by(iam.token, service_account_info)  # the source
    call = [c for c in gcp_secret_manager.calls if f"/secrets/{name}" in c.path][-1]
    assert call.token == f"impersonated-{chain[-1]}"
    # one account may be given as text, as Airflow allows
    assert GcpCredentials(impersonate_chain=chain[-1]).impersonate_chain == [chain[-1]]


def test_no_adc_is_one_clear_error(gcp_secret_manager: Any) -> None:
    creds = GcpCredentials(endpoints={"secretmanager": gcp_secret_manager.url})
    with pytest.raises(GcpAuthError, match=r"no Google credentials .*Application Default"):
        gcp_secret_read.fn(creds, "x", project=PROJECT)


def test_adc_from_a_key_file_variable(
    service_account_info: dict[str, str],
    gcp_secret_manager: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = tmp_path / "adc.json"
    key.write_text(json.dumps(service_account_info))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    creds = GcpCredentials(endpoints={"secretmanager": gcp_secret_manager.url})
    name = unique("adc")
    gcp_secret_write.fn(creds, name, "v")
    assert f"projects/{PROJECT}/secrets/{name}" in gcp_secret_manager.secrets


def test_a_refused_token_names_the_block_not_the_key(
    service_account_info: dict[str, str], gcp_secret_manager: Any, gcs_server: str
) -> None:
    # The storage client trades the key for a token first: the endpoint refuses it.
    info = {**service_account_info, "token_uri": f"{gcp_secret_manager.url}/no-token-here"}
    GcpCredentials(service_account_info=info, endpoints={"storage": gcs_server}).save("bad-key")
    bucket = GcsBucket(bucket="any-bucket", credentials=GcpCredentials.load("bad-key"))
    with pytest.raises(GcpAuthError) as info_:
        gcs_list.fn(bucket)
    message = str(info_.value)
    assert "bad-key" in message
    assert "PRIVATE KEY" not in message
    assert service_account_info["private_key_id"] not in message


def test_clients_are_cached_per_block_content(gcs_server: str) -> None:
    one = GcpCredentials(anonymous=True, project=PROJECT, endpoints={"storage": gcs_server})
    two = GcpCredentials(anonymous=True, project=PROJECT, endpoints={"storage": gcs_server})
    other = GcpCredentials(anonymous=True, project="else", endpoints={"storage": gcs_server})
    assert one.get_client("storage") is two.get_client("storage")
    assert one.get_client("storage") is not other.get_client("storage")
    assert one.get_client("storage").project == PROJECT


def test_endpoints_point_each_client_at_its_emulator(gcs_server: str) -> None:
    creds = GcpCredentials(anonymous=True, endpoints={"storage": gcs_server + "/"})
    assert creds.endpoint("storage") == gcs_server
    assert creds.get_client("storage").list_buckets(max_results=1) is not None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"service_account_info": {"a": 1}, "service_account_file": "k.json"},
            "not both",
        ),
        ({"anonymous": True, "service_account_file": "k.json"}, "anonymous sends no credentials"),
        ({"anonymous": True, "impersonate_chain": ["x@y"]}, "anonymous sends no credentials"),
        ({"endpoints": {"bigtable": "http://x"}}, "unknown service"),
        ({"endpoints": {"storage": "localhost:9000"}}, "http"),
        ({"impersonation_lifetime": 0}, "impersonation_lifetime"),
    ],
)
def test_bad_input_is_named(fields: dict[str, Any], message: str) -> None:
    with pytest.raises((BlockValidationError, ValueError), match=message):
        GcpCredentials(**fields)


def test_the_key_can_be_a_reference(
    service_account_info: dict[str, str],
    gcp_secret_manager: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GCP_SA_JSON", json.dumps(service_account_info))
    creds = GcpCredentials(
        service_account_info=SecretRef("env://GCP_SA_JSON"),
        endpoints={"secretmanager": gcp_secret_manager.url},
    )
    creds.save("from-env")
    loaded = GcpCredentials.load("from-env")
    name = unique("ref")
    gcp_secret_write.fn(loaded, name, "v")
    assert f"projects/{PROJECT}/secrets/{name}" in gcp_secret_manager.secrets
