"""Fixtures of the orch-gcp tests: credentials pointing at the session's emulators and the
fake Secret Manager, and a throwaway service-account key."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from orch_gcp import GcpCredentials, GcsBucket

PROJECT = "orch-test"


@pytest.fixture(autouse=True)
def _no_host_gcp_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """Only what a test sets reaches google.auth: never this machine's ADC or metadata."""
    for name in (
        "GOOGLE_APPLICATION_CREDENTIALS",
        "GOOGLE_CLOUD_PROJECT",
        "GCLOUD_PROJECT",
        "STORAGE_EMULATOR_HOST",
        "ORCH_GCP_CREDENTIALS_BLOCK",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")
    monkeypatch.setenv("GCE_METADATA_IP", "127.0.0.1:9")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def gcs_creds(gcs_server: str) -> GcpCredentials:
    return GcpCredentials(anonymous=True, project=PROJECT, endpoints={"storage": gcs_server})


@pytest.fixture
def bucket(gcs_creds: GcpCredentials) -> GcsBucket:
    """A fresh bucket, with a folder, for one test."""
    name = unique("orch-test")
    gcs_creds.get_client("storage").create_bucket(name)
    return GcsBucket(bucket=name, credentials=gcs_creds, bucket_folder="data")


@pytest.fixture
def sm_creds(gcp_secret_manager: Any) -> GcpCredentials:
    return GcpCredentials(
        anonymous=True, project=PROJECT, endpoints={"secretmanager": gcp_secret_manager.url}
    )


@pytest.fixture(scope="session")
def private_key_pem() -> str:
    """A throwaway RSA key (PEM, PKCS#8), as a service-account key holds."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture
def service_account_info(private_key_pem: str, gcp_secret_manager: Any) -> dict[str, str]:
    """A service-account key whose token endpoint is the fake's ``/token``."""
    return {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "k" * 40,
        "private_key": private_key_pem,
        "client_email": f"loader@{PROJECT}.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "token_uri": f"{gcp_secret_manager.url}/token",
    }


def dump(info: dict[str, str]) -> str:
    return json.dumps(info)
